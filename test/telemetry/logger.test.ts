// The wide line is written by writeMembers (pre-serialised fields) instead of pino's per-key loop. It must
// be byte for byte what pino would have written, and take pino's own path whenever pino would change
// the line (mixins, hooks, formatters).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import pino, { type Logger } from 'pino';
import { createLogger, writeMembers } from '../../src/telemetry/logger.js';

/** What the wide line's writer gets: the fields as JSON members, without braces. */
const members = (fields: Record<string, unknown>): string => JSON.stringify(fields).slice(1, -1);
const writeLine = (logger: Logger, level: 'info' | 'warn', fields: Record<string, unknown>, msg: string): void => writeMembers(logger, level, members(fields), msg);

function capture(options: pino.LoggerOptions = {}): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ base: { service: 'bellwether' }, timestamp: () => ',"time":"2026-11-27T00:00:00.000Z"', ...options }, { write: (s: string) => void lines.push(s) });
  return { logger, lines };
}

const fields = {
  request_id: 'r-1',
  route: 'demo',
  forced: false,
  status: 200,
  error: 'quote " backslash \\ newline \n tab \t unicode é 请 \u2028 lone \ud800',
  attempts: [{ model: 'a', kind: 'first', ms: 1.25, cost_usd: 0.000117 }],
  ttft_ms: null,
  skipped: undefined,
  not_finite: Number.POSITIVE_INFINITY,
  tokens: { input: 11, cachedInput: 0, output: 53 },
};

t.test('writes what pino writes, byte for byte', async (t) => {
  for (const level of ['info', 'warn'] as const) {
    const viaPino = capture();
    viaPino.logger[level](fields, 'request completed');
    const direct = capture();
    writeLine(direct.logger, level, fields, 'request completed');
    t.equal(direct.lines.length, 1);
    t.equal(direct.lines[0], viaPino.lines[0], level);
  }
  const child = capture();
  const viaPino = capture();
  writeLine(child.logger.child({ thread: 'sampling' }), 'info', { a: 1 }, 'm');
  viaPino.logger.child({ thread: 'sampling' }).info({ a: 1 }, 'm');
  t.equal(child.lines[0], viaPino.lines[0], 'child bindings');
});

t.test("pino's own path when pino would change the line", async (t) => {
  const mixin = capture({ mixin: () => ({ extra: 'from-mixin' }) });
  writeLine(mixin.logger, 'info', { a: 1 }, 'm');
  t.match(JSON.parse(mixin.lines[0] as string), { a: 1, extra: 'from-mixin', msg: 'm' });
  const formatted = capture({ formatters: { log: (o) => ({ ...o, formatted: true }) } });
  writeLine(formatted.logger, 'info', { a: 1 }, 'm');
  t.match(JSON.parse(formatted.lines[0] as string), { a: 1, formatted: true });
  const hooked = capture({ hooks: { streamWrite: (s) => s.replace('"a":1', '"a":2') } });
  writeLine(hooked.logger, 'info', { a: 1 }, 'm');
  t.match(JSON.parse(hooked.lines[0] as string), { a: 2 });
});

t.test('no members, and members parsed back for pino\'s own path', async (t) => {
  const empty = capture();
  writeMembers(empty.logger, 'warn', '', 'm');
  const emptyViaPino = capture();
  emptyViaPino.logger.warn({}, 'm');
  t.equal(empty.lines[0], emptyViaPino.lines[0], 'no members');
  const mixin = capture({ mixin: () => ({ extra: 'from-mixin' }) });
  writeMembers(mixin.logger, 'info', '"a":1,"b":"x\\ny"', 'm');
  t.match(JSON.parse(mixin.lines[0] as string), { a: 1, b: 'x\ny', extra: 'from-mixin', msg: 'm' });
});

t.test('credential-carrying headers are redacted wherever a request or its headers are logged', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bw-logger-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'log.jsonl');
  const logger = createLogger('info', file);
  const secrets = {
    authorization: 'Bearer sk-client-secret',
    'proxy-authorization': 'Basic cHJveHk6c2VjcmV0',
    'api-key': 'azure-secret',
    'x-api-key': 'anthropic-secret',
    cookie: 'session=cookie-secret',
    'set-cookie': 'session=set-cookie-secret',
  };
  logger.info({ req: { method: 'POST', url: '/v1/chat/completions', headers: { ...secrets, 'content-type': 'application/json' } } }, 'incoming');
  logger.warn({ headers: { ...secrets } }, 'upstream refused');
  await new Promise<void>((resolve, reject) => logger.flush((err) => (err ? reject(err) : resolve())));
  const text = readFileSync(file, 'utf8');
  const [incoming, refused] = text.trim().split('\n').map((l) => JSON.parse(l) as { req?: { headers: Record<string, string> }; headers?: Record<string, string> });
  for (const name of Object.keys(secrets)) {
    t.equal(incoming?.req?.headers[name], '[REDACTED]', `req.headers.${name}`);
    t.equal(refused?.headers?.[name], '[REDACTED]', `headers.${name}`);
  }
  t.equal(incoming?.req?.headers['content-type'], 'application/json', 'other headers stay');
  t.notMatch(text, /secret/, 'no credential anywhere in the log');
});
