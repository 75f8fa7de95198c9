// `bellwether rollout …` end to end against a running gateway (real HTTP, real admin API), as an SRE
// types it: tables by default, --json for scripts, exit code 1 on any failure.
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Command, CommanderError } from 'commander';
import { rolloutCommand, type CliIO } from '../../src/cli/rollout.js';
import { startTestGateway } from '../helpers/gateway.js';
import { ADMIN_TOKEN, OTHER_TOKEN, admin, config } from '../rollout/support.js';

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs `bellwether rollout <args>` in-process, capturing output and the exit code. */
async function cli(args: string[]): Promise<Run> {
  const run: Run = { code: 0, out: '', err: '' };
  const io: CliIO = { out: (s) => void (run.out += s), err: (s) => void (run.err += s), fail: (c) => void (run.code = c) };
  const rollout = rolloutCommand(io);
  const program = new Command('bellwether').addCommand(rollout);
  // Commander exits the process on usage errors; here they become an exit code.
  const override = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
    cmd.commands.forEach(override);
  };
  override(program);
  try {
    await program.parseAsync(['rollout', ...args], { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    run.code = err.exitCode;
  }
  return run;
}

t.test('status, set, pause, resume, promote, history', async (t) => {
  const gw = await startTestGateway(config({ percent: 10 }));
  t.teardown(() => gw.close());
  const auth = ['--url', gw.url, '--token', ADMIN_TOKEN];

  const status = await cli(['status', ...auth]);
  t.equal(status.code, 0);
  t.match(status.out, /demo.*a.*b.*10%.*split.*active.*1/s);
  t.match(status.out, /state: memory, in sync/);

  const set = await cli(['set', 'demo', '25', '--reason', 'error rate flat', ...auth]);
  t.equal(set.code, 0, set.err);
  t.match(set.out, /demo: percent 10 → 25 \(version 1 → 2, by alice\)/);

  const json = await cli(['status', 'demo', '--json', ...auth]);
  t.equal(json.code, 0);
  t.match(JSON.parse(json.out), { route: 'demo', percent: 25, version: 2, updatedBy: 'alice' });

  t.equal((await cli(['pause', 'demo', '--reason', 'incident', ...auth])).code, 0);
  const paused = JSON.parse((await cli(['status', 'demo', '--json', ...auth])).out);
  t.match(paused, { state: 'paused', effectivePercent: 0 });
  t.match((await cli(['status', 'demo', ...auth])).out, /25% \(now 0%\)/, 'the table shows the effective share');
  t.equal((await cli(['resume', 'demo', '--reason', 'fixed', ...auth])).code, 0);
  t.equal((await cli(['set', 'demo', '40', '--mode', 'shadow', '--reason', 'quiet comparison', ...auth])).code, 0);
  t.equal((await cli(['rollback', 'demo', '--reason', 'worse answers', ...auth])).code, 0);
  t.equal((await cli(['promote', 'demo', '--reason', 'b wins after all', ...auth])).code, 0);

  const history = await cli(['history', 'demo', ...auth]);
  t.equal(history.code, 0);
  for (const word of ['promote', 'rollback', 'set', 'resume', 'pause', 'config', 'alice', 'b wins after all']) t.match(history.out, word);
  const historyJson = JSON.parse((await cli(['history', 'demo', '--json', '--limit', '2', ...auth])).out) as { entries: { action: string }[] };
  t.same(historyJson.entries.map((e) => e.action), ['promote', 'rollback']);
});

t.test('BELLWETHER_URL and BELLWETHER_ADMIN_TOKEN are the defaults', async (t) => {
  const gw = await startTestGateway(config());
  t.teardown(() => gw.close());
  const saved = { url: process.env.BELLWETHER_URL, token: process.env.BELLWETHER_ADMIN_TOKEN };
  process.env.BELLWETHER_URL = gw.url;
  process.env.BELLWETHER_ADMIN_TOKEN = OTHER_TOKEN;
  t.teardown(() => {
    for (const [k, v] of [['BELLWETHER_URL', saved.url], ['BELLWETHER_ADMIN_TOKEN', saved.token]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  const set = await cli(['set', 'demo', '30', '--reason', 'from env']);
  t.equal(set.code, 0, set.err);
  t.match(set.out, /by bob/);
});

t.test('failures exit non-zero and change nothing', async (t) => {
  const gw = await startTestGateway(config());
  t.teardown(() => gw.close());
  const auth = ['--url', gw.url, '--token', ADMIN_TOKEN];
  const before = (await admin(gw.url, 'GET', '/routes/demo')).json;

  const cases: [string, string[], RegExp][] = [
    ['missing --reason', ['set', 'demo', '20', ...auth], /required option '--reason <text>'/],
    ['blank --reason', ['pause', 'demo', '--reason', ' ', ...auth], /must say why/],
    ['percent 101', ['set', 'demo', '101', '--reason', 'r', ...auth], /from 0 to 100/],
    ['percent abc', ['set', 'demo', 'abc', '--reason', 'r', ...auth], /from 0 to 100/],
    ['unknown route', ['set', 'nope', '20', '--reason', 'r', ...auth], /Unknown route "nope"/],
    ['wrong token', ['status', '--url', gw.url, '--token', 'not-a-token'], /Incorrect admin token.*BELLWETHER_ADMIN_TOKEN/],
    ['stale --expect-version', ['set', 'demo', '20', '--reason', 'r', '--expect-version', '9', ...auth], /changed concurrently.*rollout status/],
    ['gateway down', ['status', '--url', 'http://127.0.0.1:9', '--token', ADMIN_TOKEN], /cannot reach the gateway/],
  ];
  for (const [name, args, message] of cases) {
    const run = await cli(args);
    t.not(run.code, 0, `${name}: non-zero exit`);
    t.match(run.err, message, `${name}: says why`);
  }
  const conflict = await cli(['set', 'demo', '20', '--reason', 'r', '--expect-version', '9', '--json', ...auth]);
  t.equal(conflict.code, 1);
  t.match(JSON.parse(conflict.out), { error: { code: 'version_conflict' }, current: { version: 1 } }, '--json prints the API error');
  t.same((await admin(gw.url, 'GET', '/routes/demo')).json, before, 'state unchanged');
});

t.test('set on a paused route: refused with the way out, exit 1, still paused', async (t) => {
  const gw = await startTestGateway(config());
  t.teardown(() => gw.close());
  const auth = ['--url', gw.url, '--token', ADMIN_TOKEN];
  t.equal((await cli(['pause', 'demo', '--reason', 'incident 42', '--url', gw.url, '--token', OTHER_TOKEN])).code, 0);
  const set = await cli(['set', 'demo', '25', '--reason', 'ramp', ...auth]);
  t.equal(set.code, 1);
  t.match(set.err, /paused \(by bob.*bellwether rollout resume demo/);
  const json = await cli(['set', 'demo', '25', '--reason', 'ramp', '--json', ...auth]);
  t.equal(json.code, 1);
  t.match(JSON.parse(json.out), { error: { code: 'route_paused' }, current: { state: 'paused' } });
  t.match((await admin(gw.url, 'GET', '/routes/demo')).json, { state: 'paused', percent: 10, version: 2 });
});

t.test('something other than the admin API answering: a clear error and exit 1, not a crash', async (t) => {
  // An ingress redirecting http to https, or a login page in front of the gateway.
  const server = createServer((req, res) => {
    if (req.url?.includes('redirect')) res.writeHead(301, { location: 'https://gateway.example/' }).end();
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Sign in</html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const [name, url] of [['redirect', `${base}/redirect`], ['html page', base]] as const) {
    for (const args of [['status'], ['status', 'demo'], ['set', 'demo', '20', '--reason', 'r'], ['history', 'demo']]) {
      const run = await cli([...args, '--url', url, '--token', ADMIN_TOKEN]);
      t.equal(run.code, 1, `${name}, ${args[0]}: exit 1`);
      t.match(run.err, /not the Bellwether admin API/, `${name}, ${args[0]}: says why`);
      const json = await cli([...args, '--url', url, '--token', ADMIN_TOKEN, '--json']);
      t.equal(json.code, 1, `${name}, ${args[0]} --json: exit 1`);
      t.match(JSON.parse(json.out), { error: { type: 'api_error', code: 'unexpected_response', status: name === 'redirect' ? 301 : 200, message: /not the Bellwether admin API/ } }, `${name}, ${args[0]} --json: the real error, not a connection error`);
    }
  }
  const down = await cli(['status', '--url', 'http://127.0.0.1:9', '--token', ADMIN_TOKEN, '--json']);
  t.match(JSON.parse(down.out), { error: { type: 'connection_error', code: 'connection', status: 0 } }, 'gateway down --json: a connection error');
});

t.test('credentials in --url and the admin token are never printed', async (t) => {
  // A proxy in front of the gateway that echoes the request, as debugging proxies do.
  const server = createServer((req, res) => {
    if (req.url?.includes('echo')) res.writeHead(502, { 'content-type': 'text/plain' }).end(JSON.stringify(req.headers));
    else res.writeHead(302, { location: `http://sre:hunter2-pass@gateway.example/login?sig=qs-secret-9` }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  const token = 'env-admin-token-secret-77';
  const saved = process.env.BELLWETHER_ADMIN_TOKEN;
  process.env.BELLWETHER_ADMIN_TOKEN = token;
  t.teardown(() => {
    if (saved === undefined) delete process.env.BELLWETHER_ADMIN_TOKEN;
    else process.env.BELLWETHER_ADMIN_TOKEN = saved;
  });
  const secrets = ['hunter2-pass', 'sre:', 'qs-secret-9', token];
  const cases: [string, string, RegExp][] = [
    ['unreachable', 'http://sre:hunter2-pass@127.0.0.1:9/?sig=qs-secret-9', /cannot reach the gateway at http:\/\/127\.0\.0\.1:9\b/],
    ['redirect', `http://sre:hunter2-pass@127.0.0.1:${port}/?sig=qs-secret-9`, /http:\/\/127\.0\.0\.1:\d+ answered HTTP 302 redirecting to https?:\/\/gateway\.example\/login: not the Bellwether admin API/],
    ['echoing proxy', `http://sre:hunter2-pass@127.0.0.1:${port}/echo`, /HTTP 502/],
  ];
  for (const [name, url, message] of cases) {
    for (const json of [false, true]) {
      const run = await cli(['status', 'demo', '--url', url, ...(json ? ['--json'] : [])]);
      t.equal(run.code, 1, `${name}${json ? ' --json' : ''}: exit 1`);
      t.match(json ? run.out : run.err, message, `${name}${json ? ' --json' : ''}: still says where and why`);
      for (const secret of secrets) t.notOk(`${run.out}${run.err}`.includes(secret), `${name}${json ? ' --json' : ''}: ${secret} not printed`);
    }
  }
});
