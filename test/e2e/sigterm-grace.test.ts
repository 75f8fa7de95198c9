// PRODUCT.md section 2: SIGTERM exits 0 — also when the grace period runs out with a stream still
// going; the operator learns from a warning how many requests were cut.
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';

t.test('SIGTERM with a stream outliving the grace period: exit 0 and a warning naming the cut requests', async (t) => {
  const file = join(t.testdir(), 'gateway.yaml');
  writeFileSync(
    file,
    `
server: { shutdownGraceMs: 300 }
providers:
  sim: { type: simulator }
models:
  slow: { provider: sim, simulation: { firstTokenMs: { mean: 10, jitter: 0 }, tokensPerSecond: 5 } }
routes:
  demo: { champion: slow }
`,
  );
  const child = spawn(process.execPath, ['dist/src/main.js'], { env: { ...process.env, BELLWETHER_CONFIG: file, PORT: '0', LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
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
  const res = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'demo', stream: true, max_tokens: 200, messages: [{ role: 'user', content: 'A long answer please' }] }),
  });
  t.equal(res.statusCode, 200);
  res.body.on('data', () => undefined).on('error', () => undefined);
  await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGTERM');
  // 'close', not 'exit': only then has everything the child wrote to stdout been read.
  const [code] = (await once(child, 'close')) as [number];
  t.equal(code, 0, 'exit 0: the shutdown went as configured');
  const warning = out.split('\n').filter((l) => l.includes('grace period over')).map((l) => JSON.parse(l) as { level: number; cut_requests: number });
  t.equal(warning.length, 1);
  t.equal(warning[0]?.level, 40, 'logged as a warning');
  t.equal(warning[0]?.cut_requests, 1, 'saying how many requests were cut');
});
