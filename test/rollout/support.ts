// Shared by the rollout, admin and CLI tests: a two-model config, admin calls, polling.
import { request } from 'undici';

export const ADMIN_TOKEN = 'alice-admin-token-0001';
export const OTHER_TOKEN = 'bob-admin-token-000002';

export interface ConfigOptions {
  percent?: number;
  mode?: 'split' | 'shadow';
  redis?: string;
  keyPrefix?: string;
  staleAfterSeconds?: number;
  resyncIntervalMs?: number;
  challenger?: string;
  shadow?: string;
  extraRoutes?: string;
}

/** Two simulated models on route `demo`, admin tokens for alice and bob. */
export function config(o: ConfigOptions = {}): string {
  const state = o.redis
    ? `state: { redis: "${o.redis}", keyPrefix: "${o.keyPrefix ?? 'test:'}", staleAfterSeconds: ${o.staleAfterSeconds ?? 30}, resyncIntervalMs: ${o.resyncIntervalMs ?? 100} }`
    : '';
  return `
auth:
  adminTokens:
    - { name: alice, token: ${ADMIN_TOKEN} }
    - { name: bob, token: ${OTHER_TOKEN} }
${state}
providers:
  sim: { type: simulator }
models:
  a: { provider: sim, pricing: { inputPerMTok: 1, outputPerMTok: 2 } }
  b: { provider: sim, pricing: { inputPerMTok: 0.1, outputPerMTok: 0.2 } }
  c: { provider: sim, pricing: { inputPerMTok: 0.1, outputPerMTok: 0.2 } }
routes:
  demo:
    champion: a
    challenger: ${o.challenger ?? 'b'}
    rollout: { percent: ${o.percent ?? 10}, mode: ${o.mode ?? 'split'} }
    assignment: { key: "header:x-user-id" }
    ${o.shadow ? `shadow: ${o.shadow}` : ''}
${o.extraRoutes ?? ''}
`;
}

export interface Reply<T = Record<string, unknown>> {
  status: number;
  json: T;
  headers: Record<string, string | string[] | undefined>;
}

export async function admin<T = Record<string, unknown>>(
  url: string,
  method: 'GET' | 'PUT' | 'POST',
  path: string,
  body?: unknown,
  /** null sends no Authorization header. */
  token: string | null = ADMIN_TOKEN,
  headers: Record<string, string> = {},
): Promise<Reply<T>> {
  const res = await request(`${url}/admin/v1${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: (text ? JSON.parse(text) : {}) as T, headers: res.headers };
}

/** Which arm served a request for this user (x-bellwether-variant), and the model that answered. */
export async function chat(url: string, user: string, extra: Record<string, unknown> = {}): Promise<{ status: number; variant: string; model: string }> {
  const res = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': user },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, ...extra }),
  });
  await res.body.text();
  return { status: res.statusCode, variant: String(res.headers['x-bellwether-variant']), model: String(res.headers['x-bellwether-model']) };
}

export { waitFor } from '../helpers/wait.js';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
