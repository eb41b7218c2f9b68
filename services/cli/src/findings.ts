// Pure rendering of check results: one line per check (✓ or ✗ with what to fix), the exit code, and
// the JSON form for scripts.

export interface CheckResult {
  /** What was checked, e.g. `OpenCTI reachable at https://…`. */
  readonly name: string;
  readonly ok: boolean;
  /** What was found (on success too, e.g. a partition count). */
  readonly detail?: string | undefined;
  /** What to change, for a failure. */
  readonly fix?: string | undefined;
}

export function renderCheck(r: CheckResult): string {
  if (r.ok) return `✓ ${r.name}${r.detail ? ` (${r.detail})` : ''}`;
  return `✗ ${r.name}${r.detail ? `: ${r.detail}` : ''}${r.fix ? ` → fix: ${r.fix}` : ''}`;
}

export function checkExitCode(results: readonly CheckResult[]): number {
  return results.length > 0 && results.every((r) => r.ok) ? 0 : 1;
}

export function checkSummary(results: readonly CheckResult[]): string {
  const failed = results.filter((r) => !r.ok).length;
  return failed === 0 ? `all ${results.length} checks passed` : `${failed} of ${results.length} checks failed`;
}
