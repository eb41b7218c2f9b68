// Standalone OpenCTI live stream emulator for the demo and docker-compose.
// Usage: npm run emulator:opencti -- [--port 4000] [--host 127.0.0.1] [--token T] [--stream ID]...
//        [--filters-file f.json] [--heartbeat-ms 5000] [--max-length 100000] [--seed 1]
//        [--generate N] [--script ops.json] [--load N]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startOpenCtiEmulator } from '../index.ts';
import type { FilterGroup, StreamDefinition, StreamOp } from '../index.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '4000' },
    host: { type: 'string', default: process.env.HOST ?? '127.0.0.1' },
    token: { type: 'string', default: process.env.OPENCTI_TOKEN ?? 'octi-emulator-token' },
    stream: { type: 'string', multiple: true, default: [process.env.STREAM_ID ?? 'live-indicators'] },
    'filters-file': { type: 'string' },
    'heartbeat-ms': { type: 'string', default: '5000' },
    'max-length': { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    generate: { type: 'string', default: '0' },
    script: { type: 'string' },
    load: { type: 'string' },
  },
});

const filters = values['filters-file'] ? (JSON.parse(readFileSync(values['filters-file'], 'utf8')) as FilterGroup) : undefined;
const streams: StreamDefinition[] = values.stream.map((id) => ({ id, filters }));
if (values.load) streams.push({ id: 'load', load: { count: Number(values.load) } });
const octi = await startOpenCtiEmulator({
  port: Number(values.port),
  host: values.host,
  token: values.token,
  streams,
  heartbeatMs: Number(values['heartbeat-ms']),
  maxLength: Number(values['max-length']),
  seed: Number(values.seed),
});
if (values.script) octi.append(...(JSON.parse(readFileSync(values.script, 'utf8')) as StreamOp[]));
if (Number(values.generate) > 0) octi.generate(Number(values.generate));

console.log(`OpenCTI live stream emulator listening on ${octi.url}`);
for (const s of streams) console.log(`  stream ${s.id}: ${octi.streamUrl(s.id)}${s.load ? ` (load mode, ${s.load.count} events)` : ''}`);
console.log(`  token: Bearer <the configured token>; control: ${octi.url}/_emulator/state`);

const shutdown = (): void => {
  void octi.close().then(() => process.exit(0));
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
