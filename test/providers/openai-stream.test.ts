// The OpenAI provider's streaming exchange (events decoded as chunks arrive, a bounded queue that
// pauses the upstream): a slow reader still gets every event in order, a stopped reader stops the
// upstream, and a cancellation ends the stream with its reason.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { OpenAICompatibleProvider } from '../../src/providers/openai/index.js';
import { Cancellation } from '../../src/providers/cancellation.js';
import { GatewayError } from '../../src/gateway/errors.js';
import type { ModelConfig } from '../../src/config/types.js';
import type { StreamEvent } from '../../src/providers/types.js';

const model = { name: 'm', provider: 'p', upstreamModel: 'gpt-4o-mini' } as unknown as ModelConfig;
const body = (maxTokens: number) => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Tell me everything about Prague.' }],
  stream: true,
  stream_options: { include_usage: true },
  max_tokens: maxTokens,
});

async function collect(events: AsyncIterable<StreamEvent>, delayMs: number): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const event of events) {
    out.push(event);
    if (delayMs > 0) await sleep(delayMs);
  }
  return out;
}

t.test('a slow reader gets every event, in order, exactly as a fast one', async (t) => {
  const upstream = await new FakeUpstream({ simulation: { tokensPerSecond: 1000 } }).start();
  // A high-water mark of 4 events: the upstream is paused and resumed many times over one answer.
  const provider = new OpenAICompatibleProvider('p', { type: 'openai-compatible', baseUrl: `${upstream.url}/v1` } as never, 10_000, 4);
  t.teardown(async () => {
    await provider.close();
    await upstream.close();
  });
  const call = async (delayMs: number) => {
    const res = await provider.call({ operation: 'chat', model, body: body(400), stream: true, cancel: new Cancellation() });
    t.equal(res.kind, 'stream');
    return res.kind === 'stream' ? collect(res.events, delayMs) : [];
  };
  const fast = await call(0);
  const slow = await call(5);
  t.ok(fast.length > 20, `many events (${fast.length}), more than the queue's high-water mark`);
  const text = (events: StreamEvent[]) => events.map((e) => ((e.json?.choices as { delta?: { content?: string } }[] | undefined)?.[0]?.delta?.content ?? '')).join('');
  t.equal(text(slow), text(fast), 'same content');
  t.equal(slow.at(-1)?.data, '[DONE]');
  t.ok(slow.some((e) => e.usage), 'usage reported');
});

t.test('a reader that stops early stops the upstream; a cancellation ends the stream with its reason', async (t) => {
  const upstream = await new FakeUpstream({ simulation: { tokensPerSecond: 50 } }).start();
  const provider = new OpenAICompatibleProvider('p', { type: 'openai-compatible', baseUrl: `${upstream.url}/v1` } as never);
  t.teardown(async () => {
    await provider.close();
    await upstream.close();
  });
  const first = await provider.call({ operation: 'chat', model, body: body(400), stream: true, cancel: new Cancellation() });
  if (first.kind !== 'stream') throw new Error('expected a stream');
  const it = first.events[Symbol.asyncIterator]();
  await it.next();
  await it.return?.();
  t.pass('return() settles');

  const cancel = new Cancellation();
  const second = await provider.call({ operation: 'chat', model, body: body(400), stream: true, cancel });
  if (second.kind !== 'stream') throw new Error('expected a stream');
  const reason = new GatewayError({ status: 504, errorClass: 'timeout', message: 'idle', type: 'api_error', cause: 'idle' });
  setTimeout(() => cancel.abort(reason), 50);
  await t.rejects(collect(second.events, 0), reason, 'the stream ends with the cancellation reason');
});

t.test('a leading BOM is dropped and a character split across chunks arrives whole', async (t) => {
  const { createServer } = await import('node:http');
  const event = (content: string) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
  const wire = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(event('Žluťoučký 请 😀')), Buffer.from('data: [DONE]\n\n')]);
  const cut = wire.indexOf(Buffer.from('😀')) + 2; // inside the 4-byte emoji
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(wire.subarray(0, 2)); // inside the BOM too
    setTimeout(() => res.write(wire.subarray(2, cut)), 20);
    setTimeout(() => res.end(wire.subarray(cut)), 40);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const provider = new OpenAICompatibleProvider('p', { type: 'openai-compatible', baseUrl: `http://127.0.0.1:${port}/v1` } as never);
  t.teardown(async () => {
    await provider.close();
    server.close();
  });
  const res = await provider.call({ operation: 'chat', model, body: body(10), stream: true, cancel: new Cancellation() });
  const events = res.kind === 'stream' ? await collect(res.events, 0) : [];
  t.equal(events.length, 2);
  t.equal((events[0]?.json?.choices as { delta: { content: string } }[] | undefined)?.[0]?.delta.content, 'Žluťoučký 请 😀');
  t.equal(events[1]?.data, '[DONE]');
});

t.test('a call whose cancellation has already ended rejects with its reason and sends nothing', async (t) => {
  const upstream = await new FakeUpstream({}).start();
  const provider = new OpenAICompatibleProvider('p', { type: 'openai-compatible', baseUrl: `${upstream.url}/v1` } as never);
  t.teardown(async () => {
    await provider.close();
    await upstream.close();
  });
  const cancel = new Cancellation();
  const reason = new GatewayError({ status: 499, errorClass: 'client_cancelled', message: 'client closed the connection' });
  cancel.abort(reason);
  const err: unknown = await provider.call({ operation: 'chat', model, body: body(5), stream: true, cancel }).catch((e: unknown) => e);
  t.equal(err, reason);
  t.equal(upstream.requests.length, 0, 'nothing reached the upstream');
});
