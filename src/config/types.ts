// The resolved Config: defaults applied, references turned into direct lookups. Built once at load.
import type {
  CircuitBreakerConfig,
  Pricing,
  ProviderConfig,
  RawConfig,
  RouteConfigRaw,
  SamplingConfig,
  Simulation,
} from './schema.js';
import { validateCheckSpec, type CheckSpec } from '../checks/index.js';

export type { ProviderConfig, Pricing, Simulation, SamplingConfig, CircuitBreakerConfig };

export interface ModelConfig {
  name: string;
  provider: string;
  upstreamModel: string;
  pricing: Pricing | undefined;
  simulation: Simulation | undefined;
}

export type AssignmentKey =
  | { kind: 'request' }
  | { kind: 'header'; name: string }
  | { kind: 'body-user' };

/** An online check and which responses it applies to (json: JSON was requested; tools: tools were offered). */
export interface RouteCheck {
  spec: CheckSpec;
  when: 'always' | 'json' | 'tools';
}

export interface RouteConfig {
  name: string;
  aliases: string[];
  champion: string;
  challenger: string | undefined;
  rollout: { percent: number; mode: 'split' | 'shadow' };
  assignment: AssignmentKey;
  retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number; maxRetryAfterMs: number };
  timeouts: { connectMs: number; firstTokenMs: number; idleMs: number; totalMs: number };
  fallback: 'champion' | 'none';
  circuitBreaker: Required<CircuitBreakerConfig>;
  sampling: SamplingConfig | undefined;
  checks: RouteCheck[];
  checksSampleRate: number;
  shadow: { allowed: boolean; maxConcurrent: number; maxUsdPerHour: number };
}

export interface Config {
  file: string;
  server: { port: number; host: string; bodyLimitBytes: number; shutdownGraceMs: number };
  auth: {
    clientKeys: { name: string; key: string; canForceVariant: boolean }[];
    adminTokens: { name: string; token: string }[];
  };
  state: { redis: string | undefined; keyPrefix: string; staleAfterSeconds: number; resyncIntervalMs: number };
  datasets: {
    store: 'jsonl' | 'redis';
    dir: string;
    maxFileBytes: number;
    queueCapacity: number;
    maxLen: number;
    maxAgeSeconds: number;
  };
  feedback: { ttlSeconds: number; maxEntries: number };
  logging: { level: string };
  providers: Record<string, ProviderConfig>;
  models: Record<string, ModelConfig>;
  routes: Record<string, RouteConfig>;
}

function resolveAssignment(key: string | undefined): AssignmentKey {
  if (key === undefined || key === 'request') return { kind: 'request' };
  if (key === 'body:user') return { kind: 'body-user' };
  return { kind: 'header', name: key.slice('header:'.length).toLowerCase() };
}

function resolveRoute(name: string, r: RouteConfigRaw): RouteConfig {
  return {
    name,
    aliases: r.aliases ?? [],
    champion: r.champion,
    challenger: r.challenger,
    rollout: { percent: r.rollout?.percent ?? 0, mode: r.rollout?.mode ?? 'split' },
    assignment: resolveAssignment(r.assignment?.key),
    retry: {
      maxAttempts: r.retry?.maxAttempts ?? 1,
      baseDelayMs: r.retry?.baseDelayMs ?? 200,
      maxDelayMs: r.retry?.maxDelayMs ?? 5000,
      maxRetryAfterMs: r.retry?.maxRetryAfterMs ?? 30000,
    },
    timeouts: {
      connectMs: r.timeouts?.connectMs ?? 5000,
      firstTokenMs: r.timeouts?.firstTokenMs ?? 60000,
      idleMs: r.timeouts?.idleMs ?? 30000,
      totalMs: r.timeouts?.totalMs ?? 300000,
    },
    fallback: r.fallback ?? 'none',
    circuitBreaker: {
      consecutiveFailures: r.circuitBreaker?.consecutiveFailures ?? 5,
      failureRatio: r.circuitBreaker?.failureRatio ?? 0.5,
      windowSeconds: r.circuitBreaker?.windowSeconds ?? 30,
      minRequests: r.circuitBreaker?.minRequests ?? 20,
      openSeconds: r.circuitBreaker?.openSeconds ?? 30,
      halfOpenProbes: r.circuitBreaker?.halfOpenProbes ?? 3,
    },
    sampling: r.sampling,
    checks: (r.checks ?? []).map(({ when, ...spec }) => ({ spec: validateCheckSpec(spec), when: when ?? 'always' })),
    checksSampleRate: r.checksSampleRate ?? 1,
    shadow: {
      allowed: r.shadow?.allowed ?? true,
      maxConcurrent: r.shadow?.maxConcurrent ?? 16,
      maxUsdPerHour: r.shadow?.maxUsdPerHour ?? 1,
    },
  };
}

export function resolveConfig(raw: RawConfig, file: string, env: NodeJS.ProcessEnv): Config {
  const redis = raw.state?.redis ?? (env.REDIS_URL || undefined);
  const models: Record<string, ModelConfig> = {};
  for (const [name, m] of Object.entries(raw.models)) {
    models[name] = {
      name,
      provider: m.provider,
      upstreamModel: m.upstreamModel ?? name,
      pricing: m.pricing,
      simulation: m.simulation,
    };
  }
  const routes: Record<string, RouteConfig> = {};
  for (const [name, r] of Object.entries(raw.routes)) routes[name] = resolveRoute(name, r);
  return {
    file,
    server: {
      port: raw.server?.port ?? 8080,
      host: raw.server?.host ?? '0.0.0.0',
      bodyLimitBytes: raw.server?.bodyLimitBytes ?? 10 * 1024 * 1024,
      shutdownGraceMs: raw.server?.shutdownGraceMs ?? 25000,
    },
    auth: {
      clientKeys: (raw.auth?.clientKeys ?? []).map((k) => ({ ...k, canForceVariant: k.canForceVariant ?? false })),
      adminTokens: raw.auth?.adminTokens ?? [],
    },
    state: {
      redis,
      keyPrefix: raw.state?.keyPrefix ?? 'bellwether:',
      staleAfterSeconds: raw.state?.staleAfterSeconds ?? 30,
      // A lost pub/sub message still reaches every replica within PRODUCT.md's 1 s (one MGET each tick).
      resyncIntervalMs: raw.state?.resyncIntervalMs ?? 500,
    },
    datasets: {
      // Several replicas can't share JSONL files: with Redis configured, datasets live there too.
      store: raw.datasets?.store ?? (redis ? 'redis' : 'jsonl'),
      dir: raw.datasets?.dir ?? 'data/datasets',
      maxFileBytes: raw.datasets?.maxFileBytes ?? 64 * 1024 * 1024,
      queueCapacity: raw.datasets?.queueCapacity ?? 10000,
      maxLen: raw.datasets?.maxLen ?? 100000,
      maxAgeSeconds: raw.datasets?.maxAgeSeconds ?? 30 * 24 * 3600,
    },
    feedback: { ttlSeconds: raw.feedback?.ttlSeconds ?? 24 * 3600, maxEntries: raw.feedback?.maxEntries ?? 100000 },
    logging: { level: raw.logging?.level ?? 'info' },
    providers: raw.providers,
    models,
    routes,
  };
}
