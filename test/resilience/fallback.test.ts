// Fallback and circuit breaking: a challenger that still fails after its retries is answered by the
// champion (intention to treat: variant stays challenger, model is the champion), and while the
// challenger's breaker is open its traffic goes straight to the champion — both counted.
import t, { type Test } from 'tap';
import OpenAI from 'openai';
import { request } from 'undici';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { metricValue } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';
import { startLoggedGateway } from './support.js';

async function setup(t: Test, breaker = '{ consecutiveFailures: 2, openSeconds: 600 }') {
  const champion = await new FakeUpstream().start();
  const challenger = await new FakeUpstream().start();
  const gw = await startLoggedGateway(`
providers:
  main: { type: openai-compatible, baseUrl: "${champion.url}/v1" }
  cand: { type: openai-compatible, baseUrl: "${challenger.url}/v1" }
models:
  big: { provider: main, pricing: { inputPerMTok: 2, outputPerMTok: 8 } }
  small: { provider: cand, pricing: { inputPerMTok: 0.1, outputPerMTok: 0.4 } }
routes:
  chat:
    champion: big
    challenger: small
    rollout: { percent: 100 }
    fallback: champion
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 }
    circuitBreaker: ${breaker}
`);
  t.teardown(async () => {
    await gw.close();
    await champion.close();
    await challenger.close();
  });
  return { champion, challenger, gw, client: new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 }) };
}

const MESSAGES: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Hello Bern' }];
const ask = (client: OpenAI) => client.chat.completions.create({ model: 'chat', messages: MESSAGES }).withResponse();
const askStream = (client: OpenAI) => client.chat.completions.create({ model: 'chat', messages: MESSAGES, stream: true }).withResponse();

t.test('a failing challenger is answered by the champion', async (t) => {
  const { challenger, gw, client } = await setup(t, '{ consecutiveFailures: 10 }');
  challenger.inject({ kind: 'status', status: 500 }, 2);
  const { data, response } = await ask(client);
  t.ok(data.choices[0]?.message.content);
  t.equal(response.headers.get('x-bellwether-fallback'), 'true');
  t.equal(response.headers.get('x-bellwether-variant'), 'challenger');
  t.equal(response.headers.get('x-bellwether-model'), 'big');
  t.equal(response.headers.get('x-bellwether-attempts'), '3');

  const line = await gw.requestLine();
  t.equal(line.fallback, 'error');
  t.same(line.attempts?.map((a) => [a.model, a.kind, a.outcome]), [['small', 'first', 'error'], ['small', 'retry', 'error'], ['big', 'fallback', 'success']]);
  const m = await gw.metrics();
  t.equal(metricValue(m, 'bellwether_fallbacks_total', { route: 'chat', variant: 'challenger', from_model: 'small', to_model: 'big', reason: 'error' }), 1);
  t.equal(metricValue(m, 'bellwether_requests_total', { route: 'chat', variant: 'challenger', model: 'big', stream: 'false', outcome: 'success' }), 1, 'variant stays challenger, model is the champion');
  t.equal(metricValue(m, 'bellwether_upstream_requests_total', { route: 'chat', variant: 'challenger', model: 'big', attempt: 'fallback', outcome: 'success' }), 1);
  t.equal(metricValue(m, 'bellwether_upstream_requests_total', { route: 'chat', variant: 'challenger', model: 'small', attempt: 'retry', outcome: 'error', error_class: 'upstream_5xx' }), 1);
});

t.test('streams fall back too (before any byte reached the client)', async (t) => {
  const { challenger, client } = await setup(t, '{ consecutiveFailures: 10 }');
  challenger.inject({ kind: 'reset' }, 2);
  const { data, response } = await askStream(client);
  let text = '';
  for await (const c of data) text += c.choices[0]?.delta.content ?? '';
  t.ok(text.length > 0);
  t.equal(response.headers.get('x-bellwether-fallback'), 'true');
});

t.test('breaker opens on consecutive failures; then traffic goes straight to the champion', async (t) => {
  const { challenger, champion, gw, client } = await setup(t);
  challenger.inject({ kind: 'status', status: 503 }, 2);
  await ask(client); // two failures: the breaker opens, this request falls back
  const before = challenger.requests.length;
  const { response } = await ask(client);
  t.equal(challenger.requests.length, before, 'the open breaker kept the challenger out of it');
  t.equal(response.headers.get('x-bellwether-fallback'), 'true');
  t.equal(response.headers.get('x-bellwether-attempts'), '1');
  t.equal(champion.requests.length, 2);

  const m = await gw.metrics();
  t.equal(metricValue(m, 'bellwether_fallbacks_total', { route: 'chat', variant: 'challenger', reason: 'circuit_open' }), 1);
  t.equal(metricValue(m, 'bellwether_circuit_breaker_state', { model: 'small' }), 2);
  const ready = await request(`${gw.url}/readyz`);
  t.same(((await ready.body.json()) as { circuitBreakers: unknown }).circuitBreakers, { small: 'open' });
});

t.test('half-open probes close the breaker again', async (t) => {
  // Open for 2 s: far longer than reading the state right after the failure takes, even on a loaded
  // machine; then the half-open state is polled for, and may only come once the 2 s have passed.
  const { challenger, gw, client } = await setup(t, '{ consecutiveFailures: 1, openSeconds: 2, halfOpenProbes: 1 }');
  challenger.inject({ kind: 'status', status: 503 }, 1);
  const failedAt = performance.now();
  await ask(client);
  const state = async () => metricValue(await gw.metrics(), 'bellwether_circuit_breaker_state', { model: 'small' });
  t.equal(await state(), 2);
  await waitFor(async () => ((await state()) === 1 ? true : undefined), 15_000, 50);
  t.pass('half-open once openSeconds passed');
  t.ok(performance.now() - failedAt >= 1950, 'not before openSeconds');
  const { response } = await ask(client);
  t.equal(response.headers.get('x-bellwether-model'), 'small', 'the probe went to the challenger');
  t.equal(metricValue(await gw.metrics(), 'bellwether_circuit_breaker_state', { model: 'small' }), 0);
});
