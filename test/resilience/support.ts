// Shared pieces for the resilience and provider suites: a gateway whose wide log lines can be read
// back, a metrics scrape, and raw SSE reading for asserting exact wire output.
import { Writable } from 'node:stream';
import pino from 'pino';
import { request } from 'undici';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

export interface LogLine {
  msg: string;
  request_id?: string;
  error_class?: string;
  error_cause?: string;
  status?: number;
  fallback?: string;
  cost_usd?: number | null;
  cost_provenance?: string;
  tokens?: { input: number; cachedInput: number; cacheWrite: number; output: number; reasoning: number } | null;
  attempts?: { model: string; kind: string; outcome: string; error_class: string; cause?: string; cost_usd?: number; usage_estimated?: boolean }[];
  [key: string]: unknown;
}

export interface LoggedGateway extends TestGateway {
  logs: LogLine[];
  /** Resolves with the wide line of the next (or an already written) completed request. */
  requestLine(predicate?: (line: LogLine) => boolean): Promise<LogLine>;
  metrics(): Promise<string>;
}

export async function startLoggedGateway(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<LoggedGateway> {
  const logs: LogLine[] = [];
  const waiters: (() => void)[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) logs.push(JSON.parse(line) as LogLine);
      }
      for (const w of waiters.splice(0)) w();
      done();
    },
  });
  const gw = await startTestGateway(yaml, env, { logger: pino({ level: 'info' }, sink) });
  const isRequestLine = (l: LogLine) => typeof l.msg === 'string' && l.msg.startsWith('request completed');
  return {
    ...gw,
    logs,
    async requestLine(predicate = () => true) {
      for (;;) {
        const found = logs.find((l) => isRequestLine(l) && predicate(l));
        if (found) return found;
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
    async metrics() {
      const res = await request(`${gw.url}/metrics`);
      return res.body.text();
    },
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export async function postJson(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  const res = await request(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** `data:` payloads of an SSE body, JSON-parsed where possible. */
export function sseData(text: string): unknown[] {
  return text
    .split('\n\n')
    .map((block) => block.split('\n').find((l) => l.startsWith('data: '))?.slice(6))
    .filter((d): d is string => d !== undefined)
    .map((d) => {
      try {
        return JSON.parse(d) as unknown;
      } catch {
        return d;
      }
    });
}
