// One logger. Keys and tokens never reach a log line: request headers that carry them are redacted by
// path, and the pipeline logs its own wide line without headers at all.
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["api-key"]',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["api-key"]',
  'headers["x-api-key"]',
  '*.apiKey',
  '*.token',
  '*.key',
];

export function createLogger(level: string): Logger {
  return pino({
    level: process.env.LOG_LEVEL ?? level,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    base: { service: 'bellwether' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
