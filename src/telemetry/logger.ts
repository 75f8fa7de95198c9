// One logger. Keys and tokens never reach a log line: request headers that carry them are redacted by
// path, and the pipeline logs its own wide line, which never contains headers or keys at all.
// Writes are buffered and asynchronous (pino's sonic-boom): one write(2) per ~4 KB instead of one per
// line, which is most of the logging cost on the hot path. serve.ts flushes on shutdown.
import pino, { type DestinationStream, type Logger } from 'pino';
import { isoClock } from './iso-time.js';

/**
 * Headers that carry credentials (OpenAI, Azure and Anthropic key spellings, proxy credentials,
 * sessions): redacted from logs here, and never forwarded by the pass-through (gateway/passthrough.ts).
 */
export const CREDENTIAL_HEADERS: readonly string[] = ['authorization', 'proxy-authorization', 'api-key', 'x-api-key', 'cookie', 'set-cookie'];

export const REDACT_PATHS = ['req.headers', 'res.headers', 'headers'].flatMap((at) => CREDENTIAL_HEADERS.map((h) => `${at}["${h}"]`));

export function createLogger(level: string, destination: number | string = 1): Logger {
  drainBatchersOnExit();
  const sonic = pino.destination({ dest: destination, sync: false, minLength: 4096 });
  return pino(
    {
      level: process.env.LOG_LEVEL ?? level,
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      base: { service: 'bellwether' },
      timestamp: isoTimePerMillisecond(),
    },
    new TurnBatcher(sonic),
  );
}

/** pino's isoTime, from a clock that formats once per millisecond. */
function isoTimePerMillisecond(): () => string {
  const now = isoClock();
  return () => `,"time":"${now()}"`;
}

interface PinoInternals {
  [key: symbol]: unknown;
}

/**
 * Writes one line exactly as `logger[level](fields, msg)` would, from fields already serialised as
 * JSON members (`"key":value,…`, without braces): pino's per-key loop (an escape scan of every key
 * and string value) cost ~6 µs more per wide line than one JSON.stringify, and the wide line is now
 * written by hand (accounting/wide-line.ts). pino's own caches give the level prefix, time, bindings
 * and line end. Anything that would change what pino writes — hooks, a mixin, a log formatter, a
 * message prefix, a stream that wants metadata — takes pino's own path with the members parsed back.
 * The caller checks the level.
 */
export function writeMembers(logger: Logger, level: 'info' | 'warn', members: string, msg: string): void {
  const p = logger as unknown as PinoInternals;
  const s = pino.symbols;
  const stream = p[s.streamSym] as (DestinationStream & { [key: symbol]: unknown }) | undefined;
  const hooks = p[s.hooksSym] as { logMethod?: unknown; streamWrite?: unknown } | undefined;
  const formatters = p[s.formattersSym] as { log?: unknown } | undefined;
  const plain =
    stream !== undefined &&
    stream[s.needsMetadataGsym] !== true &&
    !hooks?.logMethod &&
    !hooks?.streamWrite &&
    !formatters?.log &&
    !p[s.mixinSym] &&
    !p[(s as unknown as { msgPrefixSym: symbol }).msgPrefixSym] &&
    p[s.messageKeySym] === 'msg';
  if (!plain) {
    logger[level](JSON.parse(`{${members}}`) as Record<string, unknown>, msg);
    return;
  }
  const prefix = (p[s.lsCacheSym] as Record<number, string>)[logger.levels.values[level] as number];
  const time = (p[s.timeSym] as () => string)();
  stream.write(`${prefix}${time}${p[s.chindingsSym] as string}${members === '' ? '' : `,${members}`},"msg":${JSON.stringify(msg)}${p[s.endSym] as string}`);
}

type Sonic = ReturnType<typeof pino.destination>;

const batchers = new Set<WeakRef<TurnBatcher>>();
let exitHooked = false;

/**
 * A process that exits without a flush (an uncaught error) must not lose its last turn's lines. This
 * runs before sonic-boom's own exit hook, which is registered later (inside pino.destination) and
 * writes out whatever sonic-boom holds.
 */
function drainBatchersOnExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', () => {
    for (const ref of batchers) ref.deref()?.drain();
  });
}

/**
 * Hands sonic-boom the lines of one event-loop turn as one string. sonic-boom measures the byte length
 * of its whole pending chunk on every write, which at gateway rates (one wide line per request, ~700
 * bytes, thousands per second) cost ~2 µs per line in a side-by-side measurement; per turn it is paid
 * once. Lines wait at most until the end of the turn; flush() and flushSync() push them first.
 */
class TurnBatcher implements DestinationStream {
  private lines: string[] = [];
  private scheduled = false;

  constructor(private readonly sonic: Sonic) {
    batchers.add(new WeakRef(this));
  }

  write(line: string): boolean {
    this.lines.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
    return true;
  }

  /** Hands pending lines to sonic-boom now (on exit, sonic-boom's own hook then writes them out). */
  readonly drain = (): void => {
    this.scheduled = false;
    if (this.lines.length === 0) return;
    // Written after end() (a late line during shutdown): nowhere to go, and throwing here would crash.
    if ((this.sonic as { destroyed?: boolean }).destroyed) {
      this.lines = [];
      return;
    }
    const chunk = this.lines.length === 1 ? (this.lines[0] as string) : this.lines.join('');
    this.lines = [];
    this.sonic.write(chunk);
  };

  /** pino's logger.flush(cb) lands here. */
  flush(cb?: (err?: Error | null) => void): void {
    this.drain();
    this.sonic.flush(cb);
  }

  flushSync(): void {
    this.drain();
    this.sonic.flushSync();
  }

  end(): void {
    this.drain();
    this.sonic.end();
  }
}
