// A real Prometheus scrapes a real gateway under traffic. Then every dashboard query and every rule is
// evaluated by Prometheus itself: they must run without errors, and the dashboard's key panels must
// show both arms. This is what catches what parsing cannot (label mismatches, many-to-many joins,
// series that never exist).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { request } from 'undici';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load.js';
import { startGateway } from '../../src/server.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { dashboardPath, dashboardQueries, fromRoot, isRecord, readJson, requireTool, ruleFiles, substituteTemplateVariables } from './support.js';

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}
interface QueryResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: Sample[] };
}

const VARIANTS = ['challenger', 'champion']; // sorted, as variantsIn() returns them

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function getJson(url: string): Promise<unknown> {
  const res = await request(url);
  return res.body.json();
}

/** Grafana's variables for this short run: the whole run fits in every window. */
const forE2e = (expr: string): string => substituteTemplateVariables(expr, { rateInterval: '1m', interval: '1s', range: '5m' });

async function waitFor<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
}

t.test('Prometheus scraping a gateway under traffic: dashboard and rules evaluate, both arms have data', async (t) => {
  const prometheusBin = requireTool('prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'bellwether-prometheus-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const config = loadConfigFile(fromRoot('config', 'default.yaml'), {});
  const gateway = await startGateway({ config, port: 0, host: '127.0.0.1', logger: createLogger('silent') });
  t.teardown(() => gateway.close());
  const gatewayHost = new URL(gateway.url).host;

  // The probe and scrape paths the Dockerfile, compose and Kubernetes manifests use.
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    const res = await request(`${gateway.url}${path}`);
    await res.body.text();
    t.equal(res.statusCode, 200, `gateway answers ${path}`);
  }

  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: ruleFiles,
      scrape_configs: [{ job_name: 'bellwether', metrics_path: '/metrics', static_configs: [{ targets: [gatewayHost] }] }],
    }),
  );
  // The port is probed free and released before Prometheus binds it, so another process can take it
  // in between; Prometheus then exits at once and another port is tried (as helpers/redis.ts does).
  let promLog = '';
  const startPrometheus = async (): Promise<{ child: ChildProcess; prom: string }> => {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const child: ChildProcess = spawn(
        prometheusBin,
        [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      promLog = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        promLog = (promLog + chunk.toString('utf8')).slice(-4000);
      });
      t.teardown(async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          await exited;
        }
      });
      const prom = `http://127.0.0.1:${port}`;
      const state = await waitFor('Prometheus to start', 30_000, async () => {
        if (child.exitCode !== null || child.signalCode !== null) return 'exited';
        const res = await request(`${prom}/-/ready`);
        await res.body.text();
        return res.statusCode === 200 ? 'ready' : undefined;
      });
      if (state === 'ready') return { child, prom };
      if (attempt >= 5 || !/address already in use/i.test(promLog)) throw new Error(`prometheus exited: ${promLog}`);
    }
  };
  const { prom } = await startPrometheus();

  const query = async (expr: string): Promise<QueryResponse> =>
    (await getJson(`${prom}/api/v1/query?query=${encodeURIComponent(expr)}`)) as QueryResponse;

  // Ready, and the pre-created zero series scraped before any traffic (rate() needs a before).
  await waitFor(`Prometheus to scrape the gateway (log: ${promLog})`, 30_000, async () => {
    const r = await query('bellwether_requests_total');
    return (r.data?.result.length ?? 0) > 0 ? true : undefined;
  });
  await sleep(1500);

  // Traffic: distinct users (assignment is sticky by x-user-id), half of them streaming.
  const send = async (i: number): Promise<void> => {
    const res = await request(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': `user-${i}` },
      body: JSON.stringify({ model: 'demo', stream: i % 2 === 0, messages: [{ role: 'user', content: `Say hello to user ${i}.` }] }),
    });
    await res.body.text();
  };
  // 240 users at 10 %: P(no challenger stream at all) = 0.9^120 ≈ 3e-6.
  for (let i = 0; i < 240; i += 40) {
    await Promise.all(Array.from({ length: 40 }, (_, k) => send(i + k)));
  }
  const trafficDone = Date.now();

  const queries = dashboardQueries(readJson(dashboardPath));
  const keyPanels: { title: RegExp; refId?: string }[] = [
    { title: /^Request rate$/ },
    { title: /^User-visible error ratio$/ },
    { title: /^Retries and fallbacks per request$/ },
    { title: /^Request duration/, refId: 'B' },
    { title: /^Time to first token/, refId: 'B' },
    { title: /^Tokens per second$/ },
    { title: /^Cost per request and per successful request$/ },
    { title: /^Spend rate$/ },
    { title: /^In-flight requests$/ },
  ];
  const keyQueries = keyPanels.map((k) => {
    const q = queries.find((x) => k.title.test(x.panelTitle ?? '') && (k.refId === undefined || x.where.endsWith(` ${k.refId}`)));
    if (q === undefined) throw new Error(`no dashboard panel ${String(k.title)}`);
    return q;
  });

  const variantsIn = (r: QueryResponse): string[] =>
    [...new Set((r.data?.result ?? []).filter((s) => Number.isFinite(Number(s.value[1]))).map((s) => s.metric['variant'] ?? ''))].sort();
  const results = await waitFor('both arms in every key panel', 30_000, async () => {
    const all = await Promise.all(keyQueries.map(async (q) => [q, await query(forE2e(q.expr))] as const));
    return all.every(([, r]) => VARIANTS.every((v) => variantsIn(r).includes(v))) ? all : undefined;
  }).catch(async (err: unknown) => {
    t.fail(String(err));
    return Promise.all(keyQueries.map(async (q) => [q, await query(forE2e(q.expr))] as const));
  });
  for (const [q, r] of results) {
    t.same(
      VARIANTS.filter((v) => variantsIn(r).includes(v)),
      VARIANTS,
      `${q.where}: champion and challenger both have data (${JSON.stringify(r.data?.result.map((s) => [s.metric, s.value[1]]))})`,
    );
  }

  const share = queries.filter((q) => q.panelTitle === 'Challenger share: configured vs observed');
  const [configured, observed] = await Promise.all(share.map((q) => query(forE2e(q.expr))));
  t.equal(Number(configured?.data?.result[0]?.value[1]), 0.1, 'configured share is the rollout percent');
  const observedShare = Number(observed?.data?.result[0]?.value[1]);
  t.ok(observedShare > 0 && observedShare < 0.5, `observed challenger share ${observedShare} is near 10 %`);

  const lag = queries.find((q) => q.panelTitle === 'Event-loop lag p99');
  t.ok(((await query(forE2e(lag?.expr ?? ''))).data?.result.length ?? 0) > 0, 'event-loop lag of the gateway replica');

  // Every query on the dashboard runs without a PromQL evaluation error.
  for (const q of queries) {
    const r: QueryResponse = await query(forE2e(q.expr));
    t.equal(r.status, 'success', `${q.where} evaluates${r.error ? `: ${r.error}` : ''}`);
  }

  // The rules load and evaluate cleanly against real series (pre-created zeros included). Polled until
  // every rule has been evaluated after the traffic: a fixed sleep may see none on a loaded machine.
  const readRules = async (): Promise<Record<string, unknown>[]> => {
    const rulesDoc = await getJson(`${prom}/api/v1/rules`);
    const groups = isRecord(rulesDoc) && isRecord(rulesDoc['data']) && Array.isArray(rulesDoc['data']['groups']) ? rulesDoc['data']['groups'] : [];
    return groups.flatMap((g: unknown) => (isRecord(g) && Array.isArray(g['rules']) ? (g['rules'] as unknown[]) : [])).filter(isRecord);
  };
  const evaluatedAfterTraffic = (rule: Record<string, unknown>): boolean => Date.parse(String(rule['lastEvaluation'])) > trafficDone;
  const rules = await waitFor('every rule to evaluate after the traffic', 30_000, async () => {
    const all = await readRules();
    return all.length > 0 && all.every(evaluatedAfterTraffic) ? all : undefined;
  }).catch(async (err: unknown) => {
    t.fail(String(err));
    return readRules();
  });
  t.ok(rules.length >= 20, `${rules.length} rules loaded`);
  for (const rule of rules) {
    t.equal(rule['health'], 'ok', `rule ${String(rule['name'])} evaluates${rule['lastError'] ? `: ${String(rule['lastError'])}` : ''}`);
  }

  // The recording rules behind the alerts see both arms.
  const recorded = await waitFor('recording rules to evaluate', 15_000, async () => {
    const r = await query('route_arm:bellwether_requests:rate10m{route="demo"}');
    return VARIANTS.every((v) => variantsIn(r).includes(v)) ? r : undefined;
  });
  t.same(variantsIn(recorded), VARIANTS, 'route_arm:bellwether_requests:rate10m has both arms');
});

