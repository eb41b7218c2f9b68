// The configuration a command works with: the services' own environment variables, validated by
// their own specs (stream-listener and defender-writer config, libs/platform kafkaEnv). A command
// run beside the listener sees the listener's variables, beside a writer the writer's: each part is
// loaded when any of its own variables is set.
import { ConfigError, kafkaEnv, kafkaProblems, loadConfig, type ConfigOf } from '@octi-defender/platform';
import { loadWriterConfig, type WriterConfig } from '@octi-defender/defender-writer/config';
import { loadListenerConfig, type ListenerConfig } from '@octi-defender/stream-listener';

export type KafkaConfig = ConfigOf<typeof kafkaEnv>;

type Loaded<T> = { readonly ok: true; readonly config: T } | { readonly ok: false; readonly problems: readonly string[] };

export interface Settings {
  readonly kafka: Loaded<KafkaConfig>;
  /** Undefined when none of the listener's own variables is set. */
  readonly listener?: Loaded<ListenerConfig>;
  /** Undefined when none of the writer's own variables is set. */
  readonly writer?: Loaded<WriterConfig>;
}

const LISTENER_VARS = ['OPENCTI_URL', 'OPENCTI_TOKEN', 'CONNECTOR_LIVE_STREAM_ID'];
const WRITER_VARS = ['WRITER_TENANT_NAME', 'MICROSOFT_DEFENDER_INTEL_TENANT_ID', 'MICROSOFT_DEFENDER_INTEL_CLIENT_ID', 'MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET'];

const isSet = (env: NodeJS.ProcessEnv, names: readonly string[]): boolean => names.some((n) => (env[n]?.trim() ?? '') !== '');

function attempt<T>(load: () => T): Loaded<T> {
  try {
    return { ok: true, config: load() };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, problems: err.problems };
    throw err;
  }
}

export function loadSettings(env: NodeJS.ProcessEnv): Settings {
  const kafka = attempt(() => {
    const c = loadConfig(kafkaEnv, env);
    const problems = kafkaProblems(c);
    if (problems.length > 0) throw new ConfigError(problems);
    return c;
  });
  return {
    kafka,
    ...(isSet(env, LISTENER_VARS) && { listener: attempt(() => loadListenerConfig(env)) }),
    ...(isSet(env, WRITER_VARS) && { writer: attempt(() => loadWriterConfig(env)) }),
  };
}
