// A request held for late feedback (sampling on, not sampled: kept so a negative rating can still
// sample it) keeps its ledger, and the ledger keeps what the answer said — not the reply, the request
// and the socket it was answered on. Before, the deferred summary was a closure made in the request
// handler (and in the stream relay), and a closure keeps the whole scope it was made in.
import t from 'tap';
import { channel } from 'node:diagnostics_channel';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { startTestGateway } from '../helpers/gateway.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

t.test('held ledgers do not keep their replies alive, for JSON answers and streams', async (t) => {
  const upstream = await new FakeUpstream({ simulation: { tokensPerSecond: 5000 } }).start();
  t.teardown(() => upstream.close());
  const dir = t.testdir({});
  const gw = await startTestGateway(`
providers: { up: { type: openai-compatible, baseUrl: "${upstream.url}/v1" } }
models: { mini: { provider: up, upstreamModel: gpt-4o-mini } }
routes: { chat: { champion: mini, sampling: { rate: 0 } } }
datasets: { dir: ${dir} }
`);
  t.teardown(() => gw.close());

  const responses: WeakRef<object>[] = [];
  const finished = channel('http.server.request.start');
  // The fake upstream serves from this process too: only the gateway's replies count.
  const port = Number(new URL(gw.url).port);
  const track = (message: unknown) => {
    const { request, response } = message as { request: { socket: { localPort?: number } }; response: object };
    if (request.socket.localPort === port) responses.push(new WeakRef(response));
  };
  finished.subscribe(track);
  t.teardown(() => finished.unsubscribe(track));

  const N = 20;
  for (let i = 0; i < N; i++) {
    const res = await request(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: `question ${i}` }], max_tokens: 5, stream: i % 2 === 1 }),
    });
    t.equal(res.statusCode, 200);
    await res.body.text();
  }
  // The after-response work (which holds the ledgers for feedback) runs on a later turn.
  await sleep(50);
  let alive = N;
  for (let i = 0; i < 10 && alive > 1; i++) {
    gc();
    await sleep(20);
    alive = responses.filter((r) => r.deref() !== undefined).length;
  }
  t.equal(responses.length, N, 'every reply seen');
  t.ok(alive <= 1, `replies still alive after GC: ${alive} of ${N}`);
});
