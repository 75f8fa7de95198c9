// After the response: remember the request for feedback, run online checks, decide sampling. All of it
// happens off the request path — the listener only enqueues — and the backlog is bounded: when it is
// full the request is skipped and counted as a dropped sample.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { RequestLedger } from '../gateway/ledger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { CompletionListener } from '../gateway/context.js';
import { OnlineChecks } from '../checks/online.js';
import type { DatasetStore } from './dataset-store.js';
import { WorkerSampleWriter, openDatasetStore, type SampleWriter } from './sample-writer.js';
import { Sampler } from './sampler.js';
import { answeringModel } from './sample-source.js';
import { MemoryRecentResponses, RedisRecentResponses, type RecentResponses } from './recent-responses.js';

const BACKLOG = 10_000;

export interface SamplingPipeline {
  listener: CompletionListener;
  store: DatasetStore;
  recent: RecentResponses;
  sampler: Sampler;
  /** A reloaded config: sampling, redaction and checks per route as they are now; `secrets` to redact. */
  reconfigure(config: Config, secrets: string[]): void;
  /** Flush accepted samples (graceful shutdown), then release resources. */
  close(flushTimeoutMs: number): Promise<void>;
}

export function createSamplingPipeline(
  config: Config,
  metrics: Metrics,
  logger: Logger,
  secrets: string[],
  /** Requests waiting for after-response processing; beyond it they are skipped (tests lower it). */
  backlogCapacity = BACKLOG,
): SamplingPipeline {
  const redis = config.state.redis ? new Redis(config.state.redis, { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false }) : undefined;
  redis?.on('error', () => {}); // reported by the stores that use it, once per outage
  // Writes happen in the sampling worker; this store instance only serves reads (admin export/list).
  const store = openDatasetStore(config, logger, redis);
  // No worker thread until some route samples (a reload may turn sampling on).
  const startWriter = (c: Config, s: string[]): SampleWriter | undefined =>
    Object.values(c.routes).some((r) => r.sampling)
      ? new WorkerSampleWriter(c, s, (route, variant, result, n) => {
          if (result !== 'duplicate') metrics.samples.inc({ route, variant, result }, n);
        }, logger)
      : undefined;
  let writer = startWriter(config, secrets);
  const memory = new MemoryRecentResponses(config.feedback.ttlSeconds * 1000, config.feedback.maxEntries);
  const recent: RecentResponses = redis ? new RedisRecentResponses(redis, config.state.keyPrefix, config.feedback.ttlSeconds, memory, logger) : memory;
  let checks = new OnlineChecks(config, metrics);
  const sampler = new Sampler({ offer: (source) => writer?.offer(source) ?? false });

  const backlog: RequestLedger[] = [];
  let scheduled = false;
  const process = () => {
    scheduled = false;
    // A slice per turn so a burst never monopolises the event loop.
    for (let n = 0; n < 256 && backlog.length > 0; n++) {
      const ledger = backlog.shift() as RequestLedger;
      try {
        handle(ledger);
      } catch (err) {
        logger.error({ err, request_id: ledger.requestId }, 'after-response processing failed');
      }
    }
    if (backlog.length > 0) schedule();
  };
  const schedule = () => {
    if (!scheduled) {
      scheduled = true;
      setImmediate(process);
    }
  };
  const handle = (ledger: RequestLedger) => {
    // The same attribution as the sample: a failed challenger request is the challenger's, not the champion's.
    const model = answeringModel(ledger);
    const runs = checks.run(ledger);
    const reasons = sampler.reasons(ledger, runs.some((r) => r.outcome.result !== 'pass'));
    const sampled = reasons.length > 0 && sampler.offer(ledger, reasons);
    // Forced requests (evals) are never sampled, so a rating must not sample them either.
    const keepForFeedback = sampler.enabled(ledger.route) && ledger.route.sampling?.keepNegativeFeedback !== false && !sampled && !ledger.forced;
    recent.remember(ledger.requestId, {
      route: ledger.route.name,
      variant: ledger.variant,
      model,
      at: Date.now(),
      sampled,
      ...(keepForFeedback ? { ledger } : {}),
    });
  };

  const listener: CompletionListener = (ledger) => {
    if (backlog.length >= backlogCapacity) {
      // A dropped sample is one the route would have kept (the same draw as below; checks can't run
      // now), not every skipped request: at rate 0.05 that would count twenty times too many.
      if (sampler.reasons(ledger, false).length > 0) metrics.samples.inc({ route: ledger.route.name, variant: ledger.variant, result: 'dropped' });
      return;
    }
    backlog.push(ledger);
    schedule();
  };

  return {
    listener,
    store,
    recent,
    sampler,
    reconfigure(next: Config, nextSecrets: string[]) {
      checks = new OnlineChecks(next, metrics);
      if (writer) writer.reconfigure(next, nextSecrets);
      else writer = startWriter(next, nextSecrets);
    },
    async close(flushTimeoutMs: number) {
      while (backlog.length > 0) process();
      await writer?.close(flushTimeoutMs);
      await recent.close();
      await store.close();
      redis?.disconnect();
    },
  };
}
