// Start a real gateway on a free loopback port from a YAML string, as a user would configure it.
import pino from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { startGateway, type RunningGateway } from '../../src/server.js';
import type { GatewayOptions } from '../../src/server.js';

export interface TestGateway {
  url: string;
  gateway: RunningGateway;
  close(): Promise<void>;
}

export async function startTestGateway(yaml: string, env: NodeJS.ProcessEnv = {}, options: GatewayOptions = {}): Promise<TestGateway> {
  const config = parseConfig(yaml, 'test.yaml', env);
  const gateway = await startGateway({ config, port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }), ...options });
  return { url: gateway.url, gateway, close: () => gateway.close() };
}

/** Parse Prometheus text exposition into `name{labels} value` lookups. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const open = line.indexOf('{');
    const close = line.lastIndexOf('}');
    const labelText = open >= 0 ? line.slice(open + 1, close) : '';
    const found: Record<string, string> = {};
    for (const m of labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[m[1] as string] = m[2] as string;
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(line.slice(open >= 0 ? close + 1 : name.length).trim());
  }
  return undefined;
}

/** Sum of a metric over all series matching the given labels. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const found: Record<string, string> = {};
    for (const m of line.slice(name.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[m[1] as string] = m[2] as string;
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) sum += Number(line.slice(close + 1).trim());
  }
  return sum;
}

/**
 * Polls `fn` until `ok` holds (background writers, caches) or 30 s pass; returns the last value.
 * The deadline only matters when the test is failing: the sampling worker alone needs ~4 s to start
 * under tap (it loads TypeScript), and several times that on a loaded CI machine.
 */
export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}
