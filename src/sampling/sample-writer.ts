// Where sampled requests go: redacted into records and written through the bounded WriteQueue. The
// gateway runs this in a worker thread (WorkerSampleWriter) so redaction, hashing and writing never
// take time from requests; InlineSampleWriter is the same work in the calling thread (the worker's
// body, and tests).
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import type { Config } from '../config/types.js';
import { createRedactor, type Redactor } from './redact.js';
import { buildRecord, inputOf } from './record-builder.js';
import { inputHash } from './dataset-record.js';
import { JsonlDatasetStore } from './jsonl-store.js';
import { RecentHashes } from './recent-hashes.js';
import { RedisDatasetStore } from './redis-store.js';
import type { DatasetStore, SamplingLogger } from './dataset-store.js';
import { WriteQueue, type SampleResult } from './write-queue.js';
import { requestOf, summaryOfAnswer, type SampleSource } from './sample-source.js';
import { asObject, parseObject } from '../providers/json-object.js';
import type { Operation } from '../providers/types.js';
import type { ErrorClass } from '../gateway/errors.js';
import type { ResponseSummary } from '../gateway/ledger.js';

export type ResultListener = (route: string, variant: string, result: SampleResult, n: number) => void;

export interface SampleWriter {
  /** Synchronous and cheap; false when the sample was dropped (already reported as `dropped`). */
  offer(source: SampleSource): boolean;
  /** Writes what was accepted (bounded by `timeoutMs`), then releases everything. */
  close(timeoutMs: number): Promise<void>;
  /**
   * A reloaded config: routes' sampling and redaction settings, and the secrets to redact, as they are
   * now. Where datasets are stored is not changed (a restart is).
   */
  reconfigure(config: Config, secrets: string[]): void;
}

/** The dataset store a config describes; `redis` may be shared with the caller. */
export function openDatasetStore(config: Config, logger: SamplingLogger, redis?: Redis): DatasetStore {
  if (config.datasets.store === 'redis' && config.state.redis) {
    return new RedisDatasetStore({
      redis: redis ?? config.state.redis,
      keyPrefix: `${config.state.keyPrefix}datasets:`,
      maxLen: config.datasets.maxLen,
      maxAgeSeconds: config.datasets.maxAgeSeconds,
      logger,
    });
  }
  const { dir, maxFileBytes, maxLen, maxAgeSeconds } = config.datasets;
  return new JsonlDatasetStore({ dir, maxFileBytes, maxLen, maxAgeSeconds, logger });
}

/** How many recent inputs per dataset the writer remembers to skip repeats before any work. */
const RECENT_INPUTS = 10_000;

export class InlineSampleWriter implements SampleWriter {
  private readonly redactors = new Map<string, Redactor>();
  /** Raw input hashes per route. */
  private readonly recentInputs = new Map<string, RecentHashes>();
  private readonly onResult: ResultListener;
  private readonly store: DatasetStore;
  private readonly queue: WriteQueue;

  constructor(config: Config, secrets: string[], onResult: ResultListener, logger: SamplingLogger) {
    this.onResult = onResult;
    this.reconfigure(config, secrets);
    this.store = openDatasetStore(config, logger);
    this.queue = new WriteQueue({
      store: this.store,
      capacity: config.datasets.queueCapacity,
      logger,
      onResult: (route, variant, result) => onResult(route, variant, result, 1),
    });
  }

  reconfigure(config: Config, secrets: string[]): void {
    this.redactors.clear();
    for (const route of Object.values(config.routes)) {
      if (route.sampling) this.redactors.set(route.name, createRedactor({ secrets, patterns: route.sampling.redact ?? [] }));
    }
  }

  offer(offered: SampleSource): boolean {
    // Parsed once here, not by each reader below (the worker's decoded sources come parsed).
    const source = offered.request === undefined ? { ...offered, request: requestOf(offered) } : offered;
    const redactor = this.redactors.get(source.route);
    if (!redactor) {
      // Its route stopped sampling (a reload) while the sample was on its way: counted, not lost silently.
      this.onResult(source.route, source.variant, 'dropped', 1);
      return false;
    }
    // Redaction is deterministic, so the same raw input always gives the same stored input: a
    // repeat is a duplicate the store would refuse anyway — skip redacting and hashing it again.
    const raw = rawInputKey(source);
    let seen = this.recentInputs.get(source.route);
    if (!seen) this.recentInputs.set(source.route, (seen = new RecentHashes(RECENT_INPUTS)));
    if (seen.has(raw)) {
      this.onResult(source.route, source.variant, 'duplicate', 1);
      return true;
    }
    const accepted = this.queue.offer(buildRecord(source, redactor, raw));
    // A dropped input never reached the dataset: its next occurrence must be sampled, not skipped.
    if (accepted) seen.add(raw);
    return accepted;
  }

  async close(timeoutMs: number): Promise<void> {
    await this.queue.flush(timeoutMs);
    await this.queue.close();
    await this.store.close();
  }
}

export function rawInputKey(source: SampleSource): string {
  // The record's own hash when redaction changed nothing, so it covers exactly what inputHash does.
  return inputHash(inputOf(requestOf(source)));
}

/** Messages between the gateway and its sampling worker. */
/**
 * Samples travel in batches as bytes in a transferred buffer: structured-cloning objects or even
 * strings per message cost more than the rest of sampling on the request thread. `count` is the
 * number of samples in `bytes`, so a batch that cannot be read is still accounted for.
 */
export type ToWorker =
  | { type: 'samples'; bytes: Uint8Array; count: number }
  | { type: 'reconfigure'; config: Config; secrets: string[] }
  | { type: 'close'; timeoutMs: number };
export type FromWorker =
  | { type: 'results'; processed: number; counts: [route: string, variant: string, result: SampleResult, n: number][] }
  | { type: 'closed' };

export interface WorkerData {
  config: Config;
  secrets: string[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** An answer may start with U+FEFF: as text, not a byte-order mark to drop (which would shift every text after it). */
const textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
const NEWLINE = 0x0a;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * One source in a batch's JSON, as a tuple: positions instead of keys make the JSON about half as
 * long, and serialising it was most of what the hand-over cost the request thread. The strings a
 * batch repeats (route, variant, model, operation, error class, tags, finish reason) are indexes
 * into the batch's `strings`, and the numbers travel as doubles after the JSON (`NUMBERS` per
 * source) instead of as decimal text: the two together halved the time the JSON takes to build and
 * serialise (1.2–1.9 → 0.6–1.0 µs per source). `null` stands for a field the source does not have;
 * the request body travels in the batch's JSON array after the head, the answer's text after the
 * numbers.
 */
type PackedSource = [
  route: number,
  requestId: string,
  variant: number,
  model: number,
  operation: number,
  errorClass: number,
  tags: number[],
  errorMessage: string | null,
  response: PackedResponse | null,
];

/**
 * A summary without its text, which travels as UTF-8 after the numbers: JSON-escaping it cost the
 * request thread ~2 ns per character, several times what encoding it does.
 */
type PackedResponse = [
  /** Index into `strings`, −1 for null. */
  finishReason: number,
  /** null for none. */
  toolCalls: ResponseSummary['toolCalls'] | null,
  /** Only a text that is not well-formed UTF-16, which would not survive UTF-8. */
  content: string | null,
];

/**
 * Per source, in this order: latencyS, ttftS, costUsd, samplingRate, then usage's input,
 * cachedInput, cacheWrite, output, reasoning. NaN stands for null (ttftS, costUsd) or for no usage.
 */
const NUMBERS = 9;

/**
 * The head of a batch's JSON array. `texts[i]`: the length of source i's answer text in UTF-16 code
 * units, −1 for none; `answers[i]`: the byte length of its JSON answer, −1 for none.
 */
interface BatchHead {
  strings: string[];
  sources: PackedSource[];
  texts: number[];
  answers: number[];
}

const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;

/** The body parser accepts a leading byte-order mark; inside the batch's array it would be a syntax error. */
function withoutBom(body: Uint8Array): Uint8Array {
  return body[0] === UTF8_BOM[0] && body[1] === UTF8_BOM[1] && body[2] === UTF8_BOM[2] ? body.subarray(3) : body;
}

/**
 * A batch as bytes: `<n>\n`, n bytes of one JSON array — the head (`BatchHead`), then each source's
 * request body — then the sources' numbers as doubles (in the platform's byte order: both ends are
 * the same process), then a JSON array of the JSON answers sent as they were (`answerJson`), then
 * the answer texts back to back as UTF-8. The answers have an array of their own: the request
 * thread never parsed them, so one that is not valid JSON must not cost the batch its requests.
 *
 * The bodies go into the array as the client sent them: the request thread holds them as read from
 * the socket, and they already parsed there as JSON (the same grammar, the body parser's leading
 * byte-order mark aside), so handing one over is a copy and the worker reads the whole batch with
 * one JSON.parse. A decode and a parse per body, and another decode per answer text, cost the
 * worker more than the parsing itself for the short bodies of most requests.
 */
export function encodeSamples(batch: readonly SampleSource[]): Uint8Array<ArrayBuffer> {
  const head: BatchHead = { strings: [], sources: [], texts: [], answers: [] };
  const indexes = new Map<string, number>();
  const intern = (value: string): number => {
    let index = indexes.get(value);
    if (index === undefined) {
      index = head.strings.push(value) - 1;
      indexes.set(value, index);
    }
    return index;
  };
  const numbers = new Float64Array(batch.length * NUMBERS);
  const bodies: Uint8Array[] = [];
  let bodyBytes = 0;
  let texts = '';
  const answers: Uint8Array[] = [];
  let answerBytes = 0;
  for (let i = 0; i < batch.length; i++) {
    const source = batch[i] as SampleSource;
    const { requestBytes, usage, response, answerJson } = source;
    head.answers.push(answerJson === undefined ? -1 : answerJson.length);
    if (answerJson !== undefined) {
      answers.push(answerJson);
      answerBytes += answerJson.length;
    }
    // A lone surrogate would come back as U+FFFD, one unit for one: the text's length still matches,
    // but not its content — such a text travels in the JSON instead.
    const text = response !== undefined && isWellFormed(response.content) ? response.content : undefined;
    head.texts.push(text === undefined ? -1 : text.length);
    if (text !== undefined) texts += text;
    head.sources.push([
      intern(source.route),
      source.requestId,
      intern(source.variant),
      intern(source.model),
      intern(source.operation),
      intern(source.errorClass),
      source.tags.map(intern),
      source.errorMessage ?? null,
      response === undefined
        ? null
        : [response.finishReason === null ? -1 : intern(response.finishReason), response.toolCalls.length > 0 ? response.toolCalls : null, text === undefined ? response.content : null],
    ]);
    const body = requestBytes ? withoutBom(requestBytes) : encoder.encode(JSON.stringify(source.request ?? {}));
    bodies.push(body);
    bodyBytes += body.length;
    const at = i * NUMBERS;
    numbers[at] = source.latencyS;
    numbers[at + 1] = source.ttftS ?? NaN;
    numbers[at + 2] = source.costUsd ?? NaN;
    numbers[at + 3] = source.samplingRate;
    numbers[at + 4] = usage ? usage.input : NaN;
    numbers[at + 5] = usage ? usage.cachedInput : NaN;
    numbers[at + 6] = usage ? usage.cacheWrite : NaN;
    numbers[at + 7] = usage ? usage.output : NaN;
    numbers[at + 8] = usage ? usage.reasoning : NaN;
  }
  const json = encoder.encode(`[${JSON.stringify(head)}`);
  const textBytes = encoder.encode(texts);
  // `[head` + `,body` per source + `]`
  const arrayBytes = json.length + bodies.length + bodyBytes + 1;
  const prefix = encoder.encode(`${arrayBytes}\n`);
  const numberBytes = new Uint8Array(numbers.buffer);
  // `[` + answers with a comma between each two + `]`
  const answersBytes = 2 + answerBytes + Math.max(0, answers.length - 1);
  const out = new Uint8Array(prefix.length + arrayBytes + numberBytes.length + answersBytes + textBytes.length);
  out.set(prefix, 0);
  out.set(json, prefix.length);
  let at = prefix.length + json.length;
  for (const body of bodies) {
    out[at++] = COMMA;
    out.set(body, at);
    at += body.length;
  }
  out[at++] = CLOSE_BRACKET;
  out.set(numberBytes, at);
  at += numberBytes.length;
  out[at++] = OPEN_BRACKET;
  answers.forEach((answer, n) => {
    if (n > 0) out[at++] = COMMA;
    out.set(answer, at);
    at += answer.length;
  });
  out[at++] = CLOSE_BRACKET;
  out.set(textBytes, at);
  return out;
}

/** Sources as the worker uses them: `request` parsed. */
export function decodeSamples(bytes: Uint8Array): SampleSource[] {
  const newline = bytes.indexOf(NEWLINE);
  let at = newline + 1 + Number(decoder.decode(bytes.subarray(0, newline)));
  const array = JSON.parse(decoder.decode(bytes.subarray(newline + 1, at))) as [BatchHead, ...Record<string, unknown>[]];
  const { strings, sources, texts: textLengths, answers: answerLengths } = array[0];
  // Copied out: a Float64Array over the batch itself would need the JSON's length padded to 8 bytes.
  const numberBytes = sources.length * NUMBERS * Float64Array.BYTES_PER_ELEMENT;
  const numbers = new Float64Array(bytes.slice(at, at + numberBytes).buffer);
  at += numberBytes;
  const present = answerLengths.filter((length) => length >= 0);
  const answersBytes = 2 + present.reduce((sum, length) => sum + length, 0) + Math.max(0, present.length - 1);
  const answersJson = bytes.subarray(at, at + answersBytes);
  // Parsed when the first of them is needed: a part of repeats (the same prompt again and again) never is.
  let answers: (Record<string, unknown> | undefined)[] | undefined;
  const answer = (k: number) => (answers ??= readAnswers(answersJson, present))[k];
  const texts = textDecoder.decode(bytes.subarray(at + answersBytes));
  let answerAt = 0;
  let textAt = 0;
  const string = (index: number): string => strings[index] as string;
  const nullable = (value: number | undefined): number | null => (value === undefined || Number.isNaN(value) ? null : value);
  return sources.map((packed, i) => {
    const [route, requestId, variant, model, operation, errorClass, tags, errorMessage, response] = packed;
    const n = i * NUMBERS;
    const source: SampleSource = {
      route: string(route),
      requestId,
      variant: string(variant) as SampleSource['variant'],
      model: string(model),
      operation: string(operation) as Operation,
      request: array[i + 1] as Record<string, unknown>,
      latencyS: numbers[n] as number,
      ttftS: nullable(numbers[n + 1]),
      costUsd: nullable(numbers[n + 2]),
      errorClass: string(errorClass) as ErrorClass,
      samplingRate: numbers[n + 3] as number,
      tags: tags.map(string),
    };
    if (errorMessage !== null) source.errorMessage = errorMessage;
    if (!Number.isNaN(numbers[n + 4])) {
      source.usage = { input: numbers[n + 4] as number, cachedInput: numbers[n + 5] as number, cacheWrite: numbers[n + 6] as number, output: numbers[n + 7] as number, reasoning: numbers[n + 8] as number };
    }
    const length = textLengths[i] as number;
    const text = length < 0 ? undefined : texts.slice(textAt, (textAt += length));
    if ((answerLengths[i] as number) >= 0) {
      const k = answerAt++;
      const { operation } = source;
      source.readResponse = () => summaryOfAnswer(operation, answer(k));
    }
    if (response !== null) {
      const [finishReason, toolCalls, content] = response;
      source.response = { content: text ?? content ?? '', toolCalls: toolCalls ?? [], finishReason: finishReason < 0 ? null : string(finishReason) };
    }
    return source;
  });
}

/**
 * The batch's JSON answers, each parsed or undefined. One parse for all of them; should one not be
 * valid JSON (the client got it as the upstream sent it), each is parsed on its own instead.
 */
function readAnswers(bytes: Uint8Array, lengths: readonly number[]): (Record<string, unknown> | undefined)[] {
  if (lengths.length === 0) return [];
  try {
    return (JSON.parse(decoder.decode(bytes)) as unknown[]).map(asObject);
  } catch {
    let at = 1;
    return lengths.map((length) => {
      const answer = bytes.subarray(at, at + length);
      at += length + 1;
      return parseObject(decoder.decode(answer));
    });
  }
}

/**
 * Samples are handed over in batches, at most every BATCH_INTERVAL_MS. Every hand-over wakes the worker,
 * and on a busy machine the woken thread preempts the request thread: at 10 ms batches the request
 * thread lost ~5 % of its time to those switches under load (bench profile), at 100 ms a tenth of that.
 * Nothing waits on a sample, so the extra 90 ms of latency costs nothing.
 */
const BATCH_INTERVAL_MS = 100;
const BATCH_MAX = 2048;
/**
 * A batch travels in parts of at most this many samples, one message each (the worker still wakes once
 * for all of them). A whole batch at the bench's ~4,500 samples/s decoded into strings over V8's
 * large-object size (128 KB: the JSON and the answer texts), which V8 maps fresh for each one; touching
 * those pages cost the worker ~0.05 page faults per sample, and the request thread's batch buffer as
 * much. In parts of 128 (~80 KB of bytes) neither faulted in steady state (bench-shaped load, one
 * gateway: worker 22.0 → 21.1 µs per sample, faults 0.05 → 0.00).
 */
const PART_MAX = 128;

export class WorkerSampleWriter implements SampleWriter {
  private readonly worker: Worker;
  private inFlight = 0;
  private dead = false;
  private closed: Promise<void> | undefined;
  private batch: SampleSource[] = [];
  private timer: NodeJS.Timeout | undefined;
  private onClosed: (() => void) | undefined;
  /**
   * Accepted samples whose fate the worker has not reported yet, per route and variant: what is
   * counted as dropped if the worker goes away first (it failed, or did not finish at shutdown).
   */
  private readonly unreported = new Map<string, [route: string, variant: string, n: number]>();
  /** Set once those were counted as dropped: a late report must not count them again. */
  private abandoned = false;

  constructor(
    config: Config,
    secrets: string[],
    private readonly onResult: ResultListener,
    private readonly logger: SamplingLogger,
    /** Samples handed over but not yet processed; beyond this, new ones are dropped (and counted). */
    private readonly capacity = config.datasets.queueCapacity,
  ) {
    // Compiled: worker.js next to this file. From source (tests): worker.ts, with the same loader.
    const script = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);
    const data: WorkerData = { config, secrets };
    this.worker = new Worker(script, { workerData: data });
    this.worker.unref();
    this.worker.on('message', (message: FromWorker) => this.receive(message));
    this.worker.on('error', (err) => {
      this.dead = true;
      this.logger.error({ err: String(err) }, 'sampling worker failed: new samples are dropped (and counted) until restart');
      this.dropUnreported();
      this.onClosed?.();
    });
    this.worker.on('exit', () => {
      this.dead = true;
      this.dropUnreported();
      this.onClosed?.();
    });
  }

  offer(source: SampleSource): boolean {
    if (this.dead || this.closed || this.inFlight >= this.capacity) {
      this.onResult(source.route, source.variant, 'dropped', 1);
      return false;
    }
    this.inFlight++;
    this.track(source.route, source.variant, 1);
    if (this.batch.push(source) >= BATCH_MAX) this.send();
    else this.timer ??= setTimeout(() => this.send(), BATCH_INTERVAL_MS);
    return true;
  }

  private send(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.length === 0 || this.dead) return;
    const batch = this.batch;
    this.batch = [];
    for (let at = 0; at < batch.length; at += PART_MAX) {
      const part = batch.length <= PART_MAX ? batch : batch.slice(at, at + PART_MAX);
      const bytes = encodeSamples(part);
      this.worker.postMessage({ type: 'samples', bytes, count: part.length } satisfies ToWorker, [bytes.buffer]);
    }
  }

  reconfigure(config: Config, secrets: string[]): void {
    if (this.dead || this.closed) return;
    // Samples batched here go out first, so the worker redacts them under the old rules. The old
    // secrets the caller merges into the new matter for samples still waiting on the main thread
    // (the pipeline's backlog, a request kept for negative feedback): taken before the reload, they
    // are redacted under the new rules, and a rotated-out key must still come out of them.
    this.send();
    this.worker.postMessage({ type: 'reconfigure', config, secrets } satisfies ToWorker);
  }

  close(timeoutMs: number): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        // Reported ones are settled; the rest (the worker's flush ran out of time) are lost.
        this.dropUnreported();
        void this.worker.terminate().then(() => resolve());
      };
      const timer = setTimeout(done, timeoutMs + 1000);
      this.onClosed = done;
      if (this.dead) return done();
      this.send();
      this.worker.ref();
      this.worker.postMessage({ type: 'close', timeoutMs } satisfies ToWorker);
    });
    return this.closed;
  }

  private receive(message: FromWorker): void {
    if (message.type === 'closed') return this.onClosed?.();
    if (this.abandoned) return;
    this.inFlight = Math.max(0, this.inFlight - message.processed);
    for (const [route, variant, result, n] of message.counts) {
      this.track(route, variant, -n);
      this.onResult(route, variant, result, n);
    }
  }

  private track(route: string, variant: string, n: number): void {
    const key = `${route}\u0001${variant}`;
    const entry = this.unreported.get(key);
    if (entry) entry[2] += n;
    else this.unreported.set(key, [route, variant, n]);
  }

  private dropUnreported(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    let lost = 0;
    for (const [route, variant, n] of this.unreported.values()) {
      if (n <= 0) continue;
      lost += n;
      this.onResult(route, variant, 'dropped', n);
    }
    this.unreported.clear();
    if (lost > 0) this.logger.warn({ dropped: lost }, 'sampling worker ended with samples it had not written; they are counted as dropped');
  }
}

function isWellFormed(text: string): boolean {
  // ES2024, in Node since 20; the project's lib setting stops at ES2023.
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}
