// `bellwether dataset export` failing for the user's reasons says so in one line and exits 1.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestGateway, until } from '../helpers/gateway.js';

const ADMIN = 'admin-token-0123456789';
const run = promisify(execFile);

// Async: the gateway runs in this process, so a blocking spawn would deadlock it.
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, ['bin/bellwether.js', ...args], { encoding: 'utf8' }).then(
    (r) => ({ code: 0, ...r }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );
}

/** Route `demo` samples everything into `dir`. */
function sampledGateway(dir: string) {
  return startTestGateway(`
auth: { adminTokens: [{ name: sre, token: ${ADMIN} }] }
providers: { sim: { type: simulator } }
models: { big: { provider: sim } }
routes: { demo: { champion: big, sampling: { rate: 1 } } }
datasets: { dir: ${dir} }
`);
}

t.test('an unusable --url or --out is one line, exit 1, no stack trace', async (t) => {
  const dir = t.testdir({});
  const gw = await sampledGateway(dir);
  t.teardown(() => gw.close());

  const badUrl = await cli(['dataset', 'export', 'demo', '--url', 'localhost-8080', '--token', ADMIN]);
  t.equal(badUrl.code, 1);
  t.match(badUrl.stderr, /^bellwether: .*localhost-8080.*\n$/);
  t.notMatch(badUrl.stderr, /\n\s+at /);

  const out = join(dir, 'no-such-dir', 'demo.jsonl');
  const badOut = await cli(['dataset', 'export', 'demo', '--url', gw.url, '--token', ADMIN, '--out', out]);
  t.equal(badOut.code, 1);
  t.match(badOut.stderr, /^bellwether: cannot write .*no-such-dir.*\n$/);
  t.notMatch(badOut.stderr, /\n\s+at /);
});

t.test('a login page answering 200 is an error, nothing is written, and --url credentials stay secret', async (t) => {
  // An SSO proxy in front of the gateway: every path is a 200 HTML sign-in page.
  const server = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Sign in</html>'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://sre:hunter2-pass@127.0.0.1:${(server.address() as AddressInfo).port}/?sig=qs-secret-9`;
  const out = join(t.testdir({}), 'demo.jsonl');

  const res = await cli(['dataset', 'export', 'demo', '--url', url, '--token', ADMIN, '--out', out]);
  t.equal(res.code, 1);
  t.match(res.stderr, /^bellwether: .*answered HTTP 200, text\/html: not the Bellwether admin API.*\n$/);
  t.notOk(existsSync(out), 'the login page is not written as the dataset');
  for (const secret of ['hunter2-pass', 'sre:', 'qs-secret-9', ADMIN]) t.notOk(res.stderr.includes(secret), `${secret} is not printed`);

  const stdout = await cli(['dataset', 'export', 'demo', '--url', url, '--token', ADMIN]);
  t.equal(stdout.code, 1);
  t.equal(stdout.stdout, '', 'nothing on stdout either');
});

t.test('export --out says how many records it wrote, and where', async (t) => {
  const dir = t.testdir({});
  const gw = await sampledGateway(dir);
  t.teardown(() => gw.close());
  for (const content of ['first question', 'second question']) {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content }] }) });
    await res.text();
  }
  const listed = async () => (await cli(['dataset', 'list', '--url', gw.url, '--token', ADMIN, '--json'])).stdout;
  await until(listed, (text) => /"records": 2/.test(text));

  const out = join(dir, 'demo.jsonl');
  const res = await cli(['dataset', 'export', 'demo', '--url', gw.url, '--token', ADMIN, '--out', out]);
  t.equal(res.code, 0);
  t.equal(res.stdout, '', 'the data went to the file');
  const written = readFileSync(out, 'utf8');
  t.equal(written.split('\n').filter(Boolean).length, 2);
  t.equal(res.stderr, `exported 2 record(s), ${Buffer.byteLength(written)} bytes, to ${out}\n`);
});
