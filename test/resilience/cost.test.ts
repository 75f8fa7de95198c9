// Cost arithmetic against hand-computed values: disjoint usage buckets (OpenAI cached tokens are
// inside prompt_tokens, Anthropic's are not), reasoning inside output (never added twice), every
// billed attempt summed, the shipped price table with per-model overrides, unknown never 0.
import t from 'tap';
import pino from 'pino';
import OpenAI from 'openai';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { costUsd } from '../../src/accounting/cost.js';
import { fromAnthropicUsage, fromOpenAIUsage } from '../../src/accounting/usage.js';
import { parsePricingTable, pricingFor, shippedPricingTable } from '../../src/accounting/pricing.js';
import { recordRequest } from '../../src/accounting/record.js';
import { parseConfig } from '../../src/config/load.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { RequestLedger } from '../../src/gateway/ledger.js';
import { metricValue } from '../helpers/gateway.js';
import { FakeAnthropic } from '../../src/simulator/anthropic-server.js';
import { postJson, startLoggedGateway } from './support.js';

const close = (a: number | undefined, b: number) => a !== undefined && Math.abs(a - b) < 1e-12;

t.test('OpenAI: cached tokens are inside prompt_tokens, reasoning inside completion_tokens', async (t) => {
  const usage = fromOpenAIUsage({ prompt_tokens: 3000, completion_tokens: 500, prompt_tokens_details: { cached_tokens: 2000 }, completion_tokens_details: { reasoning_tokens: 200 } });
  t.same(usage, { input: 1000, cachedInput: 2000, cacheWrite: 0, output: 500, reasoning: 200 });
  // gpt-4o: 2.50 input, 1.25 cached, 10 output → 1000*2.5 + 2000*1.25 + 500*10 = 10 000 µ$
  const price = shippedPricingTable().families.openai.get('gpt-4o');
  t.ok(close(costUsd(usage, price), 0.01));
});

t.test('Anthropic: cache reads and writes are outside input_tokens and priced on their own', async (t) => {
  const usage = fromAnthropicUsage({ input_tokens: 1000, cache_read_input_tokens: 2000, cache_creation_input_tokens: 500, output_tokens: 300 });
  // claude-sonnet-4-5: 3 input, 0.30 read, 3.75 write, 15 output → 3000 + 600 + 1875 + 4500 = 9975 µ$
  t.ok(close(costUsd(usage, shippedPricingTable().families.anthropic.get('claude-sonnet-4-5')), 0.009975));
  // Without an explicit write price, a 5-minute cache write is 1.25x input.
  t.ok(close(costUsd(usage, { inputPerMTok: 4, outputPerMTok: 0 }), (1000 * 4 + 2000 * 4 + 500 * 5) / 1e6));
});

t.test('price lookup: config override, shipped table (dated snapshots), never for self-hosted', async (t) => {
  const table = shippedPricingTable();
  t.match(table.takenAt, /^\d{4}-\d{2}-\d{2}$/, 'the table says when prices were taken');
  const model = (upstreamModel: string, pricing?: { inputPerMTok: number; outputPerMTok: number }) => ({ name: upstreamModel, provider: 'p', upstreamModel, pricing, simulation: undefined });
  t.equal(pricingFor(model('claude-sonnet-4-5-20250929'), 'anthropic').source, 'table');
  t.equal(pricingFor(model('gpt-4o-mini-2024-07-18'), 'openai').pricing?.inputPerMTok, 0.15);
  t.equal(pricingFor(model('gpt-4o-mini'), 'azure-openai').source, 'table');
  t.equal(pricingFor(model('gpt-4o-mini'), 'openai-compatible').source, 'none', 'a self-hosted model is not priced at list price');
  t.equal(pricingFor(model('gpt-4o-mini', { inputPerMTok: 9, outputPerMTok: 9 }), 'openai').pricing?.inputPerMTok, 9, 'models.X.pricing wins');
  t.equal(pricingFor(model('claude-next-99'), 'anthropic').pricing, undefined);
  t.throws(() => parsePricingTable('openai: {}\n'), /takenAt/);
  t.throws(() => parsePricingTable('takenAt: "2026-01-01"\nopenai: { x: { inputPerMTok: -1, outputPerMTok: 1 } }\n'), /invalid pricing/);
});

t.test('end to end: cached + reasoning tokens, header, log line and metrics agree', async (t) => {
  const upstream = await new FakeUpstream({ simulation: { cachedInputRatio: 0.5, reasoningTokens: 7 } }).start();
  const gw = await startLoggedGateway(`
providers: { openai: { type: openai, baseUrl: "${upstream.url}/v1" } }
models:
  mini: { provider: openai, upstreamModel: gpt-4o-mini, pricing: { inputPerMTok: 2, cachedInputPerMTok: 0.5, outputPerMTok: 8 } }
routes:
  chat: { champion: mini }
`);
  t.teardown(async () => {
    await gw.close();
    await upstream.close();
  });
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const { data, response } = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'A long question about Zurich and Geneva and Basel.' }] }).withResponse();
  const u = data.usage!;
  const cached = u.prompt_tokens_details?.cached_tokens ?? 0;
  t.ok(cached > 0);
  t.equal(u.completion_tokens_details?.reasoning_tokens, 7);
  const expected = ((u.prompt_tokens - cached) * 2 + cached * 0.5 + u.completion_tokens * 8) / 1e6;
  t.equal(response.headers.get('x-bellwether-cost-usd'), expected.toFixed(8));
  const line = await gw.requestLine();
  t.ok(close(line.cost_usd ?? undefined, expected));
  t.equal(line.cost_provenance, 'computed');
  const m = await gw.metrics();
  t.ok(close(metricValue(m, 'bellwether_cost_usd_total', { route: 'chat', variant: 'champion', model: 'mini' }), expected));
  t.equal(metricValue(m, 'bellwether_tokens_total', { route: 'chat', model: 'mini', type: 'reasoning' }), 7);
  t.equal(metricValue(m, 'bellwether_tokens_total', { route: 'chat', model: 'mini', type: 'output' }), u.completion_tokens, 'reasoning not added twice');
});

t.test('every billed attempt is summed; an unpriced model is unknown, not free', async (t) => {
  const config = parseConfig(`
providers: { sim: { type: simulator } }
models:
  a: { provider: sim, pricing: { inputPerMTok: 1, outputPerMTok: 10 } }
  b: { provider: sim }
routes: { r: { champion: a, challenger: b } }
`, 'cost.yaml', {});
  const metrics = new Metrics(config, { rollouts: () => [], defaultMetrics: false });
  const route = config.routes.r!;
  const a = config.models.a!;
  const ledger = new RequestLedger('req-1', 'chat', route, 'champion', false, true, 'anon', {});
  const billed = { input: 100, cachedInput: 0, cacheWrite: 0, output: 50, reasoning: 0 };
  // A stream that failed after generating (billed), then an answer from a retry.
  ledger.attempts.push({ model: a, provider: 'sim', kind: 'first', startedAt: 0, durationMs: 1, outcome: 'error', errorClass: 'stream_interrupted', usage: billed, costUsd: costUsd(billed, a.pricing) });
  ledger.attempts.push({ model: a, provider: 'sim', kind: 'retry', startedAt: 0, durationMs: 1, outcome: 'success', errorClass: 'none', usage: billed, costUsd: costUsd(billed, a.pricing) });
  t.ok(close(ledger.costUsd, 2 * (100 * 1 + 50 * 10) / 1e6), '2 × 600 µ$');
  recordRequest(metrics, pino({ level: 'silent' }), ledger);
  const text = await metrics.registry.metrics();
  t.ok(close(metricValue(text, 'bellwether_cost_usd_total', { route: 'r', variant: 'champion', model: 'a' }), 0.0012));
  t.equal(metricValue(text, 'bellwether_tokens_total', { route: 'r', variant: 'champion', model: 'a', type: 'input' }), 200);

  const unpriced = new RequestLedger('req-2', 'chat', route, 'challenger', false, false, 'anon', {});
  unpriced.attempts.push({ model: config.models.b!, provider: 'sim', kind: 'first', startedAt: 0, durationMs: 1, outcome: 'success', errorClass: 'none', usage: billed, costUsd: undefined });
  t.equal(unpriced.costUsd, undefined);
  t.ok(unpriced.costIncomplete);
  recordRequest(metrics, pino({ level: 'silent' }), unpriced);
  const after = await metrics.registry.metrics();
  t.equal(metricValue(after, 'bellwether_cost_unknown_total', { route: 'r', variant: 'challenger', model: 'b' }), 1);
  t.equal(metricValue(after, 'bellwether_cost_usd_total', { route: 'r', variant: 'challenger', model: 'b' }), 0, 'nothing added as if it were free');
});

t.test('a stream attempt that times out before its first token: cost unknown (counted), never 0', async (t) => {
  const upstream = await new FakeUpstream().start();
  const gw = await startLoggedGateway(`
providers: { openai: { type: openai, baseUrl: "${upstream.url}/v1" } }
models: { mini: { provider: openai, upstreamModel: gpt-4o-mini } }
routes: { chat: { champion: mini, retry: { maxAttempts: 2, baseDelayMs: 1 }, timeouts: { firstTokenMs: 1000 } } }
`);
  t.teardown(async () => {
    await gw.close();
    await upstream.close();
  });
  // The retry must show its first token within the timeout too: 1 s leaves a loaded machine room
  // (it takes milliseconds), and the slow headers are ten times that.
  upstream.inject({ kind: 'slow-headers', ms: 10_000 });
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const stream = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Hello Lisbon' }], stream: true });
  for await (const _ of stream) void _;
  const line = await gw.requestLine();
  t.same(line.attempts?.map((a) => [a.kind, a.error_class]), [['first', 'timeout'], ['retry', 'none']]);
  t.equal(line.attempts?.[0]?.cost_usd, undefined, 'no cost made up for the timed-out attempt');
  t.equal(line.cost_provenance, 'partial', 'the total is known to be incomplete');
  const m = await gw.metrics();
  t.equal(metricValue(m, 'bellwether_cost_unknown_total', { route: 'chat', variant: 'champion', model: 'mini' }), 1, 'the unpriced attempt is counted');
});

t.test('Anthropic: an attempt that times out after message_start is priced from the input it reported', async (t) => {
  const fake = await new FakeAnthropic().start();
  const gw = await startLoggedGateway(`
providers: { claude: { type: anthropic, baseUrl: "${fake.url}", apiKey: sk-ant-test } }
models: { sonnet: { provider: claude, upstreamModel: claude-sonnet-4-5-20250929 } }
routes: { chat: { champion: sonnet, retry: { maxAttempts: 2, baseDelayMs: 1 }, timeouts: { firstTokenMs: 1000 } } }
`);
  t.teardown(async () => {
    await gw.close();
    await fake.close();
  });
  // As above: a 1 s first-token timeout for the retry, a stall ten times that for the first attempt.
  fake.inject({ kind: 'stall', afterEvents: 1, ms: 10_000 });
  const res = await postJson(gw.url, '/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'Hello Porto' }], stream: true });
  t.equal(res.status, 200);
  const line = await gw.requestLine();
  t.same(line.attempts?.map((a) => [a.kind, a.error_class]), [['first', 'timeout'], ['retry', 'none']]);
  t.ok((line.attempts?.[0]?.cost_usd ?? 0) > 0, 'the billed input of the timed-out attempt is counted');
  t.equal(line.cost_provenance, 'computed');
});
