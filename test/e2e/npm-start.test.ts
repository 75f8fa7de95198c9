// The README's first run: `npm start` serves the embedded default; SIGTERM lets in-flight streams finish.
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import OpenAI from 'openai';
import { metricValue } from '../helpers/gateway.js';

t.test('npm start → demo route answers; metrics show both arms; SIGTERM drains', async (t) => {
  const child = spawn(process.execPath, ['dist/src/main.js'], { env: { ...process.env, PORT: '0', LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /bellwether listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 3 });
  const res = await client.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: 'Hello from the README' }] });
  t.equal(res.object, 'chat.completion');

  const metrics = await (await fetch(`${url}/metrics`)).text();
  for (const [variant, model] of [['champion', 'sim-large'], ['challenger', 'sim-small']]) {
    t.not(metricValue(metrics, 'bellwether_requests_total', { route: 'demo', variant: variant!, model: model!, stream: 'false', outcome: 'success' }), undefined, `${variant} series exists`);
  }
  t.equal(metricValue(metrics, 'bellwether_rollout_challenger_ratio', { route: 'demo' }), 0.1);

  // A stream in flight when SIGTERM arrives still completes.
  const stream = await client.chat.completions.create({ model: 'demo', stream: true, messages: [{ role: 'user', content: 'A long answer please about Rome' }] }, { headers: { 'x-bellwether-variant': 'champion' } });
  const iterator = stream[Symbol.asyncIterator]();
  const first = await iterator.next();
  t.notOk(first.done);
  child.kill('SIGTERM');
  let text = '';
  for (;;) {
    const next = await iterator.next();
    if (next.done) break;
    text += next.value.choices[0]?.delta?.content ?? '';
  }
  t.match(text, /Rome/, 'stream finished after SIGTERM');
  // 'close', not 'exit': only then has everything the child wrote to stdout been read.
  const [code] = (await once(child, 'close')) as [number];
  t.equal(code, 0, 'exit 0 after draining');
  t.match(out, /shutdown complete/);
});
