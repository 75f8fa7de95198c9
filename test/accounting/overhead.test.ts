// bellwether_gateway_overhead_seconds and the wide line's overhead_ms are the gateway's own time on a
// request. A retry's backoff (Retry-After) is time spent waiting on the upstream's say-so, not gateway
// work: counted as overhead, one 429 made the gateway look a second slow.
import t from 'tap';
import OpenAI from 'openai';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { metricValue } from '../helpers/gateway.js';
import { startLoggedGateway } from '../resilience/support.js';

t.test('a Retry-After backoff is not gateway overhead', async (t) => {
  const upstream = await new FakeUpstream({ apiKey: 'sk-upstream-1' }).start();
  const gw = await startLoggedGateway(`
providers: { openai: { type: openai, baseUrl: "${upstream.url}/v1", apiKey: sk-upstream-1 } }
models: { mini: { provider: openai, upstreamModel: gpt-4o-mini } }
routes: { chat: { champion: mini, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 10, maxRetryAfterMs: 5000 } } }
`);
  t.teardown(async () => {
    await gw.close();
    await upstream.close();
  });
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  upstream.inject({ kind: 'status', status: 429, retryAfter: '1' });
  const started = performance.now();
  await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Hello Rome' }] });
  t.ok(performance.now() - started >= 1000, 'the gateway honoured Retry-After: 1');

  const line = await gw.requestLine();
  t.ok(Number(line.overhead_ms) < 500, `overhead_ms ${String(line.overhead_ms)} excludes the 1 s backoff`);
  const m = await gw.metrics();
  const sum = metricValue(m, 'bellwether_gateway_overhead_seconds_sum', { route: 'chat', stream: 'false' }) ?? NaN;
  t.ok(sum < 0.5, `bellwether_gateway_overhead_seconds_sum ${sum} excludes the 1 s backoff`);
  t.equal(metricValue(m, 'bellwether_gateway_overhead_seconds_count', { route: 'chat', stream: 'false' }), 1);
});
