// From live traffic to evaluation data, as a user sees it: sampled, redacted records for both arms;
// online checks per arm; feedback attributed through the request id.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { request } from 'undici';
import { startTestGateway, metricValue, until } from '../helpers/gateway.js';

const ADMIN = 'admin-token-0123456789';
const PLANTED_EMAIL = 'jane.doe@example.com';
const PLANTED_KEY = 'sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789';

const config = (dir: string) => `
auth:
  adminTokens: [{ name: sre, token: ${ADMIN} }]
providers:
  sim: { type: simulator }
models:
  big: { provider: sim, pricing: { inputPerMTok: 1, outputPerMTok: 2 } }
  small: { provider: sim, pricing: { inputPerMTok: 0.1, outputPerMTok: 0.2 }, simulation: { invalidJsonRate: 0.5 } }
routes:
  demo:
    champion: big
    challenger: small
    rollout: { percent: 50 }
    assignment: { key: "header:x-user-id" }
    sampling: { rate: 1, redact: [{ name: ticket, regex: "TICKET-\\\\d{5}" }] }
    checks: [{ name: valid_json, type: is-json, when: json }]
  quiet:
    champion: big
    sampling: { rate: 0 }
datasets: { dir: ${dir} }
server: { shutdownGraceMs: 1000 }
`;

async function chat(url: string, model: string, user: string, content: string, json = true) {
  const res = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': user },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }], ...(json ? { response_format: { type: 'json_object' } } : {}) }),
  });
  await res.body.text();
  return { status: res.statusCode, id: String(res.headers['x-bellwether-request-id']), variant: String(res.headers['x-bellwether-variant']) };
}

/** Direct HTTP, for polling until the background writer has caught up. */
async function exportedCount(url: string, name: string): Promise<number> {
  const res = await request(`${url}/admin/v1/datasets/${name}/export`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return (await res.body.text()).split('\n').filter(Boolean).length;
}

async function exportDataset(url: string, name: string, extra: string[] = []): Promise<Record<string, unknown>[]> {
  // Async: the gateway runs in this process, so a blocking spawn would deadlock it.
  const res = await cli(['dataset', 'export', name, '--url', url, '--token', ADMIN, ...extra]);
  return res.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const run = promisify(execFile);
async function cli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ['bin/bellwether.js', ...args], { encoding: 'utf8' });
}


t.test('sampled records for both variants, redacted, exportable with the CLI', async (t) => {
  const dir = t.testdir({});
  const gw = await startTestGateway(config(dir));
  t.teardown(() => gw.close());
  const sent = [];
  for (let i = 0; i < 40; i++) {
    sent.push(await chat(gw.url, 'demo', `user-${i}`, `Extract the entities from TICKET-0000${i % 10} for Acme Corp ${i}: contact ${PLANTED_EMAIL}, key ${PLANTED_KEY}`));
  }
  t.ok(sent.some((s) => s.variant === 'challenger') && sent.some((s) => s.variant === 'champion'), 'both arms served');

  await until(() => exportedCount(gw.url, 'demo'), (n) => n >= 40);
  const records = await exportDataset(gw.url, 'demo');
  t.equal(records.length, 40, 'every request sampled at rate 1 (inputs are distinct)');
  const text = JSON.stringify(records);
  t.notMatch(text, PLANTED_EMAIL, 'e-mail redacted');
  t.notMatch(text, PLANTED_KEY, 'API key redacted');
  t.notMatch(text, /TICKET-\d{5}/, 'configured pattern redacted');
  t.match(text, /\[REDACTED:email\]/);
  const first = records[0] as { redactions: number; source: { variant: string; sampling_rate: number; request_id: string }; schema_version: number; usage: unknown; cost_usd: number; latency_s: number };
  t.ok(first.redactions >= 3);
  t.equal(first.schema_version, 1);
  t.equal(first.source.sampling_rate, 1);
  t.ok(first.latency_s >= 0 && first.cost_usd > 0 && first.usage);
  const variants = new Set(records.map((r) => (r.source as { variant: string }).variant));
  t.same([...variants].sort(), ['challenger', 'champion']);
  t.same(new Set(records.map((r) => (r.source as { request_id: string }).request_id)), new Set(sent.map((s) => s.id)), 'records carry the request ids');

  const challengerOnly = await exportDataset(gw.url, 'demo', ['--variant', 'challenger']);
  t.ok(challengerOnly.length > 0 && challengerOnly.every((r) => (r.source as { variant: string }).variant === 'challenger'), 'filter by variant');
  const firstThree = await exportDataset(gw.url, 'demo', ['--limit', '3']);
  t.same(firstThree.map((r) => r.id), records.slice(0, 3).map((r) => r.id), '--limit: the oldest n records');
  for (const limit of ['0', '-1', '2.5', 'ten']) {
    const res = await request(`${gw.url}/admin/v1/datasets/demo/export?limit=${limit}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    t.equal(res.statusCode, 400, `limit=${limit}`);
    t.match(await res.body.json(), { error: { type: 'invalid_request_error', message: /limit/ } });
  }

  const list = await cli(['dataset', 'list', '--url', gw.url, '--token', ADMIN, '--json']);
  t.match(JSON.parse(list.stdout), { datasets: [{ name: 'demo', records: 40 }] });

  const denied = await request(`${gw.url}/admin/v1/datasets`);
  t.equal(denied.statusCode, 401, 'datasets need an admin token');
  await denied.body.text();
  const typo = await request(`${gw.url}/admin/v1/datasets/dmeo/export`, { headers: { authorization: `Bearer ${ADMIN}` } });
  t.equal(typo.statusCode, 404, 'a dataset that is neither stored nor a configured route is not an empty export');
  t.match(await typo.body.json(), { error: { type: 'invalid_request_error', code: 'unknown_dataset', message: /"dmeo".*demo/ } });
  const typoCli = await cli(['dataset', 'export', 'dmeo', '--url', gw.url, '--token', ADMIN]).then(() => ({ code: 0, stderr: '' }), (err: { code: number; stderr: string }) => err);
  t.equal(typoCli.code, 1);
  t.match(typoCli.stderr, /unknown dataset|"dmeo"/);
  const quiet = await request(`${gw.url}/admin/v1/datasets/quiet/export`, { headers: { authorization: `Bearer ${ADMIN}` } });
  t.equal(quiet.statusCode, 200, 'a configured route with nothing sampled yet exports empty');
  t.equal(await quiet.body.text(), '');
  const traversal = await request(`${gw.url}/admin/v1/datasets/..%2Fetc/export`, { headers: { authorization: `Bearer ${ADMIN}` } });
  t.equal(traversal.statusCode, 400);
  await traversal.body.text();

  // The worker reports what it stored a moment after writing it (batched, from a background-priority
  // thread): a record can be exported before its count arrives, so the count is polled for.
  const storedIn = (text: string) =>
    (metricValue(text, 'bellwether_samples_total', { route: 'demo', variant: 'champion', result: 'stored' }) ?? 0) +
    (metricValue(text, 'bellwether_samples_total', { route: 'demo', variant: 'challenger', result: 'stored' }) ?? 0);
  const metrics = await until(async () => (await fetch(`${gw.url}/metrics`)).text(), (text) => storedIn(text) >= 40);
  const fails = (variant: string, model: string) => metricValue(metrics, 'bellwether_quality_checks_total', { route: 'demo', variant, model, check: 'valid_json', result: 'fail' }) ?? -1;
  t.equal(fails('champion', 'big'), 0, 'champion always valid JSON');
  t.ok(fails('challenger', 'small') > 0, 'challenger emits invalid JSON sometimes');
  t.equal(metricValue(metrics, 'bellwether_samples_total', { route: 'demo', variant: 'champion', result: 'dropped' }), 0);
  t.equal(storedIn(metrics), 40);
});

t.test('feedback: attributed by request id, counted, negative feedback samples the response', async (t) => {
  const dir = t.testdir({});
  const gw = await startTestGateway(config(dir));
  t.teardown(() => gw.close());
  const answer = await chat(gw.url, 'quiet', 'u1', 'A plain question about Lisbon', false);
  const post = async (body: unknown) => {
    const res = await request(`${gw.url}/v1/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  };
  // The request-id cache is filled off the request path; give it a moment.
  const ok = await until(() => post({ request_id: answer.id, rating: 'negative', score: 0.1, comment: 'wrong city' }), (r) => r.status === 200);
  t.equal(ok.status, 200);
  t.match(ok.body, { route: 'quiet', variant: 'champion', model: 'big', sampled: true });
  t.equal((await post({ request_id: 'no-such-request', rating: 'positive' })).status, 404);
  t.equal((await post({ request_id: answer.id, rating: 'meh' })).status, 400);
  t.equal((await post({ request_id: answer.id, rating: 'positive', score: 2 })).status, 400);
  t.equal((await post({ rating: 'positive' })).status, 400);

  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.equal(metricValue(metrics, 'bellwether_feedback_total', { route: 'quiet', variant: 'champion', rating: 'negative' }), 1);
  await until(() => exportedCount(gw.url, 'quiet'), (n) => n >= 1);
  const records = await exportDataset(gw.url, 'quiet');
  t.equal(records.length, 1, 'the negatively rated response joined the dataset although the route samples at 0');
  t.same(records[0]?.tags, ['negative_feedback']);
});

t.test('distinct Responses API inputs each become a record; a repeat does not', async (t) => {
  const dir = t.testdir({});
  const gw = await startTestGateway(config(dir));
  t.teardown(() => gw.close());
  const inputs = ['What is the capital of France?', 'Write a haiku about rain', 'Summarise the plot of Hamlet'];
  // Samples are handled in order: once the last input is exported, the repeat was handled too.
  for (const input of [inputs[0], ...inputs]) {
    const res = await request(`${gw.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'demo', input }) });
    await res.body.text();
    t.equal(res.statusCode, 200);
  }
  const exported = async () => {
    const res = await request(`${gw.url}/admin/v1/datasets/demo/export`, { headers: { authorization: `Bearer ${ADMIN}` } });
    return (await res.body.text()).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { request: { params: { input: string } } }).request.params.input);
  };
  t.same(await until(exported, (r) => r.length >= inputs.length), inputs, 'one record per distinct input');
});

t.test('export rejects impossible dates instead of ignoring them', async (t) => {
  const dir = t.testdir({});
  const gw = await startTestGateway(config(dir));
  t.teardown(() => gw.close());
  const exportWith = async (query: string) => {
    const res = await request(`${gw.url}/admin/v1/datasets/demo/export?${query}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    return { status: res.statusCode, body: await res.body.text() };
  };
  t.equal((await exportWith('since=2999-12-01')).status, 200);
  for (const query of ['since=2999-13-01', 'until=2000-01-01T25:00Z', 'since=2026-02-31', 'since=2026-04-31T10:00Z', 'since=yesterday', 'since=2026-03-02&until=2026-03-01']) {
    const res = await exportWith(query);
    t.equal(res.status, 400, query);
    const body = JSON.parse(res.body) as { error: { message: string } };
    t.match(body, { error: { type: 'invalid_request_error', code: 'invalid_request' } });
    t.notMatch(body.error.message, /\\d|\^/, `${query}: says what is wrong in words, not as a regex`);
  }
  t.match(JSON.parse((await exportWith('since=yesterday')).body), { error: { message: /since "yesterday" is not a date.*2026-03-01/ } });
  t.equal((await exportWith('since=2024-02-29&until=2024-02-29T23:59:59Z')).status, 200, 'a leap day, and since = until day');
});

t.test('feedback on a failed challenger request names the challenger and says it was sampled', async (t) => {
  const dir = t.testdir({});
  const gw = await startTestGateway(`
providers: { sim: { type: simulator } }
models:
  big: { provider: sim }
  small: { provider: sim, simulation: { errorRate: 1 } }
routes:
  demo: { champion: big, challenger: small, rollout: { percent: 100 }, retry: { maxAttempts: 1 }, sampling: { rate: 1 } }
datasets: { dir: ${dir} }
server: { shutdownGraceMs: 1000 }
`);
  t.teardown(() => gw.close());
  const answer = await chat(gw.url, 'demo', 'u1', 'hello', false);
  t.equal(answer.status, 500);
  const fb = await until(async () => {
    const res = await request(`${gw.url}/v1/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ request_id: answer.id, rating: 'negative' }) });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  }, (r) => r.status === 200);
  t.match(fb.body, { variant: 'challenger', model: 'small', sampled: true }, 'sampled as an error when it was served');
});

t.test('negative feedback never samples a forced (eval) request', async (t) => {
  const dir = t.testdir({});
  const KEY = 'eval-runner-key-0123456789';
  const gw = await startTestGateway(`
auth:
  clientKeys: [{ name: evals, key: ${KEY}, canForceVariant: true }]
  adminTokens: [{ name: sre, token: ${ADMIN} }]
providers: { sim: { type: simulator } }
models: { big: { provider: sim }, small: { provider: sim } }
routes:
  demo: { champion: big, challenger: small, rollout: { percent: 0 }, sampling: { rate: 1 } }
datasets: { dir: ${dir} }
server: { shutdownGraceMs: 1000 }
`);
  t.teardown(() => gw.close());
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${KEY}` };
  const res = await request(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...headers, 'x-bellwether-variant': 'challenger' },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'eval case 17' }] }),
  });
  await res.body.text();
  const id = String(res.headers['x-bellwether-request-id']);
  const fb = await until(async () => {
    const r = await request(`${gw.url}/v1/feedback`, { method: 'POST', headers, body: JSON.stringify({ request_id: id, rating: 'negative' }) });
    return { status: r.statusCode, body: (await r.body.json()) as Record<string, unknown> };
  }, (r) => r.status === 200);
  t.match(fb.body, { variant: 'challenger', sampled: false });
  // Nothing was handed to the writer (sampled: false), so an empty export now is final.
  t.equal(await exportedCount(gw.url, 'demo'), 0);
});
