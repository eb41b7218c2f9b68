// The whole pipeline around a listener under test: the OpenCTI emulator (one stream), the Defender
// emulator and a defender-writer reading the listener's commands topic.
import type { TestContext } from 'node:test';
import { startOpenCtiEmulator, type OpenCtiEmulator } from '@octi-defender/emulators';
import type { DefenderEmulator } from '@octi-defender/emulators';
import { emulator as defenderEmulator, startWriter, writerEnv, type RunningWriter } from '../../defender-writer/test/harness.ts';
import { TOKEN, uniqueTopics } from './helpers.ts';

export interface Pipeline {
  readonly octi: OpenCtiEmulator;
  readonly mde: DefenderEmulator;
  readonly topics: ReturnType<typeof uniqueTopics>;
  readonly writer: RunningWriter;
}

export async function startPipeline(t: TestContext, stream: string, seed: number): Promise<Pipeline> {
  const octi = await startOpenCtiEmulator({ port: 0, host: '127.0.0.1', token: TOKEN, streams: [{ id: stream }], heartbeatMs: 200, seed });
  t.after(() => octi.close());
  const mde = await defenderEmulator();
  t.after(() => mde.close());
  const topics = uniqueTopics();
  const writer = await startWriter(writerEnv(mde, { commands: topics.commands, dlq: `${topics.dlq}.writer`, state: `${topics.commands}.state`, group: `${topics.group}-writer` }));
  t.after(() => writer.stop());
  return { octi, mde, topics, writer };
}
