// `node dist/bench/sampling-micro.js`: CPU per sampled record, stage by stage, in one thread — where
// `npm run bench:sampling` says what sampling costs in throughput, this says which part of the work
// costs it. Sources are unique-prompt requests shaped like the bench's, answered by the simulator's
// own chat.completion body, so no record is a duplicate and every one is redacted, hashed and written.
//
// Each stage runs over the same N sources after a warm-up pass; figures are process CPU (user +
// system) per record, with wall time alongside, the best of MICRO_REPEAT runs (default 3).
// MICRO_RECORDS sets N (default 20,000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/types.js';
import { RequestLedger } from '../src/gateway/ledger.js';
import { planChat } from '../src/simulator/engine.js';
import { completionBody } from '../src/simulator/wire.js';
import { fromOpenAIUsage, type OpenAIUsageWire } from '../src/accounting/usage.js';
import { inputHash, type DatasetRecord } from '../src/sampling/dataset-record.js';
import { JsonlDatasetStore } from '../src/sampling/jsonl-store.js';
import { createRedactor } from '../src/sampling/redact.js';
import { buildRecord, rawRequestOf, rawResponseOf } from '../src/sampling/record-builder.js';
import { summariseAnswer, summaryLater } from '../src/gateway/summary.js';
import { sourceFromLedger, type SampleSource } from '../src/sampling/sample-source.js';
import { InlineSampleWriter, decodeSamples, encodeSamples, rawInputKey } from '../src/sampling/sample-writer.js';

const N = Number(process.env.MICRO_RECORDS ?? 20_000);
const WARM = Math.min(N, 3000);
const REPEAT = Number(process.env.MICRO_REPEAT ?? 3);
const BATCH = 256; // WorkerSampleWriter's batch size
const ROUTE = 'bench';
// What a gateway typically holds: a provider key, a client key, an admin token.
const SECRETS = ['sk-proj-benchProviderKey0123456789abcdef', 'bench-client-key-7c1d2e3f4a5b', 'admin-token-0f1e2d3c4b5a69788796'];

const work = mkdtempSync(join(tmpdir(), 'bellwether-sampling-micro-'));
const config: Config = parseConfig(
  `
providers: { sim: { type: simulator } }
models: { a: { provider: sim } }
routes: { ${ROUTE}: { champion: a, sampling: { rate: 1 } } }
datasets: { dir: ${join(work, 'datasets')} }
`,
  'micro.yaml',
  {},
);
const route = config.routes[ROUTE];
if (!route) throw new Error('bench route missing');

let serial = 0;
/** Each ledger's parsed answer, for timing the summary (a ledger keeps the first one it builds). */
const answers = new WeakMap<RequestLedger, Record<string, unknown>>();
function ledger(): RequestLedger {
  const i = serial++;
  const body = {
    model: ROUTE,
    messages: [
      { role: 'system', content: 'You are a helpful assistant for Acme Corp customer support.' },
      { role: 'user', content: `Summarise the benefits of gradual model rollouts for Acme Corp in two sentences. ${i}-${Math.random()}` },
    ],
  };
  // As the gateway holds it: the upstream's answer as bytes, its summary built on demand (by the worker when sampled).
  const answerText = JSON.stringify(completionBody(planChat(body, undefined), 'a'));
  const answer = JSON.parse(answerText) as Record<string, unknown>;
  const l = new RequestLedger(`req-${i}`, 'chat', route as NonNullable<typeof route>, i % 2 === 0 ? 'champion' : 'challenger', false, false, 'client', body);
  l.usage = fromOpenAIUsage(answer.usage as OpenAIUsageWire);
  // The client's body as read from the socket.
  l.requestBytes = Buffer.from(JSON.stringify(body));
  l.respondedWith(summaryLater('chat', { json: answer }), Buffer.from(answerText));
  answers.set(l, answer);
  l.endedMs = 12.5;
  return l;
}

/** Sources as the worker sees them: after the JSON round trip through the batch buffer. */
function viaBatches(ledgers: readonly RequestLedger[]): SampleSource[] {
  const out: SampleSource[] = [];
  for (let i = 0; i < ledgers.length; i += BATCH) {
    out.push(...decodeSamples(encodeSamples(ledgers.slice(i, i + BATCH).map((l) => sourceFromLedger(l, 1, ['sampled'])))));
  }
  return out;
}

interface Figure {
  stage: string;
  cpuUs: number;
  wallUs: number;
}
const figures: Figure[] = [];

/** The best of REPEAT runs: on a shared machine the noise only ever adds time. */
async function measure(stage: string, run: () => unknown, records = N): Promise<void> {
  let best: Figure | undefined;
  for (let r = 0; r < REPEAT; r++) {
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    await run();
    const wallUs = (performance.now() - t0) * 1000;
    const used = process.cpuUsage(cpu);
    const figure = { stage, cpuUs: (used.user + used.system) / records, wallUs: wallUs / records };
    if (best === undefined || figure.cpuUs < best.cpuUs) best = figure;
  }
  figures.push(best as Figure);
}

type Stage = [name: string, run: () => unknown];

/** The stages over one set of inputs; everything a stage consumes is prepared before it is timed. */
function stages(ledgers: readonly RequestLedger[], sources: readonly SampleSource[]): Stage[] {
  const redactor = createRedactor({ secrets: SECRETS, patterns: route?.sampling?.redact ?? [] });
  const raws = sources.map(rawRequestOf);
  const responses = sources.map((s) => rawResponseOf(s, s.response));
  const parsed = ledgers.map((l) => answers.get(l) as Record<string, unknown>);
  const records: DatasetRecord[] = sources.map((s) => buildRecord(s, redactor));
  const built = ledgers.map((l) => sourceFromLedger(l, 1, ['sampled']));
  const batches: SampleSource[][] = [];
  for (let i = 0; i < built.length; i += BATCH) batches.push(built.slice(i, i + BATCH));
  const bytes = batches.map(encodeSamples);
  let sink = 0;
  return [
    ['worker: answer summary (of the parsed answer)', () => { for (const a of parsed) sink += summariseAnswer('chat', a).content.length; }],
    ['request: sourceFromLedger', () => { for (const l of ledgers) sink += sourceFromLedger(l, 1, ['sampled']).tags.length; }],
    ['request: batch encode', () => { for (const b of batches) sink += encodeSamples(b).length; }],
    ['worker: batch decode (the answers are parsed when first needed)', () => { for (const b of bytes) sink += decodeSamples(b).length; }],
    ['worker: raw input hash (dedup key)', () => { for (const s of sources) sink += rawInputKey(s).length; }],
    ['worker: redact request', () => { for (const r of raws) sink += redactor.redactValue(r).count; }],
    ['worker: redact response', () => { for (const r of responses) sink += redactor.redactValue(r).count; }],
    ['worker: input hash (redacted request)', () => { for (const r of records) sink += inputHash(r.request).length; }],
    ['worker: buildRecord (redact+ids, hash reused)', () => { for (const s of sources) sink += buildRecord(s, redactor, 'x').redactions; }],
    ['worker: line serialisation', () => { for (const r of records) sink += Buffer.byteLength(JSON.stringify(r) + '\n'); }],
    ['worker: store append (incl. serialisation)', async () => {
      const store = new JsonlDatasetStore({ dir: mkdtempSync(join(work, 'store-')) });
      for (let i = 0; i < records.length; i += 100) sink += (await store.append(records.slice(i, i + 100))).stored;
      await store.close();
    }],
    ['(sink)', () => sink],
  ];
}

async function writerTotal(sources: readonly SampleSource[]): Promise<void> {
  const writer = new InlineSampleWriter(
    { ...config, datasets: { ...config.datasets, dir: mkdtempSync(join(work, 'writer-')), queueCapacity: sources.length + 1 } },
    SECRETS,
    (_route, _variant, result) => {
      if (result !== 'stored') throw new Error(`unexpected ${result}`);
    },
    { info() {}, warn() {}, error() {} },
  );
  for (const s of sources) writer.offer(s);
  await writer.close(60_000);
}

try {
  const warmLedgers = Array.from({ length: WARM }, ledger);
  const ledgers = Array.from({ length: N }, ledger);
  const warmSources = viaBatches(warmLedgers);
  const sources = viaBatches(ledgers);

  // Warm-up: every stage once over other sources so the timed pass runs optimised code.
  for (const [, run] of stages(warmLedgers, warmSources)) await run();
  await writerTotal(warmSources);

  for (const [stage, run] of stages(ledgers, sources)) if (stage !== '(sink)') await measure(stage, run);
  await measure('TOTAL worker: InlineSampleWriter.offer … close (JSONL)', () => writerTotal(sources));

  const sample = buildRecord(sources[0] as SampleSource, createRedactor({ secrets: SECRETS }));
  console.log(`sampling micro: ${N} unique-prompt records, line ≈ ${JSON.stringify(sample).length} bytes, node ${process.version}`);
  console.log(`${'stage'.padEnd(56)} ${'cpu µs/rec'.padStart(10)} ${'wall µs/rec'.padStart(11)}`);
  for (const f of figures) console.log(`${f.stage.padEnd(56)} ${f.cpuUs.toFixed(1).padStart(10)} ${f.wallUs.toFixed(1).padStart(11)}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
