// The fake upstreams' injected delays (slow headers, stalls) end when the client goes away, like a
// real server's work for a closed connection: a test that injected a 60 s stall and moved on does
// not keep a timer — and its process — alive for the rest of the minute.
import t from 'tap';
import { request } from 'undici';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { FakeAnthropic } from '../../src/simulator/anthropic-server.js';
import { waitFor } from '../helpers/wait.js';

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** Sends a request, waits until the fake is inside the injected delay, then hangs up. */
async function hangUpOn(url: string, path: string, body: unknown, seen: () => number, before: number): Promise<void> {
  const ac = new AbortController();
  const pending = request(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body), signal: ac.signal }).then(
    (res) => res.body.text(),
    () => undefined,
  );
  await waitFor(() => (seen() > 0 && timers() > before ? true : undefined), 10_000);
  ac.abort();
  await pending.catch(() => undefined);
}

const chat = { model: 'm', messages: [{ role: 'user', content: 'Tell me about Graz.' }], stream: true };
const messages = { model: 'claude', max_tokens: 50, messages: [{ role: 'user', content: 'Tell me about Graz.' }], stream: true };

for (const kind of ['slow-headers', 'stall'] as const) {
  t.test(`OpenAI fake: a ${kind} fault ends when the client hangs up`, async (t) => {
    const upstream = await new FakeUpstream().start();
    t.teardown(() => upstream.close());
    const before = timers();
    upstream.inject(kind === 'stall' ? { kind, afterChunks: 2, ms: 60_000 } : { kind, ms: 60_000 });
    await hangUpOn(upstream.url, '/v1/chat/completions', chat, () => upstream.requests.length, before);
    await waitFor(() => (timers() <= before ? true : undefined), 5_000);
    t.ok(timers() <= before, 'no 60 s timer left behind');
  });

  t.test(`Anthropic fake: a ${kind} fault ends when the client hangs up`, async (t) => {
    const upstream = await new FakeAnthropic().start();
    t.teardown(() => upstream.close());
    const before = timers();
    upstream.inject(kind === 'stall' ? { kind, afterEvents: 2, ms: 60_000 } : { kind, ms: 60_000 });
    await hangUpOn(upstream.url, '/v1/messages', messages, () => upstream.requests.length, before);
    await waitFor(() => (timers() <= before ? true : undefined), 5_000);
    t.ok(timers() <= before, 'no 60 s timer left behind');
  });
}
