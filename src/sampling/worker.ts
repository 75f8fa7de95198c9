// The sampling worker thread: turns sampled requests into redacted records and writes them, reporting
// what became of each (stored / dropped / duplicate) back to the gateway's metrics in batches.
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../telemetry/logger.js';
import { InlineSampleWriter, decodeSamples, type FromWorker, type ToWorker, type WorkerData } from './sample-writer.js';
import type { SampleResult } from './write-queue.js';
import type { SampleSource } from './sample-source.js';
import { lowerThisThreadPriority } from './background-priority.js';

const port = parentPort;
if (!port) throw new Error('sampling worker must run in a worker thread');
const { config, secrets } = workerData as WorkerData;
const logger = createLogger(config.logging.level).child({ thread: 'sampling' });
if (!lowerThisThreadPriority()) logger.debug('no per-thread priority on this platform: sampling runs at normal priority');

const counts = new Map<string, [string, string, SampleResult, number]>();
let processed = 0;
let timer: NodeJS.Timeout | undefined;

function report(): void {
  timer = undefined;
  if (processed === 0 && counts.size === 0) return;
  port?.postMessage({ type: 'results', processed, counts: [...counts.values()] } satisfies FromWorker);
  processed = 0;
  counts.clear();
}

function count(route: string, variant: string, result: SampleResult, n: number): void {
  const key = `${route}\u0001${variant}\u0001${result}`;
  const entry = counts.get(key);
  if (entry) entry[3] += n;
  else counts.set(key, [route, variant, result, n]);
  timer ??= setTimeout(report, 200);
}

const writer = new InlineSampleWriter(config, secrets, count, logger);

port.on('message', (message: ToWorker) => {
  if (message.type === 'samples') {
    let sources: SampleSource[];
    try {
      sources = decodeSamples(message.bytes);
    } catch (err) {
      logger.error({ err: String(err), samples: message.count }, 'could not read a batch of samples; they are lost');
      processed += message.count;
      timer ??= setTimeout(report, 200);
      return;
    }
    for (const source of sources) {
      try {
        writer.offer(source);
      } catch (err) {
        logger.error({ err: String(err), request_id: source.requestId }, 'could not build a sample record');
        // Counted like any other lost sample, so bellwether_samples_total still adds up.
        count(source.route, source.variant, 'dropped', 1);
      }
      processed++;
    }
    timer ??= setTimeout(report, 200);
    return;
  }
  if (message.type === 'reconfigure') return writer.reconfigure(message.config, message.secrets);
  void writer.close(message.timeoutMs).finally(() => {
    if (timer) clearTimeout(timer);
    report();
    logger.flush();
    port.postMessage({ type: 'closed' } satisfies FromWorker);
  });
});
