// The writer behind sampling: a repeated input is reported as a duplicate without being written twice.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { parseConfig } from '../../src/config/load.js';
import { InlineSampleWriter, WorkerSampleWriter, decodeSamples, encodeSamples } from '../../src/sampling/sample-writer.js';
import { BACKGROUND_NICE } from '../../src/sampling/background-priority.js';
import { isDatasetRecord } from '../../src/sampling/dataset-record.js';
import { responseOf, sourceFromLedger, type SampleSource } from '../../src/sampling/sample-source.js';
import { RequestLedger } from '../../src/gateway/ledger.js';
import { until } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';

/** Route `demo` sampled at rate 1 into JSONL files under `dir`. */
function samplingConfig(dir: string, extra = '') {
  return parseConfig(
    `
providers: { sim: { type: simulator } }
models: { a: { provider: sim } }
routes: { demo: { champion: a, sampling: { rate: 1 } } }
datasets: { dir: ${dir}${extra} }
`,
    'x.yaml',
    {},
  );
}

/** A finished chat request on route `demo`, as the request thread describes it. */
function sampleSource(overrides: Partial<SampleSource> & Pick<SampleSource, 'request'>): SampleSource {
  return {
    route: 'demo',
    requestId: 'r1',
    variant: 'champion',
    model: 'a',
    operation: 'chat',
    latencyS: 0.1,
    ttftS: null,
    costUsd: null,
    errorClass: 'none',
    samplingRate: 1,
    tags: ['sampled'],
    ...overrides,
  };
}

t.test('repeats are duplicates; the first is redacted and stored', async (t) => {
  const dir = t.testdir({});
  const config = samplingConfig(dir);
  const results: string[] = [];
  const writer = new InlineSampleWriter(config, ['sk-secret-abcdefgh'], (_route, _variant, result, n) => results.push(`${result}x${n}`), { info() {}, warn() {}, error() {} });
  const source = sampleSource({
    request: { model: 'demo', messages: [{ role: 'user', content: 'my key is sk-secret-abcdefgh' }] },
    response: { content: 'noted', toolCalls: [], finishReason: 'stop' },
  });
  t.ok(writer.offer(source));
  t.ok(writer.offer({ ...source, requestId: 'r2' }));
  await writer.close(2000);
  t.same(results.sort(), ['duplicatex1', 'storedx1']);
  const files = readdirSync(join(dir, 'demo'));
  const lines = readFileSync(join(dir, 'demo', files[0] as string), 'utf8').trim().split('\n');
  t.equal(lines.length, 1);
  const record = JSON.parse(lines[0] as string) as { request: unknown; response: { content: string; finish_reason: string } };
  t.ok(isDatasetRecord(record), 'the line is a valid record');
  t.notMatch(JSON.stringify(record.request), 'sk-secret-abcdefgh', 'secret redacted');
  t.same(record.response, { content: 'noted', finish_reason: 'stop' }, 'the answer as summarised');
});

t.test('an input dropped on a full queue is stored when it comes again', async (t) => {
  const dir = t.testdir({});
  const results: string[] = [];
  const writer = new InlineSampleWriter(samplingConfig(dir, ', queueCapacity: 1'), [], (_route, _variant, result) => results.push(result), { info() {}, warn() {}, error() {} });
  const ask = (requestId: string, content: string) => sampleSource({ requestId, request: { model: 'demo', messages: [{ role: 'user', content }] } });
  t.ok(writer.offer(ask('r1', 'first question')));
  t.notOk(writer.offer(ask('r2', 'second question')), 'queue full: dropped');
  await until(async () => results, (r) => r.includes('stored'));
  t.ok(writer.offer(ask('r3', 'second question')), 'the repeat is taken, not skipped as a duplicate');
  await writer.close(2000);
  t.same(results, ['dropped', 'stored', 'stored']);
  const file = readdirSync(join(dir, 'demo'))[0] as string;
  const stored = readFileSync(join(dir, 'demo', file), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { request: { messages: { content: string }[] } }).request.messages[0]?.content);
  t.same(stored, ['first question', 'second question']);
});

t.test('the worker counts a sample whose record cannot be built as dropped', async (t) => {
  const dir = t.testdir({});
  const results: string[] = [];
  const config = { ...samplingConfig(dir), logging: { level: 'silent' } }; // the worker logs the failure to stdout
  const writer = new WorkerSampleWriter(config, [], (route, variant, result, n) => results.push(`${route}/${variant}/${result}x${n}`), { info() {}, warn() {}, error() {} });
  // Parses (JSON.parse is iterative) but overflows the stack in redaction.
  const depth = 200_000;
  const body = `{"model":"demo","messages":[{"role":"user","content":"hi"}],"blob":${'['.repeat(depth)}${']'.repeat(depth)}}`;
  t.ok(writer.offer(sampleSource({ variant: 'challenger', request: {}, requestBytes: Buffer.from(body) })));
  await writer.close(2000);
  t.same(results, ['demo/challenger/droppedx1']);
});

t.test('a batch larger than one hand-over part reaches the worker whole and in order', async (t) => {
  const dir = t.testdir({});
  const counts: Record<string, number> = {};
  const writer = new WorkerSampleWriter(samplingConfig(dir), [], (_route, _variant, result, n) => (counts[result] = (counts[result] ?? 0) + n), { info() {}, warn() {}, error() {} });
  // Offered in one turn, so one batch: several parts of up to 128 samples each.
  const n = 300;
  for (let i = 0; i < n; i++) {
    const body = { model: 'demo', messages: [{ role: 'user', content: `question ${i}` }] };
    t.ok(writer.offer(sampleSource({ requestId: `r${i}`, request: body, requestBytes: Buffer.from(JSON.stringify(body)), response: { content: `answer ${i}`, toolCalls: [], finishReason: 'stop' } })));
  }
  await writer.close(5000);
  t.same(counts, { stored: n });
  const lines = readFileSync(join(dir, 'demo', 'demo-000001.jsonl'), 'utf8').split('\n').filter(Boolean);
  const records = lines.map((line) => JSON.parse(line) as { source: { request_id: string }; response: { content: string } });
  t.same(records.map((r) => r.source.request_id), Array.from({ length: n }, (_, i) => `r${i}`));
  t.ok(records.every((r, i) => r.response.content === `answer ${i}`), 'each answer with its own request');
});

t.test('batches reach the worker exactly as a JSON round trip would deliver them', async (t) => {
  const base = sampleSource({ request: { model: 'demo', messages: [{ role: 'user', content: 'naïve 请 📧 "quoted" \\ \n' }], temperature: 0.2 } });
  const batch: SampleSource[] = [
    // The first text starts the batch's text bytes: U+FEFF there is text, not a byte-order mark to
    // drop (which would also shift every text after it by one).
    { ...base, requestId: 'r0', response: { content: '\ufeffstarts with U+FEFF', toolCalls: [], finishReason: 'stop' } },
    { ...base, response: { content: 'é 请 📧 "q" \u2028', toolCalls: [], finishReason: null } },
    { ...base, requestId: 'r2' },
    { ...base, requestId: 'r3', response: { content: '', toolCalls: [{ name: 'f', arguments: '{"a":1}' }, { id: 'call_2', name: 'g', arguments: '' }], finishReason: 'tool_calls' } },
    { ...base, requestId: 'r5', response: { content: 'lone \ud800 surrogate', toolCalls: [], finishReason: 'stop' } },
    { ...base, requestId: 'r6', response: { content: 'built', toolCalls: [], finishReason: 'stop' }, usage: { input: 1, cachedInput: 0, cacheWrite: 0, output: 2, reasoning: 0 } },
    { ...base, requestId: 'r8', errorClass: 'upstream_5xx', errorMessage: 'upstream "p" said no', ttftS: 0.25, costUsd: 0.0001, tags: ['error', 'sampled'] },
    // Every repeated string and number in a different place than the others, so none can be read from another's slot.
    {
      ...base,
      requestId: 'r9',
      route: 'other',
      variant: 'challenger',
      model: 'b',
      operation: 'responses',
      latencyS: 0.1 + 0.2,
      ttftS: 0,
      costUsd: 1e-9,
      samplingRate: 0.05,
      tags: ['fallback', 'sampled', 'team-x'],
      usage: { input: 2 ** 40, cachedInput: 3, cacheWrite: 4, output: 5, reasoning: 6 },
    },
  ];
  t.same(decodeSamples(encodeSamples(batch)), JSON.parse(JSON.stringify(batch)));
  t.same(decodeSamples(encodeSamples([])), []);
});

t.test('request bytes travel as they are: the worker gets the parsed request', async (t) => {
  const request = { model: 'demo', messages: [{ role: 'user', content: 'naïve 请 📧 "quoted" \\ \n' }], temperature: 0.2 };
  const source = sampleSource({
    variant: 'challenger',
    // What the request thread parsed; the bytes are what travels (a stand-in here proves it).
    request: { stale: true },
    requestBytes: Buffer.from(JSON.stringify(request)),
    response: { content: 'é 请 📧 "q" \u2028', toolCalls: [], finishReason: 'stop' },
  });
  const withBom = { ...source, requestId: 'r2', requestBytes: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(request))]) };
  const noBytes = { ...source, requestId: 'r3', requestBytes: undefined, request };
  const decoded = decodeSamples(encodeSamples([source, withBom, noBytes]));
  const { requestBytes: _r, ...plain } = source;
  t.same(decoded[0], { ...plain, request });
  t.same(decoded[1]?.request, request, 'a byte-order mark (accepted by the body parser) is not part of the JSON');
  t.same(decoded[2], { ...plain, requestId: 'r3', request }, 'without bytes, the parsed request travels in the JSON');
});

t.test('a source holds the client body as its bytes or parsed, not both; the writer parses bytes', async (t) => {
  const config = samplingConfig(t.testdir({}));
  const body = { model: 'demo', messages: [{ role: 'user', content: 'bytes only' }] };
  const ledger = new RequestLedger('r1', 'chat', config.routes.demo as NonNullable<(typeof config.routes)['demo']>, 'champion', false, false, 'client', body);
  t.same(sourceFromLedger(ledger, 1, []).request, body, 'no bytes: the parsed body');
  ledger.requestBytes = Buffer.from(JSON.stringify(body));
  const source = sourceFromLedger(ledger, 1, []);
  // Batched for up to 100 ms: the parsed body held that long slowed the request thread.
  t.equal(source.request, undefined, 'bytes: the parsed body is not held');
  t.equal(source.requestBytes, ledger.requestBytes);

  const dir = t.testdir({});
  const writer = new InlineSampleWriter(samplingConfig(dir), [], () => {}, { info() {}, warn() {}, error() {} });
  t.ok(writer.offer(source));
  await writer.close(2000);
  const line = readFileSync(join(dir, 'demo', readdirSync(join(dir, 'demo'))[0] as string), 'utf8');
  t.same((JSON.parse(line) as { request: unknown }).request, { messages: body.messages, params: {} }, 'stored from the bytes');
});

t.test('a JSON answer nothing read travels as sent; the worker reads its summary, a broken one costs only itself', async (t) => {
  const config = samplingConfig(t.testdir({}));
  const route = config.routes.demo as NonNullable<(typeof config.routes)['demo']>;
  const answer = {
    id: 'chatcmpl-1',
    choices: [{ index: 0, message: { role: 'assistant', content: 'naïve 请 📧 "q"', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }, finish_reason: 'tool_calls' }],
  };
  const summary = { content: 'naïve 请 📧 "q"', toolCalls: [{ id: 'call_1', name: 'f', arguments: '{"a":1}' }], finishReason: 'tool_calls' };
  const ledger = new RequestLedger('r1', 'chat', route, 'champion', false, false, 'client', {});
  const body = Buffer.from(JSON.stringify(answer));
  let parsed = 0;
  ledger.respondedWith(() => {
    parsed++;
    return { content: 'built here', toolCalls: [], finishReason: 'stop' };
  }, body);
  const source = sourceFromLedger(ledger, 1, []);
  t.equal(source.answerJson, body, 'the bytes the client got');
  t.equal(source.response, undefined);
  t.equal(parsed, 0, 'nothing parsed on the request thread');

  const converted = { ...source, requestId: 'r2', answerJson: new TextEncoder().encode(`  ${JSON.stringify({ ...answer, id: 'x' })}\n`) };
  const broken = { ...source, requestId: 'r3', answerJson: Buffer.from('{"choices": [') };
  const notAnObject = { ...source, requestId: 'r4', answerJson: Buffer.from('[1]') };
  const summarised = { ...source, requestId: 'r5', answerJson: undefined, response: { content: 'kept', toolCalls: [], finishReason: 'stop' } };
  const decoded = decodeSamples(encodeSamples([source, broken, converted, notAnObject, summarised]));
  t.same(
    decoded.map(responseOf),
    [summary, undefined, summary, undefined, summarised.response],
    'each answer summarised from its own JSON; one that does not parse, or is not an object, has none',
  );
  t.same(decoded.map((d) => d.requestId), ['r1', 'r3', 'r2', 'r4', 'r5'], 'every sample of the batch arrives');
  t.notOk(decoded.some((d) => 'answerJson' in d), 'the worker gets summaries, not the bytes');

  t.same(ledger.response, { content: 'built here', toolCalls: [], finishReason: 'stop' }, 'read on the request thread (checks)');
  const after = sourceFromLedger(ledger, 1, []);
  t.equal(after.answerJson, undefined, 'once built, the summary travels instead of the answer');
  t.same(after.response, { content: 'built here', toolCalls: [], finishReason: 'stop' });
  t.equal(parsed, 1);

  // Without the worker (InlineSampleWriter), the answer is read where the record is built.
  const dir = t.testdir({});
  const writer = new InlineSampleWriter(samplingConfig(dir), [], () => {}, { info() {}, warn() {}, error() {} });
  t.ok(writer.offer({ ...source, request: { messages: [{ role: 'user', content: 'hi' }] } }));
  await writer.close(2000);
  const line = readFileSync(join(dir, 'demo', readdirSync(join(dir, 'demo'))[0] as string), 'utf8');
  t.same((JSON.parse(line) as { response: unknown }).response, {
    content: summary.content,
    tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
    finish_reason: 'tool_calls',
  });
});

t.test("the worker parses a batch's answers once one is needed, and never for a part of repeats", async (t) => {
  const answerFor = (i: number) => Buffer.from(JSON.stringify({ id: `c${i}`, choices: [{ index: 0, message: { role: 'assistant', content: `answer ${i}` }, finish_reason: 'stop' }] }));
  const source = (i: number, prompt: string) => {
    const body = { model: 'demo', messages: [{ role: 'user', content: prompt }] };
    return sampleSource({ requestId: `r${i}`, request: body, requestBytes: Buffer.from(JSON.stringify(body)), answerJson: answerFor(i) });
  };
  const parse = JSON.parse;
  let parses = 0;
  JSON.parse = ((text: string, reviver?: Parameters<typeof parse>[1]) => {
    parses++;
    return parse(text, reviver);
  }) as typeof JSON.parse;
  t.teardown(() => void (JSON.parse = parse));

  const batches = [encodeSamples([source(1, 'one'), source(2, 'two'), source(3, 'three')]), encodeSamples([source(4, 'one'), source(5, 'two')])];
  parses = 0;
  const [fresh, repeats] = batches.map(decodeSamples) as [SampleSource[], SampleSource[]];
  t.equal(parses, 2, 'decoding a part parses its requests, not its answers');
  parses = 0;
  t.same(responseOf(fresh[2] as SampleSource), { content: 'answer 3', toolCalls: [], finishReason: 'stop' });
  t.same(responseOf(fresh[0] as SampleSource), { content: 'answer 1', toolCalls: [], finishReason: 'stop' });
  t.equal(parses, 1, "one parse for all of a part's answers, on first need");

  const dir = t.testdir({});
  const writer = new InlineSampleWriter(samplingConfig(dir), [], () => {}, { info() {}, warn() {}, error() {} });
  for (const s of fresh) writer.offer(s);
  parses = 0;
  for (const s of repeats) writer.offer(s);
  t.equal(parses, 0, 'repeats are skipped before their answers are read');
  await writer.close(2000);
});

t.test('the sampling worker runs at background priority; the request thread keeps its own', { skip: process.platform !== 'linux' && 'per-thread nice values are Linux-only' }, async (t) => {
  const dir = t.testdir({});
  const config = samplingConfig(dir);
  const niceOf = (tid: string): number => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]); // field 19: nice
  };
  const own = niceOf(String(process.pid));
  if (own >= BACKGROUND_NICE) {
    t.comment(`skipped: this test process already runs at nice ${own}`);
    return;
  }
  const background = () => readdirSync('/proc/self/task').filter((tid) => niceOf(tid) === BACKGROUND_NICE);
  t.same(background(), [], 'no background thread before the worker starts');
  const writer = new WorkerSampleWriter(config, [], () => {}, { info() {}, warn() {}, error() {} });
  // The worker lowers its priority once its modules are loaded: ~4 s under tap (TypeScript), and
  // over 10 s on a loaded machine, so the deadline is generous.
  await waitFor(() => (background().length > 0 ? true : undefined), 60_000, 20).catch(() => undefined);
  t.equal(background().length, 1, 'exactly one thread — the worker — lowered its priority');
  t.equal(niceOf(String(process.pid)), own, 'the request (main) thread is untouched');
  await writer.close(2000);
});

t.test('samples the worker could not write before a shutdown ran out of time are counted as dropped', async (t) => {
  // A dataset store that accepts connections and never answers: Redis behind a partition.
  const sockets = new Set<Socket>();
  const blackHole = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    blackHole.close();
  });
  const { port } = blackHole.address() as AddressInfo;
  const config = parseConfig(
    `
providers: { sim: { type: simulator } }
models: { a: { provider: sim } }
routes: { demo: { champion: a, sampling: { rate: 1 } } }
state: { redis: "redis://127.0.0.1:${port}" }
datasets: { store: redis }
`,
    'x.yaml',
    {},
  );
  const counts: Record<string, number> = {};
  const warnings: string[] = [];
  const writer = new WorkerSampleWriter(
    config,
    [],
    (_route, _variant, result, n) => (counts[result] = (counts[result] ?? 0) + n),
    { info() {}, warn: (_obj, msg) => warnings.push(msg), error() {} },
  );
  for (let i = 0; i < 5; i++) t.ok(writer.offer(sampleSource({ requestId: `r${i}`, request: { model: 'demo', messages: [{ role: 'user', content: `question ${i}` }] } })));
  await new Promise((resolve) => setTimeout(resolve, 300)); // handed over; the worker's append hangs
  await writer.close(300);
  t.same(counts, { dropped: 5 }, 'every accepted sample is accounted for');
  t.match(warnings, [/counted as dropped/]);
});
