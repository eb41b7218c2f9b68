// Throughput of the stream-listener hot path: JSON.parse of the SSE data + normalizeEvent, and of
// command encode/decode (both sides of Kafka). Prints ops/s; run: node libs/indicators/bench/normalize.bench.ts
import { canonicalizeIp, decodeCommand, encodeCommand, MarkingRegistry, normalizeEvent, type Command, type StreamEventName } from '../src/index.ts';
import { event, indicator, MD5, observable, SHA256 } from '../test/fixtures.ts';

const DURATION_MS = Number(process.env.BENCH_MS ?? 1500);

function bench(name: string, unitsPerOp: number, fn: (i: number) => void): void {
  for (let i = 0; i < 2000; i++) fn(i); // warm-up
  let ops = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(DURATION_MS) * 1_000_000n;
  while (process.hrtime.bigint() < end) {
    for (let k = 0; k < 100; k++) fn(ops++);
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const rate = Math.round((ops * unitsPerOp) / secs);
  process.stdout.write(`${name.padEnd(44)} ${rate.toLocaleString('en-US').padStart(12)} ops/s\n`);
}

// A realistic mix: mostly single-value indicators and observables, some multi-value patterns and updates.
const ipPool = Array.from({ length: 400 }, (_, i) => `${11 + (i % 200)}.${(i * 7) % 256}.${(i * 13) % 256}.${1 + (i % 250)}`)
  .filter((ip) => canonicalizeIp(ip).ok);
const rawEvents: { name: StreamEventName; data: string }[] = [];
for (let i = 0; i < 250; i++) {
  const ip = ipPool[i] as string;
  const kind = i % 10;
  let e;
  if (kind < 4) e = event('create', indicator(`[ipv4-addr:value = '${ip}']`));
  else if (kind === 4) e = event('create', indicator(`[domain-name:value = 'c2-${i}.evil.example.com'] OR [url:value = 'hxxps://c2-${i}.evil[.]example.com/gate.php?id=${i}']`));
  else if (kind === 5) e = event('create', indicator(`[file:hashes.'SHA-256' = '${SHA256}' AND file:hashes.MD5 = '${MD5}']`));
  else if (kind === 6) e = event('create', observable('domain-name', { value: `host-${i}.evil.example.org` }, 'Domain-Name'));
  else if (kind === 7) e = event('create', observable('ipv6-addr', { value: `2606:4700:${i.toString(16)}::1111` }, 'IPv6-Addr'));
  else if (kind === 8) {
    e = event('update', indicator(`[ipv4-addr:value = '${ip}']`), 'update', {
      patch: [{ op: 'replace', path: '/pattern', value: `[ipv4-addr:value = '${ip}']` }],
      reverse_patch: [{ op: 'replace', path: '/pattern', value: "[ipv4-addr:value = '8.8.8.8']" }],
    });
  } else {
    e = event('update', indicator(`[ipv4-addr:value = '${ip}']`), 'update', {
      reverse_patch: [{ op: 'replace', path: '/extensions/extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba/score', value: 50 }],
    });
  }
  rawEvents.push({ name: e.name, data: JSON.stringify(e.data) });
}

const registry = new MarkingRegistry();
const now = new Date('2026-03-01T12:00:00.000Z');
const commands: Command[] = [];
let rejects = 0;
for (const raw of rawEvents) {
  const r = normalizeEvent({ streamId: 'bench', id: '1-0', name: raw.name, data: JSON.parse(raw.data) as unknown }, now, registry);
  commands.push(...r.commands);
  rejects += r.rejects.length;
}
if (rejects !== 0) throw new Error(`bench fixtures produced ${rejects} rejects`);
const encoded = commands.map((c) => encodeCommand(c));
const avgBytes = Math.round(encoded.reduce((n, b) => n + b.length, 0) / encoded.length);
process.stdout.write(`${rawEvents.length} events → ${commands.length} commands, ${avgBytes} bytes/command on average\n`);

bench('JSON.parse + normalizeEvent (events)', 1, (i) => {
  const raw = rawEvents[i % rawEvents.length] as { name: StreamEventName; data: string };
  normalizeEvent({ streamId: 'bench', id: '1-0', name: raw.name, data: JSON.parse(raw.data) as unknown }, now, registry);
});
bench('encodeCommand (validated)', 1, (i) => {
  encodeCommand(commands[i % commands.length] as Command);
});
bench('decodeCommand (validated)', 1, (i) => {
  const r = decodeCommand(encoded[i % encoded.length] as Buffer);
  if (!r.ok) throw new Error(r.error.message);
});
