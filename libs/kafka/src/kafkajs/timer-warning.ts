// kafkajs 2.2.4's request queue arms `setTimeout(check, throttledUntil - Date.now())` before any
// throttling, i.e. a negative delay, which Node.js 24 reports once per process as a
// TimeoutNegativeWarning ("… is a negative number. Timeout duration was set to 1"): 1 ms is what
// kafkajs means, so the warning only alarms users. Imported by every module that loads kafkajs; every
// other warning is emitted as before.
const WARNING = 'TimeoutNegativeWarning';
const marker = Symbol.for('octi-defender.kafka.timerWarning');
type Emit = typeof process.emitWarning & { [marker]?: true };

if (!(process.emitWarning as Emit)[marker]) {
  const original = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  const filtered = ((warning: string | Error, ...rest: unknown[]): void => {
    const type = warning instanceof Error ? warning.name : typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type === WARNING) return;
    original(warning, ...rest);
  }) as Emit;
  filtered[marker] = true;
  process.emitWarning = filtered;
}
