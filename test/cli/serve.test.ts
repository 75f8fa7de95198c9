// `bellwether serve` / `npm start` refusing to start says why in one line, without a stack trace.
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

async function serve(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['bin/bellwether.js', 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // A last resort for a child that hangs, far beyond the half second a refusal takes.
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  // 'close', not 'exit': only then has everything the child wrote to stderr been read.
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stderr };
}

t.test('an invalid PORT is refused by name', async (t) => {
  for (const port of ['abc', '99999']) {
    const res = await serve([], { PORT: port });
    t.equal(res.code, 3, `PORT=${port}`);
    t.match(res.stderr, new RegExp(`PORT "${port}"`));
    t.notMatch(res.stderr, /\n\s+at /, 'no stack trace');
  }
});

t.test('a port already in use is refused by number', async (t) => {
  const blocker = createServer();
  blocker.listen(0, '0.0.0.0');
  await once(blocker, 'listening');
  t.teardown(() => blocker.close());
  const { port } = blocker.address() as { port: number };
  const res = await serve(['--port', String(port)], {});
  t.equal(res.code, 1);
  t.match(res.stderr, new RegExp(`port ${port}.*already in use`));
  t.notMatch(res.stderr, /\n\s+at /, 'no stack trace');
});
