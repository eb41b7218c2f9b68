// A component's modes as one state with a table of allowed moves (in the manner of Kafka Streams'
// Task.State): every move goes through `to`, which refuses one the table does not list, so a mode
// can no longer hide in a combination of flags, and the table is the single description of the
// lifecycle (drawn as a mermaid stateDiagram-v2, and checked against a README's drawing).

/** For each state, the states it may move to. A state with none is final. */
export type TransitionTable<S extends string> = { readonly [K in S]: readonly S[] };

export function isValidTransition<S extends string>(table: TransitionTable<S>, from: S, to: S): boolean {
  return table[from].includes(to);
}

export class InvalidTransitionError extends Error {
  readonly machine: string;
  readonly from: string;
  readonly to: string;

  constructor(machine: string, from: string, to: string, allowed: readonly string[]) {
    super(`${machine}: invalid transition ${from} -> ${to} (from ${from}: ${allowed.length > 0 ? allowed.join(', ') : 'none, it is final'})`);
    this.name = 'InvalidTransitionError';
    this.machine = machine;
    this.from = from;
    this.to = to;
  }
}

export interface StateMachineOptions<S extends string> {
  /** Names the machine in errors. */
  readonly name: string;
  readonly transitions: TransitionTable<S>;
  readonly initial: S;
  /** Called after every move, with the state left and the state entered. */
  readonly onChange?: (from: S, to: S) => void;
}

export class StateMachine<S extends string> {
  readonly name: string;
  readonly transitions: TransitionTable<S>;
  readonly #onChange: ((from: S, to: S) => void) | undefined;
  #state: S;

  constructor(options: StateMachineOptions<S>) {
    this.name = options.name;
    this.transitions = options.transitions;
    this.#state = options.initial;
    this.#onChange = options.onChange;
  }

  get state(): S {
    return this.#state;
  }

  /** True when the table allows a move from the current state to `next`. */
  can(next: S): boolean {
    return isValidTransition(this.transitions, this.#state, next);
  }

  /** Moves to `next`; throws InvalidTransitionError (and stays put) when the table does not allow it. */
  to(next: S): void {
    const from = this.#state;
    if (!isValidTransition(this.transitions, from, next)) throw new InvalidTransitionError(this.name, from, next, this.transitions[from]);
    this.#state = next;
    this.#onChange?.(from, next);
  }
}

/** A diagram's moves, `[*]` standing for the start (`[*] --> initial`) and the end (`final --> [*]`). */
export type Edge = readonly [from: string, to: string];

/** The moves a table allows, plus the start and the final states, sorted (for comparisons). */
export function transitionEdges<S extends string>(table: TransitionTable<S>, initial: S): Edge[] {
  const edges: Edge[] = [['[*]', initial]];
  for (const from of Object.keys(table) as S[]) {
    const targets = table[from];
    if (targets.length === 0) edges.push([from, '[*]']);
    for (const to of targets) edges.push([from, to]);
  }
  return sortEdges(edges);
}

/**
 * The table as a mermaid `stateDiagram-v2` (without the code fence). Mermaid ids are words only: a
 * state named otherwise (`config-error`) is declared `state "config-error" as config_error`.
 */
export function mermaidStateDiagram<S extends string>(table: TransitionTable<S>, initial: S): string {
  const states = Object.keys(table) as S[];
  const id = (state: string): string => state.replace(/\W/g, '_');
  const lines = ['stateDiagram-v2'];
  for (const state of states) if (id(state) !== state) lines.push(`  state "${state}" as ${id(state)}`);
  lines.push(`  [*] --> ${id(initial)}`);
  for (const from of states) {
    for (const to of table[from]) lines.push(`  ${id(from)} --> ${id(to)}`);
  }
  for (const from of states) {
    if (table[from].length === 0) lines.push(`  ${id(from)} --> [*]`);
  }
  return lines.join('\n');
}

/**
 * The moves drawn in one ```mermaid stateDiagram-v2 block of a markdown text, sorted: the block whose
 * front matter `title:` is `which`, or the `which`-th such block (from 0). Reads `a --> b` lines
 * (a `: label` is ignored) and `state "name" as id` aliases (edges then name the state), nothing
 * else. Throws when there is no such block.
 */
export function parseMermaidTransitions(markdown: string, which: string | number): Edge[] {
  const blocks = [...markdown.matchAll(/^```mermaid[^\n]*\n([\s\S]*?)^```/gm)]
    .map((m) => m[1] ?? '')
    .filter((body) => /^\s*stateDiagram-v2\s*$/m.test(body));
  const body = typeof which === 'number' ? blocks[which] : blocks.find((b) => titleOf(b) === which);
  if (body === undefined) throw new Error(`no mermaid stateDiagram-v2 block ${typeof which === 'number' ? `#${which}` : `titled ${JSON.stringify(which)}`}`);
  const names = new Map<string, string>();
  for (const m of body.matchAll(/^\s*state\s+"([^"]+)"\s+as\s+(\w+)\s*$/gm)) names.set(m[2] as string, m[1] as string);
  const name = (id: string): string => names.get(id) ?? id;
  const edges: Edge[] = [];
  for (const line of body.split('\n')) {
    const m = /^\s*(\[\*\]|\w+)\s*-->\s*(\[\*\]|\w+)\s*(?::.*)?$/.exec(line);
    if (m) edges.push([name(m[1] as string), name(m[2] as string)]);
  }
  return sortEdges(edges);
}

function titleOf(body: string): string | undefined {
  const front = /^\s*---\n([\s\S]*?)\n---/.exec(body)?.[1];
  return front === undefined ? undefined : /^title:\s*(.+?)\s*$/m.exec(front)?.[1];
}

function sortEdges(edges: Edge[]): Edge[] {
  return edges.sort((a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]));
}
