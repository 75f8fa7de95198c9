// The failure-ratio rule of the circuit breaker over its sliding window, with a fake clock: old
// outcomes leave the window, the ratio needs its minimum of requests, and long windows stay exact.
import t, { type Test } from 'tap';
import { request } from 'undici';
import { CircuitBreakers } from '../../src/gateway/circuit-breaker.js';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { FakeAnthropic } from '../../src/simulator/anthropic-server.js';
import { startTestGateway } from '../helpers/gateway.js';

const cfg = { consecutiveFailures: 1_000_000, failureRatio: 0.5, minRequests: 10, windowSeconds: 30, openSeconds: 60, halfOpenProbes: 1 };

t.test('opens once half of the last 30 s failed, with at least minRequests outcomes', async (t) => {
  let now = 0;
  const breakers = new CircuitBreakers(() => now);
  const record = (ok: boolean) => {
    t.ok(breakers.allow('m', cfg) || breakers.state('m') !== 'closed');
    breakers.record('m', ok);
    now += 100;
  };
  for (let i = 0; i < 4; i++) record(false);
  t.equal(breakers.state('m'), 'closed', '4 of 4 failed, but fewer than minRequests');
  for (let i = 0; i < 6; i++) record(true);
  t.equal(breakers.state('m'), 'closed', '4 of 10 failed');
  record(false);
  t.equal(breakers.state('m'), 'closed', '5 of 11');
  record(false);
  t.equal(breakers.state('m'), 'open', '6 of 12 failed');
});

t.test('failures older than the window no longer count', async (t) => {
  let now = 0;
  const breakers = new CircuitBreakers(() => now);
  for (let i = 0; i < 9; i++) {
    breakers.allow('m', cfg);
    breakers.record('m', false);
  }
  now = 31_000; // the nine failures are now outside the window
  for (let i = 0; i < 20; i++) {
    breakers.allow('m', cfg);
    breakers.record('m', i % 3 === 0); // 13 of 20 fail… but only if the old nine were forgotten does it stay exact
    now += 10;
  }
  t.equal(breakers.state('m'), 'open', '13 of 20 in the window failed');

  const fresh = new CircuitBreakers(() => now);
  now = 0;
  for (let i = 0; i < 9; i++) {
    fresh.allow('m', cfg);
    fresh.record('m', false);
  }
  now = 31_000;
  for (let i = 0; i < 20; i++) {
    fresh.allow('m', cfg);
    fresh.record('m', i % 4 !== 0); // 5 of 20 fail: would trip (14 of 29) only if the old failures still counted
    now += 10;
  }
  t.equal(fresh.state('m'), 'closed', '5 of 20 in the window failed');
});

t.test('a window of many thousands of outcomes keeps an exact count', async (t) => {
  let now = 0;
  const breakers = new CircuitBreakers(() => now);
  // 40 s at 1,000 outcomes/s, 40 % failures: never trips, though the window is compacted many times.
  for (let i = 0; i < 40_000; i++) {
    breakers.allow('m', cfg);
    breakers.record('m', i % 5 !== 0 && i % 5 !== 3);
    now += 1;
  }
  t.equal(breakers.state('m'), 'closed', '40 % < 50 %');
  // Then 60 % failures for the next 30 s: the window holds only those, so it trips.
  for (let i = 0; i < 30_000 && breakers.state('m') === 'closed'; i++) {
    breakers.allow('m', cfg);
    breakers.record('m', i % 5 >= 3);
    now += 1;
  }
  t.equal(breakers.state('m'), 'open');
});

t.test("a client's own bad requests do not open the challenger's breaker; upstream trouble still does", async (t) => {
  const champion = await new FakeUpstream().start();
  const challenger = await new FakeUpstream().start();
  const gw = await startTestGateway(`
providers:
  main: { type: openai-compatible, baseUrl: "${champion.url}/v1" }
  cand: { type: openai-compatible, baseUrl: "${challenger.url}/v1" }
models:
  big: { provider: main }
  small: { provider: cand }
routes:
  chat:
    champion: big
    challenger: small
    rollout: { percent: 100 }
    fallback: champion
    retry: { maxAttempts: 1 }
    circuitBreaker: { consecutiveFailures: 2, openSeconds: 600 }
`);
  t.teardown(async () => {
    await gw.close();
    await champion.close();
    await challenger.close();
  });
  const ask = () =>
    request(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], temperature: 7 }),
    });
  const breakers = async () => ((await (await request(`${gw.url}/readyz`)).body.json()) as { circuitBreakers: Record<string, string> }).circuitBreakers;
  const invalid = { error: { message: 'Invalid temperature', type: 'invalid_request_error', param: 'temperature', code: null } };
  // One client sends five invalid requests: both models reject them alike.
  for (let i = 0; i < 5; i++) {
    challenger.inject({ kind: 'status', status: 400, body: invalid });
    champion.inject({ kind: 'status', status: 400, body: invalid });
    const res = await ask();
    t.equal(res.statusCode, 400, 'the client gets its 400');
    await res.body.text();
  }
  t.same(await breakers(), { small: 'closed' }, "the client's 400s say nothing about the challenger's health");
  const ok = await ask();
  await ok.body.text();
  t.equal(ok.headers['x-bellwether-model'], 'small', 'the challenger still answers its share');

  // A 429 or 5xx is the challenger's trouble: those still open it.
  challenger.inject({ kind: 'status', status: 429 }, 2);
  for (let i = 0; i < 2; i++) await (await ask()).body.text();
  t.same(await breakers(), { small: 'open' });
});

/** A champion and an Anthropic or OpenAI-compatible challenger behind a breaker that opens on two failures. */
async function splitGateway(t: Test, challenger: FakeUpstream | FakeAnthropic) {
  const champion = await new FakeUpstream().start();
  const provider = challenger instanceof FakeAnthropic
    ? `{ type: anthropic, baseUrl: "${challenger.url}", apiKey: sk-ant-test-key-0001 }`
    : `{ type: openai-compatible, baseUrl: "${challenger.url}/v1" }`;
  const gw = await startTestGateway(`
providers:
  main: { type: openai-compatible, baseUrl: "${champion.url}/v1" }
  cand: ${provider}
models:
  big: { provider: main }
  small: { provider: cand, upstreamModel: small-2026 }
routes:
  chat:
    champion: big
    challenger: small
    rollout: { percent: 100 }
    fallback: champion
    retry: { maxAttempts: 1 }
    circuitBreaker: { consecutiveFailures: 2, openSeconds: 600 }
`);
  t.teardown(async () => {
    await gw.close();
    await champion.close();
    await challenger.close();
  });
  const ask = async (extra: Record<string, unknown> = {}) => {
    const res = await request(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], ...extra }),
    });
    return { status: res.statusCode, model: res.headers['x-bellwether-model'], text: await res.body.text() };
  };
  const breakers = async () => ((await (await request(`${gw.url}/readyz`)).body.json()) as { circuitBreakers: Record<string, string> }).circuitBreakers;
  return { ask, breakers };
}

t.test("requests the gateway itself refuses to translate for an Anthropic challenger do not open its breaker", async (t) => {
  const claude = await new FakeAnthropic({ apiKey: 'sk-ant-test-key-0001' }).start();
  const { ask, breakers } = await splitGateway(t, claude);
  // Anthropic returns one choice: n = 2 is a 400 from the gateway's translation, not from the model.
  for (let i = 0; i < 5; i++) {
    const res = await ask({ n: 2 });
    t.match(res, { status: 200, model: 'big' }, 'the champion answers what the challenger cannot');
  }
  t.equal(claude.requests.length, 0, 'nothing reached Anthropic');
  t.same(await breakers(), { small: 'closed' });
  t.match(await ask(), { status: 200, model: 'small' }, 'the challenger still answers its share');
});

t.test('a 404 (mistyped upstreamModel) or 402 (billing) from the challenger opens its breaker', async (t) => {
  for (const [status, code] of [[404, 'model_not_found'], [402, 'insufficient_quota']] as const) {
    const challenger = await new FakeUpstream().start();
    const { ask, breakers } = await splitGateway(t, challenger);
    challenger.inject({ kind: 'status', status, body: { error: { message: `HTTP ${status}`, type: 'invalid_request_error', param: null, code } } }, 2);
    for (let i = 0; i < 2; i++) t.match(await ask(), { status: 200, model: 'big' });
    t.same(await breakers(), { small: 'open' }, `${status} is the gateway's config or account, not the client's request`);
  }
});

t.test("after the first token, the client's own 400 does not count; upstream trouble does", async (t) => {
  const challenger = await new FakeUpstream().start();
  const { ask, breakers } = await splitGateway(t, challenger);
  const tooLong = { message: 'maximum context length is 8192 tokens', type: 'invalid_request_error', code: 'context_length_exceeded' };
  const story = { stream: true, messages: [{ role: 'user', content: 'Tell me about Ada Lovelace' }] };
  challenger.inject({ kind: 'stream-error', afterChunks: 3, error: tooLong }, 3);
  for (let i = 0; i < 3; i++) {
    const res = await ask(story);
    t.equal(res.model, 'small');
    t.match(res.text, /context_length_exceeded/, 'the in-band error reached the client');
  }
  t.same(await breakers(), { small: 'closed' });
  challenger.inject({ kind: 'stream-error', afterChunks: 3 }, 2);
  for (let i = 0; i < 2; i++) await ask(story);
  t.same(await breakers(), { small: 'open' }, 'an in-band server_error still counts');
});
