// A client that disconnects mid-stream: the upstream request is aborted at once (the upstream sees its
// socket close long before its answer would have ended), recorded as client_cancelled, and the tokens
// already billed are still counted.
import t from 'tap';
import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { FakeAnthropic } from '../../src/simulator/anthropic-server.js';
import { metricValue } from '../helpers/gateway.js';
import { startLoggedGateway } from './support.js';

/** A TCP pass-through in front of an upstream that reports when the gateway closes its connection. */
async function tcpTap(target: string) {
  const { port } = new URL(target);
  const closed: Socket[] = [];
  let onClose: () => void = () => {};
  const server = createServer((client) => {
    const upstream = connect(Number(port), '127.0.0.1');
    client.pipe(upstream).pipe(client);
    client.on('close', () => {
      upstream.destroy();
      closed.push(client);
      onClose();
    });
    upstream.on('close', () => client.destroy());
    client.on('error', () => {});
    upstream.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    closedOnce: () => new Promise<void>((resolve) => (closed.length > 0 ? resolve() : (onClose = resolve))),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Starts a stream, reads until the first content arrives, then drops the connection. */
async function readThenDisconnect(url: string, body: unknown): Promise<void> {
  const controller = new AbortController();
  const res = await request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: controller.signal });
  let seen = '';
  for await (const chunk of res.body) {
    seen += (chunk as Buffer).toString();
    if (/"content":"[^"]/.test(seen)) break;
  }
  controller.abort();
}

t.test('OpenAI upstream: aborted at once, client_cancelled, billed tokens estimated and priced', async (t) => {
  // 2 tokens a second: the full answer would take half a minute.
  const upstream = await new FakeUpstream({ simulation: { tokensPerSecond: 2 } }).start();
  const tap = await tcpTap(upstream.url);
  const gw = await startLoggedGateway(`
providers: { openai: { type: openai, baseUrl: "${tap.url}/v1" } }
models: { mini: { provider: openai, upstreamModel: gpt-4o-mini } }
routes: { chat: { champion: mini } }
`);
  t.teardown(async () => {
    await gw.close();
    await tap.close();
    await upstream.close();
  });
  await readThenDisconnect(gw.url, { model: 'chat', messages: [{ role: 'user', content: 'Tell me about Prague.' }], stream: true });
  await tap.closedOnce();
  t.pass('the upstream connection was closed when the client left');
  const line = await gw.requestLine();
  t.equal(line.error_class, 'client_cancelled');
  t.equal(line.status, 499);
  t.ok((line.tokens?.input ?? 0) > 0 && (line.tokens?.output ?? 0) >= 1, 'prompt and generated tokens counted');
  t.equal(line.cost_provenance, 'estimated');
  const m = await gw.metrics();
  t.equal(metricValue(m, 'bellwether_requests_total', { route: 'chat', variant: 'champion', stream: 'true', outcome: 'error', error_class: 'client_cancelled' }), 1);
  t.ok((metricValue(m, 'bellwether_cost_usd_total', { route: 'chat', variant: 'champion', model: 'mini' }) ?? 0) > 0);
});

t.test('Anthropic upstream: the stream is abandoned, and input billed from message_start is exact', async (t) => {
  const fake = await new FakeAnthropic({ simulation: { tokensPerSecond: 2 }, cache: { read: 40 } }).start();
  const gw = await startLoggedGateway(`
providers: { claude: { type: anthropic, baseUrl: "${fake.url}", apiKey: sk-ant-test-key } }
models: { sonnet: { provider: claude, upstreamModel: claude-sonnet-4-5 } }
routes: { chat: { champion: sonnet } }
`);
  t.teardown(async () => {
    await gw.close();
    await fake.close();
  });
  await readThenDisconnect(gw.url, { model: 'chat', messages: [{ role: 'user', content: 'Tell me about Prague.' }], stream: true });
  const line = await gw.requestLine();
  t.equal(line.error_class, 'client_cancelled');
  t.equal(line.tokens?.cachedInput, 40, 'reported usage, not an estimate');
  t.notOk(line.attempts?.[0]?.usage_estimated);
  t.equal(line.cost_provenance, 'computed');
  while (fake.abandonedStreams === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(fake.abandonedStreams, 1, 'the fake saw its stream closed before the end');
});
