// The wide completion line is serialised by hand; it must say exactly what JSON.stringify of the
// same fields would, escaping included, in the documented key order.
import t from 'tap';
import type { ModelConfig, RouteConfig } from '../../src/config/types.js';
import { RequestLedger } from '../../src/gateway/ledger.js';
import { num, str, wideLineMembers } from '../../src/accounting/wide-line.js';

const route = { name: 'demo', champion: 'small', challenger: 'big' } as RouteConfig;
const model = (name: string) => ({ name }) as ModelConfig;
const parse = (members: string): Record<string, unknown> => JSON.parse(`{${members}}`) as Record<string, unknown>;

const ADVERSARIAL = ['plain', '', 'quote " backslash \\', 'newline \n tab \t cr \r nul \u0000 esc \u001b', 'é 请 😀 pair \ud83d\ude00', 'lone high \ud800 x', 'lone low \udc00', 'line sep \u2028 para \u2029', '</script>'];

t.test('strings and numbers are written as JSON.stringify writes them', async (t) => {
  ADVERSARIAL.forEach((s, i) => t.equal(str(s), JSON.stringify(s), `string ${i}`));
  for (const n of [0, -0, 1, -3, 0.1 + 0.2, 1e-7, 123456789012345680000, 1e21, 2.5e-8, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    t.equal(num(n), JSON.stringify(n), String(n));
  }
});

t.test('a successful call', async (t) => {
  const ledger = new RequestLedger('req-1', 'chat', route, 'champion', false, false, 'anonymous', {});
  ledger.attempts.push({ model: model('small'), provider: 'fake', kind: 'first', startedAt: 0, durationMs: 12.3456, outcome: 'success', errorClass: 'none', costUsd: 0.000117 });
  ledger.usage = { input: 11, cachedInput: 2, cacheWrite: 0, output: 53, reasoning: 0 };
  ledger.upstreamWaitMs = 12;
  const members = wideLineMembers(ledger, { model: 'small', outcome: 'success', totalMs: 13.0049, costUsd: 0.000117, costProvenance: 'computed' });
  const line = parse(members);
  t.same(Object.keys(line), ['request_id', 'operation', 'route', 'variant', 'forced', 'client', 'model', 'stream', 'status', 'outcome', 'error_class', 'attempts', 'duration_ms', 'ttft_ms', 'overhead_ms', 'tokens', 'cost_usd', 'cost_provenance']);
  t.strictSame(line, {
    request_id: 'req-1',
    operation: 'chat',
    route: 'demo',
    variant: 'champion',
    forced: false,
    client: 'anonymous',
    model: 'small',
    stream: false,
    status: 200,
    outcome: 'success',
    error_class: 'none',
    attempts: [{ model: 'small', kind: 'first', outcome: 'success', error_class: 'none', ms: 12.35, cost_usd: 0.000117 }],
    duration_ms: 13,
    ttft_ms: null,
    overhead_ms: 1,
    tokens: { input: 11, cachedInput: 2, cacheWrite: 0, output: 53, reasoning: 0 },
    cost_usd: 0.000117,
    cost_provenance: 'computed',
  });
});

t.test('a fallback after a failed attempt, with free text that needs escaping', async (t) => {
  const message = ADVERSARIAL.join(' | ');
  const ledger = new RequestLedger('req-"2"', 'chat', route, 'challenger', true, true, 'team "a"', {});
  ledger.span = { traceId: '0af7651916cd43dd8448eb211c80319c' } as RequestLedger['span'];
  ledger.attempts.push({ model: model('big'), provider: 'fake', kind: 'first', startedAt: 0, durationMs: 5, outcome: 'error', errorClass: 'upstream_5xx', status: 503, cause: 'reset\n"x"' });
  ledger.attempts.push({ model: model('small'), provider: 'fake', kind: 'fallback', startedAt: 5, durationMs: 7.5, outcome: 'success', errorClass: 'none', costUsd: 0.5, usageEstimated: true });
  ledger.fallbackReason = 'error';
  ledger.ttftMs = 9.999;
  ledger.fail('stream_interrupted', 502, message, 'idle');
  const line = parse(wideLineMembers(ledger, { model: 'small', outcome: 'error', totalMs: Number.NaN, costUsd: 0.5, costProvenance: 'estimated' }));
  t.same(Object.keys(line), ['request_id', 'trace_id', 'operation', 'route', 'variant', 'forced', 'client', 'model', 'stream', 'status', 'outcome', 'error_class', 'error_cause', 'error', 'attempts', 'fallback', 'duration_ms', 'ttft_ms', 'overhead_ms', 'tokens', 'cost_usd', 'cost_provenance']);
  t.equal(line.request_id, 'req-"2"');
  t.equal(line.client, 'team "a"');
  t.equal(line.error, message, 'free text survives byte for byte');
  t.equal(line.error_cause, 'idle');
  t.equal(line.status, 502);
  t.equal(line.forced, true);
  t.equal(line.stream, true);
  t.equal(line.duration_ms, null, 'a non-finite number is null, as JSON.stringify writes it');
  t.equal(line.ttft_ms, 10);
  t.equal(line.tokens, null);
  t.strictSame(line.attempts, [
    { model: 'big', kind: 'first', outcome: 'error', error_class: 'upstream_5xx', cause: 'reset\n"x"', status: 503, ms: 5 },
    { model: 'small', kind: 'fallback', outcome: 'success', error_class: 'none', ms: 7.5, cost_usd: 0.5, usage_estimated: true },
  ]);
  t.equal(line.fallback, 'error');
});
