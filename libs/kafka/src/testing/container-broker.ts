// The apache/kafka image through testcontainers, when a Docker-API engine answers.
// (@testcontainers/kafka only knows confluentinc/cp-kafka, hence GenericContainer.)
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KAFKA_VERSION, singleNodeSettings, toContainerEnv } from './broker-config.ts';
import { freePort, say } from './local-broker.ts';
import type { RunningBroker } from './local-broker.ts';
import { waitForBroker } from './ready.ts';

const PROBE_TIMEOUT_MS = 3000;

// Where testcontainers would find an engine; when none of these exists, importing testcontainers and
// probing would only cost time.
function engineHints(): boolean {
  if (process.env.DOCKER_HOST || process.env.TESTCONTAINERS_HOST_OVERRIDE) return true;
  const home = homedir();
  const uid = process.getuid?.();
  return [
    '/var/run/docker.sock',
    join(home, '.testcontainers.properties'),
    join(home, '.docker', 'run', 'docker.sock'),
    join(home, '.docker', 'desktop', 'docker.sock'),
    ...(process.env.XDG_RUNTIME_DIR ? [join(process.env.XDG_RUNTIME_DIR, 'docker.sock')] : []),
    ...(uid === undefined ? [] : [`/run/user/${uid}/docker.sock`]),
  ].some((p) => existsSync(p));
}

/** The engine's host name for published ports, or undefined when no engine answers quickly. */
export async function probeDocker(): Promise<string | undefined> {
  if (!engineHints()) return undefined;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    const client = await Promise.race([getContainerRuntimeClient(), sleep(PROBE_TIMEOUT_MS).then(() => undefined)]);
    return client?.info.containerRuntime.host;
  } catch {
    return undefined;
  }
}

export async function startContainerBroker(host: string): Promise<RunningBroker> {
  const { GenericContainer, Wait } = await import('testcontainers');
  // A fixed host port, known before start, so the broker can advertise the address clients use.
  const port = await freePort();
  const env = toContainerEnv(
    singleNodeSettings({
      brokerListener: '0.0.0.0:9092',
      controllerListener: '0.0.0.0:9093',
      advertisedBroker: `${host}:${port}`,
      controllerVoter: 'localhost:9093',
    }),
  );
  say(`starting apache/kafka:${KAFKA_VERSION} with testcontainers`);
  const container = await new GenericContainer(`apache/kafka:${KAFKA_VERSION}`)
    .withEnvironment(env)
    .withExposedPorts({ container: 9092, host: port })
    .withWaitStrategy(Wait.forListeningPorts())
    .start();
  const brokers = [`${host}:${port}`];
  try {
    await waitForBroker(brokers, 120_000);
  } catch (err) {
    await container.stop();
    throw err;
  }
  say(`apache/kafka:${KAFKA_VERSION} container on ${brokers.join(',')}`);
  return {
    brokers,
    stop: async () => {
      await container.stop();
    },
  };
}
