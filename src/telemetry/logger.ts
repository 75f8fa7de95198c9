// One logger. Keys and tokens never reach a log line: request headers that carry them are redacted by
// path, and the pipeline logs its own wide line, which never contains headers or keys at all.
// Writes are buffered and asynchronous (pino's sonic-boom): one write(2) per ~4 KB instead of one per
// line, which is most of the logging cost on the hot path. serve.ts flushes on shutdown.
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["api-key"]',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["api-key"]',
  'headers["x-api-key"]',
];

export function createLogger(level: string, destination: number | string = 1): Logger {
  return pino(
    {
      level: process.env.LOG_LEVEL ?? level,
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      base: { service: 'bellwether' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: destination, sync: false, minLength: 4096 }),
  );
}
