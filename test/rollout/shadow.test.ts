// Shadow mode: copies of champion requests go to the challenger in the background. The client only
// ever gets the champion's answer, never waits for or suffers from the copy, and the copies are
// measured as variant="shadow" within the route's budget.
import t from 'tap';
import { request } from 'undici';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { startTestGateway, metricSum, metricValue } from '../helpers/gateway.js';
import { admin, chat, config, waitFor } from './support.js';
import { HourlySpend } from '../../src/rollout/shadow.js';

const slowChallenger = (ms: number, errorRate = 0) =>
  config({ mode: 'shadow', percent: 100, shadow: '{ maxConcurrent: 2, maxUsdPerHour: 1000 }' }).replace(
    '  b: { provider: sim, pricing: { inputPerMTok: 0.1, outputPerMTok: 0.2 } }',
    `  b: { provider: sim, pricing: { inputPerMTok: 0.1, outputPerMTok: 0.2 }, simulation: { latencyMs: { mean: ${ms}, jitter: 0 }, errorRate: ${errorRate} } }`,
  );

async function metrics(url: string): Promise<string> {
  return (await request(`${url}/metrics`)).body.text();
}

const shadowRequests = (text: string, outcome = 'success', errorClass = 'none', stream = 'false') =>
  metricValue(text, 'bellwether_requests_total', { route: 'demo', variant: 'shadow', model: 'b', stream, outcome, error_class: errorClass }) ?? 0;
const skipped = (text: string, reason: string) => metricValue(text, 'bellwether_shadow_skipped_total', { route: 'demo', reason }) ?? 0;

t.test('clients get the champion at once; copies run behind them, bounded by maxConcurrent', async (t) => {
  // Copies that take 5 s: answering the ten clients and reading the metrics below takes a small
  // fraction of that even on a loaded machine, so the first two copies are still running throughout.
  const gw = await startTestGateway(slowChallenger(5000));
  t.teardown(() => gw.close());
  const served = await Promise.all(Array.from({ length: 10 }, (_, i) => chat(gw.url, `u${i}`)));
  t.ok(served.every((s) => s.status === 200 && s.variant === 'champion' && s.model === 'a'), 'every client answered by the champion');
  const during = await metrics(gw.url);
  t.equal(shadowRequests(during), 0, 'clients were answered while the shadow calls were still running');
  t.equal(skipped(during, 'concurrency'), 8, 'copies beyond maxConcurrent are skipped and counted');
  t.equal(metricValue(during, 'bellwether_inflight_requests', { route: 'demo', variant: 'champion' }), 0);

  const after = await waitFor(async () => {
    const text = await metrics(gw.url);
    return shadowRequests(text) === 2 ? text : undefined;
  }, 30_000);
  t.ok((metricValue(after, 'bellwether_cost_usd_total', { route: 'demo', variant: 'shadow', model: 'b' }) ?? 0) > 0, 'shadow spend measured');
  t.ok((metricValue(after, 'bellwether_tokens_total', { route: 'demo', variant: 'shadow', model: 'b', type: 'output' }) ?? 0) > 0, 'shadow tokens measured');
  t.equal(metricValue(after, 'bellwether_requests_total', { route: 'demo', variant: 'champion', model: 'a', stream: 'false', outcome: 'success', error_class: 'none' }), 10, 'champion series untouched by shadows');
  t.equal(metricValue(after, 'bellwether_requests_total', { route: 'demo', variant: 'challenger', model: 'b', stream: 'false', outcome: 'success', error_class: 'none' }), 0, 'nobody assigned to the challenger');
});

t.test('a failing challenger never fails the client', async (t) => {
  const gw = await startTestGateway(slowChallenger(0, 1));
  t.teardown(() => gw.close());
  const served = await chat(gw.url, 'u1');
  t.match(served, { status: 200, variant: 'champion', model: 'a' });
  await waitFor(async () => (shadowRequests(await metrics(gw.url), 'error', 'upstream_5xx') === 1 ? true : undefined));
  t.pass('the shadow failure is measured as variant="shadow", outcome="error"');
});

t.test('streamed requests are copied as streams and get a TTFT', async (t) => {
  const gw = await startTestGateway(slowChallenger(0));
  t.teardown(() => gw.close());
  const res = await request(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'demo', stream: true, messages: [{ role: 'user', content: 'hello there' }] }),
  });
  t.match(await res.body.text(), /\[DONE\]/);
  const text = await waitFor(async () => {
    const m = await metrics(gw.url);
    return shadowRequests(m, 'success', 'none', 'true') === 1 ? m : undefined;
  });
  t.match(text, /bellwether_time_to_first_token_seconds_count\{route="demo",variant="shadow",model="b"\} 1/);
});

t.test('streamed Responses-API requests are copied and get a TTFT too', async (t) => {
  const gw = await startTestGateway(slowChallenger(0));
  t.teardown(() => gw.close());
  const res = await request(`${gw.url}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'demo', stream: true, input: 'hello there' }),
  });
  t.match(await res.body.text(), /response\.completed/);
  const text = await waitFor(async () => {
    const m = await metrics(gw.url);
    return shadowRequests(m, 'success', 'none', 'true') === 1 ? m : undefined;
  });
  t.match(text, /bellwether_time_to_first_token_seconds_count\{route="demo",variant="shadow",model="b"\} 1/, 'the shadow arm has TTFT data to compare');
});

t.test("a shadow stream that opens with reasoning gets its TTFT at the first reasoning delta, as the client's would", async (t) => {
  // A reasoning model (vLLM, DeepSeek) thinks for 2 s before the answer's first word: timed from the
  // answer, the TTFT could not be below that; from the reasoning it is milliseconds, with 2 s to spare
  // for a loaded machine.
  const thinkMs = 2000;
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'r1', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const thinker = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk({ role: 'assistant', content: '' }) + chunk({ reasoning_content: 'The user greets me.' }));
      setTimeout(() => res.end(chunk({ content: 'Hello!' }) + chunk({}, 'stop') + 'data: [DONE]\n\n'), thinkMs);
    });
  });
  await new Promise<void>((resolve) => thinker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    thinker.closeAllConnections();
    thinker.close();
  });
  const yaml = config({ mode: 'shadow', percent: 100, shadow: '{ maxConcurrent: 2, maxUsdPerHour: 1000 }' })
    .replace('  sim: { type: simulator }', `  sim: { type: simulator }\n  thinker: { type: openai-compatible, baseUrl: "http://127.0.0.1:${(thinker.address() as AddressInfo).port}/v1" }`)
    .replace('  b: { provider: sim,', '  b: { provider: thinker,');
  const gw = await startTestGateway(yaml);
  t.teardown(() => gw.close());
  const res = await request(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'demo', stream: true, messages: [{ role: 'user', content: 'hello there' }] }),
  });
  t.match(await res.body.text(), /\[DONE\]/);
  const text = await waitFor(async () => {
    const m = await metrics(gw.url);
    return shadowRequests(m, 'success', 'none', 'true') === 1 ? m : undefined;
  });
  const ttft = metricValue(text, 'bellwether_time_to_first_token_seconds_sum', { route: 'demo', variant: 'shadow', model: 'b' });
  t.ok(ttft !== undefined && ttft < thinkMs / 1000, `shadow TTFT is the reasoning delta, not the answer ${thinkMs} ms later (${String(ttft)} s)`);
});

t.test('shutdown ends shadow calls in flight instead of waiting for them, and does not measure them', async (t) => {
  // A challenger that takes the copy and never answers: a provider's pool waits for it at shutdown.
  let copies = 0;
  let ended!: () => void;
  const endedOnce = new Promise<void>((resolve) => (ended = resolve));
  const silent = createServer((req) => {
    copies++;
    req.resume();
    req.on('close', () => ended());
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    silent.closeAllConnections();
    silent.close();
  });
  const port = (silent.address() as AddressInfo).port;
  const yaml = config({ mode: 'shadow', percent: 100, shadow: '{ maxConcurrent: 2, maxUsdPerHour: 1000 }' })
    .replace('  sim: { type: simulator }', `  sim: { type: simulator }\n  silent: { type: openai-compatible, baseUrl: "http://127.0.0.1:${port}/v1" }`)
    .replace('  b: { provider: sim,', '  b: { provider: silent,');
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const gw = await startTestGateway(yaml, {}, { logger });
  t.match(await chat(gw.url, 'u1'), { status: 200, variant: 'champion' });
  await waitFor(async () => (copies === 1 ? true : undefined));

  const closed = await Promise.race([gw.close().then(() => 'closed'), sleep(20_000, undefined, { ref: false }).then(() => 'still waiting after 20 s')]);
  t.equal(closed, 'closed', 'the shutdown did not wait for the silent challenger');
  await endedOnce;
  t.pass('the shadow request to the challenger was ended');
  t.match(lines.find((l) => l.shadow_calls !== undefined), { shadow_calls: 1, msg: /ended 1 shadow call/ }, 'the shutdown says what it ended');
  const text = await gw.gateway.ctx.metrics.registry.metrics();
  t.equal(metricSum(text, 'bellwether_requests_total', { variant: 'shadow' }), 0, 'the ended call is not counted as a challenger error');
});

t.test('the hourly USD budget skips copies once spent', async (t) => {
  const gw = await startTestGateway(slowChallenger(0).replace('maxUsdPerHour: 1000', 'maxUsdPerHour: 0.000000001'));
  t.teardown(() => gw.close());
  await chat(gw.url, 'first');
  await waitFor(async () => (shadowRequests(await metrics(gw.url)) === 1 ? true : undefined));
  for (const u of ['u2', 'u3', 'u4']) await chat(gw.url, u);
  const text = await metrics(gw.url);
  t.equal(skipped(text, 'budget'), 3);
  t.equal(shadowRequests(text), 1);
});

t.test('no copies in split mode, for forced requests, or on routes that forbid shadowing', async (t) => {
  const split = await startTestGateway(config({ mode: 'split', percent: 0 }));
  t.teardown(() => split.close());
  const forbidden = await startTestGateway(config({ mode: 'shadow', percent: 100, shadow: '{ allowed: false }' }));
  t.teardown(() => forbidden.close());
  const forced = await startTestGateway(config({ mode: 'shadow', percent: 100 }));
  t.teardown(() => forced.close());
  for (const gw of [split, forbidden]) for (const u of ['u1', 'u2']) await chat(gw.url, u);
  const res = await request(`${forced.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-bellwether-variant': 'champion' },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.body.text();
  // Any copy would have been started synchronously after the response; give it time to be counted.
  await new Promise((resolve) => setTimeout(resolve, 200));
  for (const gw of [split, forbidden, forced]) t.equal(shadowRequests(await metrics(gw.url)), 0);
});

t.test('the challenger share gauge says nobody is assigned to the challenger in shadow mode', async (t) => {
  const gw = await startTestGateway(config({ mode: 'shadow', percent: 100 }));
  t.teardown(() => gw.close());
  const served = await Promise.all(['u1', 'u2', 'u3'].map((u) => chat(gw.url, u)));
  t.ok(served.every((s) => s.variant === 'champion'), 'every user is on the champion');
  // The dashboard compares this gauge with the observed challenger share; copies are not assignments.
  let text = await metrics(gw.url);
  t.equal(metricValue(text, 'bellwether_rollout_challenger_ratio', { route: 'demo' }), 0, 'share 0 while only copies go to the challenger');
  t.equal(metricValue(text, 'bellwether_rollout_info', { route: 'demo', mode: 'shadow' }), 1, 'the mode is on the info series');
  t.equal((await admin(gw.url, 'PUT', '/routes/demo/rollout', { percent: 100, mode: 'split', reason: 'go live' })).status, 200);
  text = await metrics(gw.url);
  t.equal(metricValue(text, 'bellwether_rollout_challenger_ratio', { route: 'demo' }), 1, 'split: users assigned');
});

t.test('HourlySpend forgets spend older than an hour', async (t) => {
  const spend = new HourlySpend();
  const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);
  spend.add(1, t0);
  spend.add(2, t0 + 30 * 60_000);
  t.equal(spend.total(t0 + 59 * 60_000), 3);
  t.equal(spend.total(t0 + 61 * 60_000), 2, 'the first minute fell out of the window');
  spend.add(4, t0 + 120 * 60_000);
  t.equal(spend.total(t0 + 120 * 60_000), 4, 'a reused bucket starts from zero');
});
