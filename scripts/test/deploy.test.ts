// Deployment artifacts: docker-compose.yml (validated by `docker-compose config`), the Kubernetes
// manifests (rendered by `kustomize build`, every object validated against the Kubernetes OpenAPI
// schemas and the KEDA / Prometheus Operator / Strimzi CRD schemas bundled by kubernetes-models),
// the security settings the README promises, and the consistency of all of them with the ONE
// definition of topics (libs/kafka/src/topics.ts) and the services' configuration schemas.
// Limit: the Kubernetes OpenAPI schemas do not forbid unknown fields, so a misspelt optional field
// passes schema validation; the explicit checks below (security context, probes, scalers…) catch it
// where it matters. Required fields, types, formats and enums are all checked.
// Tools: kustomize and docker-compose. When one is missing the test installs both once with
// deploy/tools.sh (idempotent; kustomize is built into .cache/bin and reused), so `npm test` needs no
// prior step; a tool that still cannot be had fails the test, never skips it.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import type { ConfigSpec } from '@octi-defender/platform';
import { kafkaEnv } from '@octi-defender/platform';
import { topicDefinitions } from '../../libs/kafka/src/topics.ts';
import { listenerEnv, loadListenerConfig } from '../../services/stream-listener/src/config.ts';
import { loadWriterConfig, writerEnv } from '../../services/defender-writer/src/config.ts';
import { loadReporterConfig, reporterEnv } from '../../services/sighting-reporter/src/config.ts';
import { stale } from '../topics.ts';
import { imageWorkspaces, workspaceFolders } from '../image-workspaces.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const K8S = join(ROOT, 'deploy/k8s');

type Obj = Record<string, unknown>;
type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown };

const envNames = (spec: ConfigSpec): Set<string> => new Set(Object.values(spec).map((v) => v.env));
const required = (spec: ConfigSpec): string[] => Object.values(spec).filter((v) => v.default === undefined && !v.optional).map((v) => v.env);
const LISTENER = envNames(listenerEnv);
const WRITER = envNames(writerEnv);
const REPORTER = envNames(reporterEnv);
const KAFKA = envNames(kafkaEnv);
const commandsTopic = topicDefinitions().find((t) => t.role === 'commands');
assert.ok(commandsTopic, 'topics.ts defines the commands topic');
const commands = commandsTopic;

let installed: string | undefined;
/** Runs deploy/tools.sh once per test process; its output explains a tool that could not be had. */
function installTools(): string {
  if (installed === undefined) {
    const r = spawnSync('bash', [join(ROOT, 'deploy/tools.sh')], { encoding: 'utf8', cwd: ROOT });
    installed = `deploy/tools.sh exited with ${String(r.status ?? r.signal)}:\n${r.stdout}${r.stderr}`;
  }
  return installed;
}

function kustomizeCommand(): string[] {
  const cached = join(ROOT, '.cache/bin/kustomize');
  const found = (): string[] | undefined => (existsSync(cached) ? [cached] : spawnSync('kustomize', ['version']).status === 0 ? ['kustomize'] : undefined);
  const before = found();
  if (before) return before;
  const output = installTools();
  return found() ?? assert.fail(`kustomize not found, and installing it failed (${output})`);
}

function dockerCompose(args: string[]): string {
  if (spawnSync('docker-compose', ['version']).error) {
    const output = installTools();
    if (spawnSync('docker-compose', ['version']).error) assert.fail(`docker-compose not found, and installing it failed (${output})`);
  }
  const r = spawnSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), ...args], { encoding: 'utf8', cwd: ROOT });
  assert.equal(r.status, 0, `docker-compose ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

const builds = new Map<string, string>();
/** `kustomize build <dir>`, once per directory; each call returns fresh objects. */
function build(dir: string): K8sObject[] {
  let out = builds.get(dir);
  if (out === undefined) {
    const [cmd, ...pre] = kustomizeCommand();
    out = execFileSync(cmd as string, [...pre, 'build', dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
    builds.set(dir, out);
  }
  return parseAllDocuments(out).map((d) => d.toJS() as K8sObject).filter((o) => o !== null);
}

// --- schema validation (kubernetes-models: Kubernetes OpenAPI + CRD schemas) ----------------------
async function modelFor(apiVersion: string, kind: string): Promise<(new(data: unknown) => { validate(): void }) | undefined> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const module = group === 'keda.sh' ?
    `@kubernetes-models/keda/keda.sh/${version}/${kind}`
    : group === 'monitoring.coreos.com' ?
    `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${kind}`
    : group === 'kafka.strimzi.io' ?
    `@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/${version}/${kind}`
    : group === '' ?
    `kubernetes-models/${version}/${kind}`
    : `kubernetes-models/${group}/${version}/${kind}`;
  try {
    const m = (await import(module)) as Record<string, new(data: unknown) => { validate(): void }>;
    return m[kind];
  } catch {
    return undefined;
  }
}

async function validateAll(objects: readonly K8sObject[]): Promise<void> {
  const problems: string[] = [];
  for (const o of objects) {
    const Model = await modelFor(o.apiVersion, o.kind);
    if (!Model) {
      problems.push(`${o.apiVersion} ${o.kind} ${o.metadata.name}: no schema known for this kind`);
      continue;
    }
    try {
      new Model(o).validate();
    } catch (e) {
      problems.push(`${o.kind} ${o.metadata.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  assert.deepEqual(problems, [], 'every object matches its OpenAPI / CRD schema');
}

// --- helpers over rendered objects ----------------------------------------------------------------
const ofKind = (objs: readonly K8sObject[], kind: string): K8sObject[] => objs.filter((o) => o.kind === kind);
const get = (o: unknown, path: string): unknown => path.split('.').reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Obj)[k] : undefined), o);
const byName = (objs: readonly K8sObject[], kind: string, name: string): K8sObject => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind} ${name} exists`);
  return o;
};

interface Container {
  name: string;
  env?: { name: string }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  securityContext?: Obj;
  resources?: { requests?: Obj; limits?: Obj };
  livenessProbe?: Obj;
  readinessProbe?: Obj;
  ports?: { containerPort: number }[];
}
interface PodSpec {
  securityContext?: Obj;
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
  containers: Container[];
  initContainers?: Container[];
}
const podSpec = (o: K8sObject): PodSpec => get(o, 'spec.template.spec') as PodSpec;
const workloads = (objs: readonly K8sObject[]): K8sObject[] => objs.filter((o) => o.kind === 'Deployment' || o.kind === 'Job');

function checkSecurity(objs: readonly K8sObject[]): void {
  for (const w of workloads(objs)) {
    const where = `${w.kind} ${w.metadata.name}`;
    const pod = podSpec(w);
    assert.equal(pod.automountServiceAccountToken, false, `${where}: automountServiceAccountToken false`);
    assert.ok(pod.serviceAccountName, `${where}: own ServiceAccount`);
    const sa = byName(objs, 'ServiceAccount', pod.serviceAccountName);
    assert.equal(sa.automountServiceAccountToken, false, `ServiceAccount ${sa.metadata.name}: no token automount`);
    assert.equal(get(pod, 'securityContext.runAsNonRoot'), true, `${where}: runAsNonRoot`);
    assert.ok((get(pod, 'securityContext.runAsUser') as number) > 0, `${where}: numeric non-root runAsUser`);
    assert.equal(get(pod, 'securityContext.seccompProfile.type'), 'RuntimeDefault', `${where}: seccomp RuntimeDefault`);
    for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
      const cw = `${where} container ${c.name}`;
      assert.equal(get(c, 'securityContext.allowPrivilegeEscalation'), false, `${cw}: no privilege escalation`);
      assert.equal(get(c, 'securityContext.readOnlyRootFilesystem'), true, `${cw}: read-only root filesystem`);
      assert.notEqual(get(c, 'securityContext.privileged'), true, `${cw}: not privileged`);
      assert.deepEqual(get(c, 'securityContext.capabilities.drop'), ['ALL'], `${cw}: drops ALL capabilities`);
      assert.equal(get(c, 'securityContext.capabilities.add'), undefined, `${cw}: adds no capability`);
      assert.ok(get(c, 'resources.requests.cpu') && get(c, 'resources.requests.memory'), `${cw}: cpu and memory requests`);
      assert.ok(get(c, 'resources.limits.memory'), `${cw}: memory limit`);
    }
  }
  for (const sa of ofKind(objs, 'ServiceAccount')) {
    assert.equal(sa.automountServiceAccountToken, false, `ServiceAccount ${sa.metadata.name}: no token automount`);
  }
}

function checkServices(objs: readonly K8sObject[]): void {
  const deployments = ofKind(objs, 'Deployment');
  assert.ok(deployments.length >= 2, 'a listener and at least one writer');
  for (const d of deployments) {
    const where = `Deployment ${d.metadata.name}`;
    const [c] = podSpec(d).containers;
    assert.ok(c);
    assert.deepEqual(get(c, 'livenessProbe.httpGet.path'), '/healthz', `${where}: liveness on /healthz`);
    assert.deepEqual(get(c, 'readinessProbe.httpGet.path'), '/readyz', `${where}: readiness on /readyz`);
    assert.ok(c.ports?.some((p) => p.containerPort === 9464), `${where}: port 9464 (HTTP_PORT)`);
    const selector = get(d, 'spec.selector.matchLabels') as Record<string, string>;
    const matches = (sel: unknown): boolean =>
      sel !== undefined &&
      Object.entries(sel as Record<string, string>).every(([k, v]) =>
        get(d, 'spec.template.metadata.labels') !== undefined && (get(d, 'spec.template.metadata.labels') as Record<string, string>)[k] === v
      );
    assert.ok(ofKind(objs, 'PodDisruptionBudget').some((p) => matches(get(p, 'spec.selector.matchLabels'))), `${where}: a PodDisruptionBudget`);
    assert.ok(
      ofKind(objs, 'NetworkPolicy').some((p) => matches(get(p, 'spec.podSelector.matchLabels')) && (get(p, 'spec.policyTypes') as string[]).includes('Egress')),
      `${where}: its own egress NetworkPolicy`,
    );
    assert.ok(
      ofKind(objs, 'Service').some((s) =>
        Object.entries(get(s, 'spec.selector') as Record<string, string>).every(([k, v]) => selector[k] === v || (get(d, 'spec.template.metadata.labels') as Record<string, string>)[k] === v)
      ),
      `${where}: a metrics Service`,
    );
    // Every variable handed to the service exists in its configuration schema.
    const schema = d.metadata.name.startsWith('stream-listener') ? LISTENER : d.metadata.name.startsWith('sighting-reporter') ? REPORTER : WRITER;
    const keys = [...(c.env ?? []).map((e) => e.name)];
    for (const ref of c.envFrom ?? []) {
      if (ref.configMapRef) keys.push(...Object.keys((byName(objs, 'ConfigMap', ref.configMapRef.name).data as Obj | undefined) ?? {}));
    }
    // NODE_OPTIONS (heap sizes) and glibc's MALLOC_* are the runtime's own, not service configuration.
    const runtime = (k: string): boolean => k === 'NODE_OPTIONS' || k.startsWith('MALLOC_');
    // The shared kafka-client ConfigMap also names the commands and DLQ topics, which the reporter does not read.
    const shared = (k: string): boolean => schema === REPORTER && KAFKA.has(k);
    assert.deepEqual(keys.filter((k) => !schema.has(k) && !runtime(k) && !shared(k)), [], `${where}: variables unknown to its config schema`);
  }
  // The namespace is default-deny, and no policy opens egress to everything on every port.
  const deny = ofKind(objs, 'NetworkPolicy').find((p) =>
    Object.keys((get(p, 'spec.podSelector') as Obj | undefined) ?? {}).length === 0 && get(p, 'spec.egress') === undefined && get(p, 'spec.ingress') === undefined
  );
  assert.ok(deny && (get(deny, 'spec.policyTypes') as string[]).length === 2, 'a default-deny NetworkPolicy (Ingress and Egress)');
  const allowedPorts = new Set([53, 80, 443, 8080, 9092, 9093]);
  for (const p of ofKind(objs, 'NetworkPolicy')) {
    for (const rule of (get(p, 'spec.egress') as Obj[] | undefined) ?? []) {
      const ports = (rule.ports as { port: number }[] | undefined) ?? [];
      assert.ok(ports.length > 0 && ports.every((x) => allowedPorts.has(x.port)), `NetworkPolicy ${p.metadata.name}: egress only to DNS, Kafka, OpenCTI and HTTPS (Entra, Defender)`);
      assert.ok(Array.isArray(rule.to) && rule.to.length > 0, `NetworkPolicy ${p.metadata.name}: egress rules name their destinations`);
    }
  }
  const listener = byName(objs, 'Deployment', 'stream-listener');
  assert.equal(get(listener, 'spec.replicas'), 2, 'stream-listener: active + standby');
  const sm = ofKind(objs, 'ServiceMonitor');
  assert.equal(sm.length, 1, 'a ServiceMonitor');
  const smSel = get(sm[0], 'spec.selector.matchLabels') as Record<string, string>;
  const scraped = ofKind(objs, 'Service').filter((s) => Object.entries(smSel).every(([k, v]) => s.metadata.labels?.[k] === v));
  assert.equal(scraped.length, ofKind(objs, 'Deployment').length, 'the ServiceMonitor selects the Service of every Deployment');
}

/** Writers: one Deployment per tenant, scaled within the partitions, consistent with Kafka and topics. */
function checkWriters(objs: readonly K8sObject[], scaler: 'ScaledObject' | 'HorizontalPodAutoscaler'): string[] {
  const kafka = byName(objs, 'ConfigMap', 'kafka-client').data as Record<string, string>;
  assert.deepEqual(Object.keys(kafka).filter((k) => !KAFKA.has(k)), [], 'kafka-client holds Kafka variables only');
  const writers = ofKind(objs, 'Deployment').filter((d) => d.metadata.labels?.['app.kubernetes.io/name'] === 'defender-writer');
  assert.ok(writers.length >= 1, 'at least one writer Deployment');
  const tenants: string[] = [];
  const secrets = new Set<string>();
  for (const w of writers) {
    const [c] = podSpec(w).containers;
    assert.ok(c);
    const cmName = c.envFrom?.find((r) => r.configMapRef && r.configMapRef.name !== 'kafka-client')?.configMapRef?.name;
    assert.ok(cmName, `${w.metadata.name}: a tenant ConfigMap`);
    const cm = byName(objs, 'ConfigMap', cmName).data as Record<string, string>;
    const tenant = cm.WRITER_TENANT_NAME;
    assert.ok(tenant && tenant !== 'ChangeMe', `${w.metadata.name}: WRITER_TENANT_NAME set`);
    assert.equal(w.metadata.labels?.['octi-defender/tenant'], tenant, `${w.metadata.name}: tenant label`);
    tenants.push(tenant);
    const secret = c.envFrom?.find((r) => r.secretRef)?.secretRef?.name;
    assert.ok(secret, `${w.metadata.name}: credentials from a Secret`);
    secrets.add(secret);
    if (scaler === 'ScaledObject') {
      const so = ofKind(objs, 'ScaledObject').find((s) => get(s, 'spec.scaleTargetRef.name') === w.metadata.name);
      assert.ok(so, `${w.metadata.name}: a KEDA ScaledObject`);
      assert.ok((get(so, 'spec.maxReplicaCount') as number) <= commands.partitions, `${so.metadata.name}: maxReplicaCount ≤ ${commands.partitions} partitions`);
      const trigger = (get(so, 'spec.triggers') as { type: string; metadata: Record<string, string> }[])[0];
      assert.equal(trigger?.type, 'kafka', `${so.metadata.name}: Kafka lag trigger`);
      assert.equal(trigger.metadata.consumerGroup, cm.KAFKA_CONSUMER_GROUP ?? `defender-writer.${tenant}`, `${so.metadata.name}: the tenant's consumer group`);
      assert.equal(trigger.metadata.topic, kafka.KAFKA_TOPIC_COMMANDS ?? commands.name, `${so.metadata.name}: the commands topic`);
      assert.equal(trigger.metadata.bootstrapServers, kafka.KAFKA_BROKERS, `${so.metadata.name}: the same brokers as the services`);
    } else {
      const hpa = ofKind(objs, 'HorizontalPodAutoscaler').find((s) => get(s, 'spec.scaleTargetRef.name') === w.metadata.name);
      assert.ok(hpa, `${w.metadata.name}: a HorizontalPodAutoscaler`);
      assert.ok((get(hpa, 'spec.maxReplicas') as number) <= commands.partitions, `${hpa.metadata.name}: maxReplicas ≤ ${commands.partitions} partitions`);
      assert.equal(ofKind(objs, 'ScaledObject').length, 0, 'no ScaledObject next to the HPA');
    }
  }
  assert.equal(new Set(tenants).size, tenants.length, 'one writer Deployment per tenant');
  assert.equal(secrets.size, writers.length, 'one credentials Secret per tenant');
  return tenants;
}

function checkTopicsJob(objs: readonly K8sObject[], tenants: readonly string[]): void {
  const envCm = ofKind(objs, 'ConfigMap').find((c) => c.metadata.name.startsWith('kafka-topics-env'));
  assert.ok(envCm, 'kafka-topics-env ConfigMap');
  const listed = ((envCm.data as Record<string, string>).WRITER_TENANTS ?? '').split(/[\s,]+/).filter(Boolean);
  assert.deepEqual([...listed].sort(), [...tenants].sort(), 'the topic Job creates a state topic for exactly the deployed tenants');
  const script = ofKind(objs, 'ConfigMap').find((c) => c.metadata.name.startsWith('kafka-topics-script'));
  assert.equal(
    (script?.data as Record<string, string> | undefined)?.['create-topics.sh'],
    readFileSync(join(K8S, 'base/topics/create-topics.sh'), 'utf8'),
    'the Job runs the generated script',
  );
}

const tmp = mkdtempSync(join(tmpdir(), 'octi-deploy-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('topics', () => {
  test('generated topic artifacts are up to date with libs/kafka/src/topics.ts (npm run topics)', () => {
    assert.deepEqual(stale(), []);
  });
});

describe('kubernetes manifests', () => {
  test('the checks catch a broken or insecure object (self-test)', async () => {
    const prod = build(join(K8S, 'overlays/prod'));
    const broken = structuredClone(prod);
    const listener = broken.find((o) => o.kind === 'Deployment' && o.metadata.name === 'stream-listener');
    assert.ok(listener);
    (listener.spec as Obj).replicas = 'two';
    await assert.rejects(validateAll(broken), /replicas/);
    delete (podSpec(listener).containers[0] as Container).securityContext;
    assert.throws(() => checkSecurity(broken), /no privilege escalation/);
    await assert.rejects(validateAll([{ apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name: 'x' }, spec: {} }]), /scaleTargetRef/);
  });

  test('overlays/prod: schemas, security, two tenants on KEDA', async () => {
    const objs = build(join(K8S, 'overlays/prod'));
    await validateAll(objs);
    checkSecurity(objs);
    checkServices(objs);
    const tenants = checkWriters(objs, 'ScaledObject');
    assert.ok(tenants.length >= 2, 'prod shows a second Defender tenant');
    checkTopicsJob(objs, tenants);
    assert.ok(objs.every((o) => o.kind === 'Namespace' || o.metadata.namespace === 'octi-defender'), 'everything in the namespace');
    assert.equal(ofKind(objs, 'Secret').length, 0, 'no Secret in the build: they are created separately (secret.template.yaml)');
    const listener = byName(objs, 'ConfigMap', 'stream-listener').data as Record<string, string>;
    assert.doesNotThrow(
      () => loadListenerConfig({ ...(byName(objs, 'ConfigMap', 'kafka-client').data as Record<string, string>), ...listener, OPENCTI_TOKEN: 'x' }),
      'prod listener configuration is valid',
    );
  });

  test('overlays/dev: schemas, security, HPA instead of KEDA', async () => {
    const objs = build(join(K8S, 'overlays/dev'));
    await validateAll(objs);
    checkSecurity(objs);
    checkServices(objs);
    checkTopicsJob(objs, checkWriters(objs, 'HorizontalPodAutoscaler'));
  });

  test('strimzi-topics component: KafkaTopic resources replace the Job', async () => {
    const dir = join(tmp, 'strimzi');
    mkdirSync(dir);
    // kustomize wants relative paths to other kustomizations
    const rel = (p: string): string => relative(dir, join(K8S, p));
    writeFileSync(join(dir, 'kustomization.yaml'), `resources:\n  - ${rel('overlays/prod')}\ncomponents:\n  - ${rel('components/strimzi-topics')}\n`);
    const objs = build(dir);
    await validateAll(objs);
    assert.equal(ofKind(objs, 'Job').length, 0);
    const topics = ofKind(objs, 'KafkaTopic');
    for (const t of topicDefinitions()) {
      const kt = topics.find((k) => get(k, 'spec.topicName') === t.name);
      assert.ok(kt, `KafkaTopic ${t.name}`);
      assert.equal(get(kt, 'spec.partitions'), t.partitions);
      assert.deepEqual(get(kt, 'spec.config'), t.config);
    }
  });

  test('secret.template.yaml: valid Secrets with placeholders only, keys of the config schemas', async () => {
    const objs = parseAllDocuments(readFileSync(join(K8S, 'secret.template.yaml'), 'utf8')).map((d) => d.toJS() as K8sObject);
    await validateAll(objs);
    const secretVars = new Set([...Object.values(listenerEnv), ...Object.values(writerEnv)].filter((v) => v.secret).map((v) => v.env));
    for (const s of objs) {
      for (const [k, v] of Object.entries(s.stringData as Record<string, string>)) {
        assert.ok(secretVars.has(k), `${s.metadata.name}: ${k} is a secret variable of a service`);
        assert.equal(v, 'ChangeMe', `${s.metadata.name}: ${k} is a placeholder`);
      }
    }
    const prod = build(join(K8S, 'overlays/prod'));
    const referenced = workloads(prod).flatMap((w) => podSpec(w).containers.flatMap((c) => (c.envFrom ?? []).flatMap((r) => (r.secretRef ? [r.secretRef.name] : []))));
    for (const name of referenced) assert.ok(objs.some((s) => s.metadata.name === name), `the template shows Secret ${name}`);
  });

  test('the Grafana dashboard is valid JSON and only charts metrics the services export', () => {
    const dash = JSON.parse(readFileSync(join(K8S, 'base/monitoring/octi-defender-dashboard.json'), 'utf8')) as { panels: { targets?: { expr: string }[] }[]; uid: string };
    assert.ok(dash.uid);
    const sources = ['services/stream-listener/src', 'services/defender-writer/src']
      .flatMap((d) => readdirSync(join(ROOT, d), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(join(ROOT, d, f), 'utf8')))
      .join('\n');
    const metrics = new Set(dash.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => [...t.expr.matchAll(/\b((?:octi|defender)_[a-z_]+?)(?:_bucket|_sum|_count)?\b/g)].map((m) => m[1] as string))));
    assert.ok(metrics.size > 5);
    for (const m of metrics) assert.ok(sources.includes(`'${m}'`), `metric ${m} is defined in a service`);
  });
});

describe('docker-compose.yml', () => {
  const composeEnvRefs = [...readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8').matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1] as string);
  const example = new Map(
    readFileSync(join(ROOT, '.env.example'), 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z0-9_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
  );
  const COMPOSE_ONLY = new Set(['IMAGE_REGISTRY', 'IMAGE_TAG', 'KAFKA_IMAGE']);

  test('passes `docker-compose config` with no .env (demo defaults) and with .env.example, demo profile included', () => {
    const empty = join(tmp, 'empty.env');
    writeFileSync(empty, '');
    dockerCompose(['--env-file', empty, 'config', '--quiet']);
    dockerCompose(['--env-file', join(ROOT, '.env.example'), '--profile', 'demo', 'config', '--quiet']);
    const services = dockerCompose(['--env-file', empty, '--profile', 'demo', 'config', '--services']).trim().split('\n').sort();
    // docker-compose 1.x lists the services of every profile (sighting-reporter is in "sightings").
    assert.deepEqual(services, ['defender-emulator', 'defender-writer', 'kafka', 'kafka-topics', 'opencti-emulator', 'sighting-reporter', 'stream-listener']);
  });

  test('.env.example lists exactly the variables compose reads, and they belong to the config schemas', () => {
    assert.deepEqual([...new Set(composeEnvRefs)].filter((v) => !example.has(v)), [], 'every ${VAR} of docker-compose.yml is in .env.example');
    assert.deepEqual([...example.keys()].filter((v) => !composeEnvRefs.includes(v)), [], 'every .env.example variable is used by docker-compose.yml');
    assert.deepEqual([...example.keys()].filter((v) => !COMPOSE_ONLY.has(v) && !LISTENER.has(v) && !WRITER.has(v)), [], 'unknown to both config schemas');
  });

  test('the services get valid configurations (demo defaults) and the hardening settings', () => {
    const empty = join(tmp, 'empty.env');
    writeFileSync(empty, '');
    const config = parseYaml(dockerCompose(['--env-file', empty, '--profile', 'demo', 'config'])) as { services: Record<string, Obj> };
    const env = (s: string): Record<string, string> => {
      const e = (config.services[s]?.environment ?? {}) as Record<string, string | null>;
      return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v ?? '']));
    };
    const listener = env('stream-listener');
    const writer = env('defender-writer');
    assert.deepEqual(Object.keys(listener).filter((k) => !LISTENER.has(k)), [], 'listener variables are in its schema');
    assert.deepEqual(Object.keys(writer).filter((k) => !WRITER.has(k)), [], 'writer variables are in its schema');
    for (const k of required(listenerEnv)) assert.ok(listener[k], `listener gets ${k}`);
    for (const k of required(writerEnv)) assert.ok(writer[k], `writer gets ${k}`);
    assert.doesNotThrow(() => loadListenerConfig(listener));
    assert.doesNotThrow(() => loadWriterConfig(writer));
    for (const s of ['stream-listener', 'defender-writer', 'sighting-reporter']) {
      const svc = config.services[s] as Obj;
      assert.equal(svc.read_only, true, `${s}: read-only root filesystem`);
      assert.deepEqual(svc.cap_drop, ['ALL'], `${s}: drops ALL capabilities`);
      assert.ok((svc.security_opt as string[]).some((o) => o.startsWith('no-new-privileges')), `${s}: no-new-privileges`);
    }
    assert.match(String(config.services.kafka?.image), /^apache\/kafka:/, 'the official Apache Kafka image');
    assert.deepEqual(config.services['opencti-emulator']?.profiles, ['demo']);
    assert.deepEqual(config.services['defender-emulator']?.profiles, ['demo']);
    const reporter = env('sighting-reporter');
    assert.deepEqual(config.services['sighting-reporter']?.profiles, ['sightings'], 'the reporter is optional');
    assert.deepEqual(Object.keys(reporter).filter((k) => !REPORTER.has(k)), [], 'reporter variables are in its schema');
    assert.doesNotThrow(() => loadReporterConfig(reporter));
    assert.equal(reporter.REPORTER_TENANT_NAME, writer.WRITER_TENANT_NAME, 'the reporter of the writer’s tenant');
    const volumes = (config.services['kafka-topics']?.volumes ?? []) as (string | { source: string })[];
    assert.ok(volumes.some((v) => (typeof v === 'string' ? v : v.source).includes('deploy/k8s/base/topics/create-topics.sh')), 'compose runs the generated topic script');
    assert.equal(config.services['kafka-topics']?.environment && (config.services['kafka-topics'].environment as Obj).WRITER_TENANTS, writer.WRITER_TENANT_NAME);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

  test('copies every workspace manifest for npm ci, and builds a target per service', () => {
    for (const dir of workspaceFolders().values()) {
      assert.ok(dockerfile.includes(`COPY ${dir}/package.json ${dir}/`), `Dockerfile copies ${dir}/package.json`);
    }
    for (const s of ['stream-listener', 'defender-writer', 'sighting-reporter']) {
      assert.match(dockerfile, new RegExp(`^FROM runtime AS ${s}$`, 'm'));
      assert.match(dockerfile, new RegExp(`^ENV WORKSPACE=services/${s}$`, 'm'));
      assert.ok(dockerfile.includes(`CMD ["services/${s}/src/main.ts"]`));
    }
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:24[.\w-]*slim$/m, 'Node 24 slim base');
    assert.match(dockerfile, /^USER 1000:1000$/m, 'numeric non-root user');
    assert.match(dockerfile, /^ENTRYPOINT \["\/usr\/bin\/tini", "--", "node"[^\]]*\]$/m, 'tini as PID 1');
    assert.match(dockerfile, /^HEALTHCHECK .*\n.*\/healthz/m, 'HEALTHCHECK on /healthz');
    assert.match(dockerfile, /npm ci --omit=dev/, 'production dependencies only');
  });

  test('every package a service image imports is a declared production dependency (npm ci --omit=dev installs it)', () => {
    const problems: string[] = [];
    // The command line (services/cli) ships in both service images.
    for (const service of ['services/stream-listener', 'services/defender-writer', 'services/sighting-reporter', 'services/cli']) {
      for (const dir of imageWorkspaces(service)) {
        const manifest = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
        const deps = new Set(Object.keys(manifest.dependencies ?? {}));
        for (const file of readdirSync(join(ROOT, dir, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))) {
          const text = readFileSync(join(ROOT, dir, 'src', file), 'utf8');
          for (const m of text.matchAll(/^\s*(?:import|export)\s(?!type\s)[^'";]*?from\s+'([^'.][^']*)'/gm)) {
            const spec = m[1] as string;
            if (spec.startsWith('node:')) continue;
            const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string);
            if (!deps.has(pkg)) problems.push(`${dir}/src/${file} imports ${pkg}, not in ${dir}/package.json dependencies`);
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });
});
