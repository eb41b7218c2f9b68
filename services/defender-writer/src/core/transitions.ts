// A state type's allowed moves, as a table: the one place a component's modes are drawn.

export type TransitionTable<S extends string> = { readonly [K in S]: readonly S[] };

/** Throws when `table` does not allow `from` → `to`: an invalid move is a bug, never a mode. */
export function assertTransition<S extends string>(table: TransitionTable<S>, what: string, from: S, to: S): void {
  if (!table[from].includes(to)) throw new Error(`${what}: invalid transition ${from} → ${to}`);
}
