// Docker, compose and Kubernetes manifests. No container engine or cluster runs here, so this checks
// what can be checked without one: every file parses, and every path, port, env var, probe and
// command in them is one the gateway really uses.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { loadConfigFile } from '../../src/config/load.js';
import { GATEWAY_NODE_FLAGS } from '../../src/runtime-flags.js';
import { asArray, asString, fromRoot, isRecord, listFiles, readYaml, ruleFiles } from './support.js';

const PORT = 8080;
// npm start, the image and the Deployment run the gateway with the same Node flags as the bench.
const ENTRYPOINT = ['node', ...GATEWAY_NODE_FLAGS, 'dist/src/main.js'];
const CONFIG_PATH = '/etc/bellwether/config.yaml';

const text = (...parts: string[]): string => readFileSync(fromRoot(...parts), 'utf8');
const sourceFiles = listFiles(fromRoot('src'), '.ts');
const source = sourceFiles.map((f) => readFileSync(f, 'utf8')).join('\n');
const get = (v: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((acc, key) => (Array.isArray(acc) ? acc[Number(key)] : isRecord(acc) ? acc[String(key)] : undefined), v);

/** Env vars every manifest may set without the gateway reading them itself. */
const readByOthers: Record<string, string> = {
  NODE_ENV: 'read by Node libraries (fastify, pino)',
};

function k8s(kind: string): Record<string, unknown> {
  for (const file of listFiles(fromRoot('deploy', 'k8s'), '.yaml')) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const v: unknown = doc.toJS();
      if (isRecord(v) && v['kind'] === kind) return v;
    }
  }
  throw new Error(`no ${kind} in deploy/k8s`);
}

t.test('every manifest parses', async (t) => {
  const yamlFiles = [...listFiles(fromRoot('deploy'), '.yml'), ...listFiles(fromRoot('deploy'), '.yaml')];
  t.ok(yamlFiles.length >= 15, `${yamlFiles.length} YAML files`);
  for (const file of yamlFiles) {
    const docs = parseAllDocuments(readFileSync(file, 'utf8'));
    const errors = docs.flatMap((d) => d.errors.map((e) => e.message));
    t.same(errors, [], `${file.slice(fromRoot().length)} parses`);
  }
  for (const file of listFiles(fromRoot('dashboards'), '.json')) {
    t.doesNotThrow(() => JSON.parse(readFileSync(file, 'utf8')), `${file.slice(fromRoot().length)} parses`);
  }
});

t.test('the gateway serves the ports, paths and entrypoint the manifests use', async (t) => {
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    t.match(source, `'${path}'`, `src/ defines ${path}`);
  }
  t.match(source, /\b8080\b/, 'src/ defaults to port 8080');
  const pkg: unknown = JSON.parse(text('package.json'));
  t.equal(get(pkg, 'scripts', 'start'), ENTRYPOINT.join(' '), 'npm start runs the same entrypoint');
  t.ok(existsSync(fromRoot('src', 'main.ts')), 'src/main.ts exists');
  t.ok(
    existsSync(fromRoot('dist', 'src', 'main.js')),
    'dist/src/main.js exists (npm test builds first; alone, run `npm run build` before this test)',
  );
});

t.test('Dockerfile', async (t) => {
  const dockerfile = text('Dockerfile');
  const instructions = dockerfile.replace(/\\\n/g, ' ').split('\n').filter((l) => /^[A-Z]+\s/.test(l));
  const froms = instructions.filter((l) => l.startsWith('FROM '));
  t.equal(froms.length, 2, 'multi-stage: build and runtime');
  t.match(dockerfile, /^ARG NODE_IMAGE=node:24-[a-z-]*slim$/m, 'Node 24 LTS slim base');
  t.match(dockerfile, /npm ci --ignore-scripts\n/, 'build stage: full npm ci');
  t.match(dockerfile, /RUN npm run build/, 'build stage: npm run build');
  t.match(dockerfile, /npm ci --omit=dev --ignore-scripts/, 'runtime stage: production dependencies only');
  t.match(dockerfile, /COPY --from=build \/app\/dist \.\/dist/, 'runtime copies dist/');
  t.match(dockerfile, /^USER node$/m, 'runs as the unprivileged node user');
  t.match(dockerfile, new RegExp(`^EXPOSE ${PORT}$`, 'm'));
  t.match(dockerfile, new RegExp(`PORT=${PORT}\\b`));
  t.match(dockerfile, new RegExp(`BELLWETHER_CONFIG=${CONFIG_PATH}\\b`));
  t.match(dockerfile, /HEALTHCHECK[^\n]*\n[^\n]*"node", "-e"[^\n]*\/healthz/, 'HEALTHCHECK probes /healthz with node');
  const cmd = instructions.find((l) => l.startsWith('CMD '));
  t.same(JSON.parse(cmd?.slice(4) ?? 'null'), ENTRYPOINT, 'CMD runs dist/src/main.js');

  const ignored = readFileSync(fromRoot('.dockerignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  for (const line of instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from='))) {
    const sources = line.split(/\s+/).slice(1, -1);
    for (const src of sources) {
      t.ok(existsSync(fromRoot(src)), `COPY source ${src} exists`);
      t.notOk(ignored.includes(src.split('/')[0] ?? src), `COPY source ${src} is not in .dockerignore`);
    }
  }
});

t.test('env vars set by the manifests are read by the gateway', async (t) => {
  const dockerEnv = [...text('Dockerfile').matchAll(/^(?:ENV\s+|\s+)([A-Z_]+)=/gm)].map((m) => m[1] ?? '');
  const compose = readYaml(fromRoot('deploy', 'compose', 'docker-compose.yml'));
  const composeEnv = Object.keys(get(compose, 'x-gateway', 'environment') as object);
  const deployment = k8s('Deployment');
  const container = get(deployment, 'spec', 'template', 'spec', 'containers', 0);
  const k8sEnv = asArray(get(container, 'env')).map((e) => String(get(e, 'name')));
  const interpolated = [text('deploy', 'compose', 'gateway.yaml'), String(get(k8s('ConfigMap'), 'data', 'config.yaml'))].join('\n');

  for (const name of new Set([...dockerEnv, ...composeEnv, ...k8sEnv])) {
    if (name in readByOthers) continue;
    const used = new RegExp(`['"\`.]${name}\\b`).test(source) || interpolated.includes(`\${${name}`);
    t.ok(used, `${name} is read in src/ or interpolated by a mounted config`);
  }
  // OTEL_* are read in src/telemetry/tracing.ts; that only matters if the gateway builds its tracing.
  const wired = sourceFiles.filter((f) => !f.endsWith('tracing.ts') && /\bcreateTracing\(/.test(readFileSync(f, 'utf8')));
  t.ok(wired.length > 0, 'the gateway calls createTracing(), so OTEL_EXPORTER_OTLP_ENDPOINT turns tracing on');
  for (const name of ['PORT', 'BELLWETHER_CONFIG', 'REDIS_URL', 'BELLWETHER_ADMIN_TOKEN', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'LOG_LEVEL']) {
    t.ok(k8sEnv.includes(name) && composeEnv.includes(name), `${name} is set by compose and the Deployment`);
  }
});

t.test('compose: two replicas, Redis, Prometheus, Grafana, Jaeger, all wired to real files', async (t) => {
  const dir = fromRoot('deploy', 'compose');
  const compose = readYaml(join(dir, 'docker-compose.yml'));
  const services = get(compose, 'services');
  t.ok(isRecord(services));
  if (!isRecord(services)) return;
  for (const name of ['gateway-1', 'gateway-2', 'redis', 'prometheus', 'grafana', 'jaeger']) t.ok(name in services, `service ${name}`);

  const gw = get(compose, 'x-gateway');
  t.equal(get(gw, 'environment', 'PORT'), String(PORT));
  t.equal(get(gw, 'environment', 'BELLWETHER_CONFIG'), CONFIG_PATH);
  t.match(String(get(gw, 'environment', 'OTEL_EXPORTER_OTLP_ENDPOINT')), /^http:\/\/jaeger:4318$/, 'traces go to Jaeger OTLP/HTTP');
  t.ok(asArray(get(gw, 'volumes')).includes(`./gateway.yaml:${CONFIG_PATH}:ro`), 'config mounted at BELLWETHER_CONFIG');
  for (const name of ['gateway-1', 'gateway-2']) {
    t.match(String(get(services, name, 'ports', 0)), new RegExp(`:${PORT}$`), `${name} publishes container port ${PORT}`);
  }
  t.ok(asArray(get(services, 'jaeger', 'ports')).some((p) => String(p).startsWith('4318:4318')), 'Jaeger accepts OTLP/HTTP');

  // Every bind mount points at a file or folder in the repo.
  for (const [name, svc] of Object.entries(services)) {
    for (const v of asArray(get(svc, 'volumes'))) {
      const src = String(v).split(':')[0] ?? '';
      if (src.startsWith('.')) t.ok(existsSync(resolve(dir, src)), `${name}: ${src} exists`);
    }
  }
  const gatewayVolumes = asArray(get(gw, 'volumes')).map((v) => String(v).split(':')[0] ?? '');
  for (const src of gatewayVolumes) t.ok(existsSync(resolve(dir, src)), `gateway: ${src} exists`);

  const prometheusMounts = asArray(get(services, 'prometheus', 'volumes')).map(String);
  for (const rules of ruleFiles) {
    t.ok(prometheusMounts.some((m) => resolve(dir, m.split(':')[0] ?? '') === rules), `Prometheus loads ${rules.slice(fromRoot().length)}`);
  }
  const scrape = readYaml(join(dir, 'prometheus.yml'));
  t.same(get(scrape, 'rule_files'), ['/etc/prometheus/rules/*.yml']);
  t.equal(get(scrape, 'scrape_configs', 0, 'metrics_path'), '/metrics');
  t.same(get(scrape, 'scrape_configs', 0, 'static_configs', 0, 'targets'), [`gateway-1:${PORT}`, `gateway-2:${PORT}`]);

  const dashboards = readYaml(join(dir, 'grafana', 'provisioning', 'dashboards', 'bellwether.yml'));
  const dashboardMount = asArray(get(services, 'grafana', 'volumes')).map(String).find((m) => m.startsWith('../../dashboards:'));
  t.equal(dashboardMount?.split(':')[1], get(dashboards, 'providers', 0, 'options', 'path'), 'Grafana reads the dashboards folder it mounts');
  const datasources = readYaml(join(dir, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'));
  t.equal(get(datasources, 'datasources', 0, 'type'), 'prometheus');
  t.equal(get(datasources, 'datasources', 0, 'url'), 'http://prometheus:9090');
});

t.test('Kubernetes: probes, ports, security, graceful shutdown, and consistent selectors', async (t) => {
  const deployment = k8s('Deployment');
  const pod = get(deployment, 'spec', 'template', 'spec');
  const container = get(pod, 'containers', 0);
  const podLabels = get(deployment, 'spec', 'template', 'metadata', 'labels');

  t.same(get(container, 'command'), ENTRYPOINT);
  t.same(get(container, 'ports', 0), { name: 'http', containerPort: PORT, protocol: 'TCP' });
  t.same(get(container, 'livenessProbe', 'httpGet'), { path: '/healthz', port: 'http' });
  t.same(get(container, 'readinessProbe', 'httpGet'), { path: '/readyz?degraded=ok', port: 'http' });
  t.same(get(container, 'startupProbe', 'httpGet'), { path: '/healthz', port: 'http' });
  const env = new Map(asArray(get(container, 'env')).map((e) => [String(get(e, 'name')), e]));
  t.equal(get(env.get('PORT'), 'value'), String(PORT));
  t.equal(get(env.get('BELLWETHER_CONFIG'), 'value'), CONFIG_PATH);
  const mount = asArray(get(container, 'volumeMounts')).find((m) => get(m, 'name') === 'config');
  t.equal(get(mount, 'mountPath'), dirname(CONFIG_PATH), 'config volume mounted where BELLWETHER_CONFIG points');

  t.equal(get(pod, 'securityContext', 'runAsNonRoot'), true);
  t.equal(get(container, 'securityContext', 'readOnlyRootFilesystem'), true);
  t.equal(get(container, 'securityContext', 'allowPrivilegeEscalation'), false);
  t.same(get(container, 'securityContext', 'capabilities', 'drop'), ['ALL']);
  t.ok(get(container, 'resources', 'requests', 'cpu') && get(container, 'resources', 'limits', 'memory'), 'resources set');

  const configMap = k8s('ConfigMap');
  const grace = Number(get(pod, 'terminationGracePeriodSeconds'));
  const preStop = asArray(get(container, 'lifecycle', 'preStop', 'exec', 'command')).map(String);
  t.equal(preStop[0], 'sleep', 'preStop sleeps so endpoints drain before SIGTERM');
  const drainMs = Number(get(readYamlText(String(get(configMap, 'data', 'config.yaml'))), 'server', 'shutdownGraceMs'));
  t.ok(Number(preStop[1]) * 1000 + drainMs < grace * 1000, `preStop ${preStop[1]}s + drain ${drainMs}ms < grace ${grace}s`);

  t.equal(get(pod, 'volumes', 0, 'configMap', 'name'), get(configMap, 'metadata', 'name'));
  const secret = k8s('Secret');
  for (const e of env.values()) {
    const ref = get(e, 'valueFrom', 'secretKeyRef');
    if (ref === undefined) continue;
    t.equal(get(ref, 'name'), get(secret, 'metadata', 'name'), `${String(get(e, 'name'))} reads the documented Secret`);
    t.ok(isRecord(get(secret, 'stringData')) && String(get(ref, 'key')) in (get(secret, 'stringData') as object), `secret key ${String(get(ref, 'key'))} documented`);
  }

  const matches = (selector: unknown): boolean =>
    isRecord(selector) && Object.entries(selector).every(([k, v]) => get(podLabels, k) === v);
  t.ok(matches(get(deployment, 'spec', 'selector', 'matchLabels')), 'Deployment selector matches its pods');
  const service = k8s('Service');
  t.ok(matches(get(service, 'spec', 'selector')), 'Service selects the pods');
  t.same(get(service, 'spec', 'ports', 0), { name: 'http', port: PORT, targetPort: 'http', protocol: 'TCP' });
  t.ok(matches(get(k8s('PodDisruptionBudget'), 'spec', 'selector', 'matchLabels')), 'PDB selects the pods');
  const hpa = k8s('HorizontalPodAutoscaler');
  t.equal(get(hpa, 'spec', 'scaleTargetRef', 'name'), get(deployment, 'metadata', 'name'));
  t.ok(Number(get(hpa, 'spec', 'minReplicas')) >= 2, 'HPA keeps at least two replicas');
  // With spec.replicas set, every `kubectl apply -k` resets the Deployment to that count, undoing the
  // HPA's scale-up under load until it reacts again.
  t.equal(get(deployment, 'spec', 'replicas'), undefined, 'the Deployment leaves the replica count to the HPA');
  const monitor = k8s('ServiceMonitor');
  const serviceLabels = get(service, 'metadata', 'labels');
  const monitorSelector = get(monitor, 'spec', 'selector', 'matchLabels');
  t.ok(isRecord(monitorSelector) && Object.entries(monitorSelector).every(([k, v]) => get(serviceLabels, k) === v), 'ServiceMonitor selects the Service');
  t.same(get(monitor, 'spec', 'endpoints', 0, 'port'), 'http');
  t.same(get(monitor, 'spec', 'endpoints', 0, 'path'), '/metrics');

  const kustomization = readYaml(fromRoot('deploy', 'k8s', 'kustomization.yaml'));
  for (const r of asArray(get(kustomization, 'resources')).map(String)) {
    t.ok(existsSync(fromRoot('deploy', 'k8s', r)), `kustomization resource ${r} exists`);
  }
});

t.test('Kubernetes: the nightly eval CronJob runs the real CLI, with secrets and a hardened pod', async (t) => {
  const cronJob = k8s('CronJob');
  const pod = get(cronJob, 'spec', 'jobTemplate', 'spec', 'template', 'spec');
  const container = get(pod, 'containers', 0);
  t.equal(get(cronJob, 'spec', 'concurrencyPolicy'), 'Forbid', 'a slow night does not overlap the next');
  t.equal(get(pod, 'restartPolicy'), 'Never');

  // The same image the Deployment runs (kustomization.yaml tags it): eval client and gateway agree.
  const deploymentImage = String(get(k8s('Deployment'), 'spec', 'template', 'spec', 'containers', 0, 'image'));
  t.equal(String(get(container, 'image')).split(':')[0], deploymentImage.split(':')[0], 'the gateway image');

  // `bellwether eval run` with options the CLI defines.
  const script = [...asArray(get(container, 'command')), ...asArray(get(container, 'args'))].map(String).join(' ');
  t.match(script, /\bnode bin\/bellwether\.js eval run\b/, 'runs `bellwether eval run` from the image');
  t.ok(existsSync(fromRoot('bin', 'bellwether.js')), 'bin/bellwether.js exists');
  const evalCli = text('src', 'cli', 'eval.ts');
  for (const flag of new Set([...script.matchAll(/\s(--[a-z-]+)/g)].map((m) => m[1] ?? ''))) {
    t.match(evalCli, new RegExp(`[oO]ption\\('(-[a-z], )?${flag}\\b`), `eval run has ${flag}`);
  }
  t.match(script, /--suite \/evals\/\S+\.yaml/, 'the suite from the mounted ConfigMap');
  t.match(script, /--split (regression|full|holdout)\b/, 'a split the CLI knows');

  // Credentials come from the documented Secret, never as literal values.
  const secret = k8s('Secret');
  const service = k8s('Service');
  for (const e of asArray(get(container, 'env'))) {
    const name = String(get(e, 'name'));
    const ref = get(e, 'valueFrom', 'secretKeyRef');
    if (ref === undefined) {
      t.notMatch(name, /KEY|TOKEN|SECRET|PASSWORD|REDIS_URL/, `${name} is not a credential given as a literal`);
      continue;
    }
    t.equal(get(ref, 'name'), get(secret, 'metadata', 'name'), `${name} reads the documented Secret`);
    t.ok(String(get(ref, 'key')) in (get(secret, 'stringData') as object), `secret key ${String(get(ref, 'key'))} documented`);
  }
  const url = asArray(get(container, 'env')).find((e) => get(e, 'name') === 'BELLWETHER_URL');
  t.equal(get(url, 'value'), `http://${String(get(service, 'metadata', 'name'))}:${PORT}`, 'BELLWETHER_URL is the gateway Service');

  t.ok(get(container, 'resources', 'requests', 'cpu') && get(container, 'resources', 'limits', 'memory'), 'resources set');
  // Hardened like the Deployment: a namespace enforcing the "restricted" Pod Security Standard (which
  // the gateway's pods meet) must not refuse the eval's pods.
  t.equal(get(pod, 'securityContext', 'runAsNonRoot'), true);
  t.equal(get(pod, 'securityContext', 'seccompProfile', 'type'), 'RuntimeDefault');
  t.equal(get(pod, 'automountServiceAccountToken'), false, 'no Kubernetes API token: the eval needs none');
  t.equal(get(container, 'securityContext', 'allowPrivilegeEscalation'), false);
  t.equal(get(container, 'securityContext', 'readOnlyRootFilesystem'), true);
  t.same(get(container, 'securityContext', 'capabilities', 'drop'), ['ALL']);
});

t.test('PrometheusRule carries exactly the rules promtool tests', async (t) => {
  const rule = k8s('PrometheusRule');
  const expected = ruleFiles.flatMap((f) => asArray(get(readYaml(f), 'groups')));
  t.same(get(rule, 'spec', 'groups'), expected, 'out of date? run: node deploy/k8s/render-prometheusrule.mjs');
  const names = asArray(get(rule, 'spec', 'groups')).map((g) => asString(get(g, 'name')));
  t.equal(new Set(names).size, names.length, 'group names are unique');
});

t.test('the gateway configs shipped with compose and Kubernetes are valid', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bellwether-manifests-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const k8sConfig = join(dir, 'k8s-config.yaml');
  writeFileSync(k8sConfig, String(get(k8s('ConfigMap'), 'data', 'config.yaml')));
  const env = { REDIS_URL: 'redis://127.0.0.1:6379', BELLWETHER_ADMIN_TOKEN: 'a-long-admin-token', OPENAI_API_KEY: 'sk-test' };
  for (const file of [fromRoot('deploy', 'compose', 'gateway.yaml'), k8sConfig]) {
    t.doesNotThrow(() => loadConfigFile(file, env), `${file.startsWith(dir) ? 'k8s ConfigMap config.yaml' : file.slice(fromRoot().length)} is valid`);
    const config = readYamlText(readFileSync(file, 'utf8'));
    t.equal(get(config, 'server', 'port'), PORT);
    t.equal(get(config, 'server', 'host'), '0.0.0.0', 'listens on all interfaces inside a container');
  }
});

function readYamlText(s: string): unknown {
  const [doc] = parseAllDocuments(s);
  return doc?.toJS() as unknown;
}
