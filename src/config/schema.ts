// The configuration schema (PRODUCT.md section 3). TypeBox gives us one definition that is both the
// JSON Schema Ajv validates against and the TypeScript type the rest of the code receives.
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const Strict = { additionalProperties: false } as const;
const Name = Type.String({ minLength: 1, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$' });
const Url = Type.String({ pattern: '^https?://' });
const Opt = <T extends TSchema>(schema: T) => Type.Optional(schema);

export const ServerSchema = Type.Object(
  {
    port: Opt(Type.Integer({ minimum: 0, maximum: 65535 })),
    host: Opt(Type.String({ minLength: 1 })),
    bodyLimitBytes: Opt(Type.Integer({ minimum: 1024 })),
    shutdownGraceMs: Opt(Type.Integer({ minimum: 0 })),
  },
  Strict,
);

export const AuthSchema = Type.Object(
  {
    clientKeys: Opt(
      Type.Array(
        Type.Object(
          { name: Name, key: Type.String({ minLength: 8 }), canForceVariant: Opt(Type.Boolean()) },
          Strict,
        ),
      ),
    ),
    adminTokens: Opt(
      Type.Array(Type.Object({ name: Name, token: Type.String({ minLength: 8 }) }, Strict)),
    ),
  },
  Strict,
);

export const StateSchema = Type.Object(
  {
    redis: Opt(Type.String({ pattern: '^rediss?://' })),
    keyPrefix: Opt(Type.String({ minLength: 1 })),
    staleAfterSeconds: Opt(Type.Number({ exclusiveMinimum: 0 })),
    resyncIntervalMs: Opt(Type.Integer({ minimum: 50 })),
  },
  Strict,
);

const ProviderTimeouts = Type.Object(
  { connectMs: Opt(Type.Integer({ minimum: 1 })) },
  Strict,
);

const OpenAIProviderSchema = Type.Object(
  {
    type: Type.Union([Type.Literal('openai'), Type.Literal('openai-compatible')]),
    baseUrl: Url,
    apiKey: Opt(Type.String()),
    headers: Opt(Type.Record(Type.String(), Type.String())),
    connections: Opt(Type.Integer({ minimum: 1 })),
    timeouts: Opt(ProviderTimeouts),
  },
  Strict,
);
const AzureProviderSchema = Type.Object(
  {
    type: Type.Literal('azure-openai'),
    baseUrl: Url,
    apiKey: Type.String({ minLength: 1 }),
    apiVersion: Type.String({ minLength: 1 }),
    connections: Opt(Type.Integer({ minimum: 1 })),
    timeouts: Opt(ProviderTimeouts),
  },
  Strict,
);
const AnthropicProviderSchema = Type.Object(
  {
    type: Type.Literal('anthropic'),
    baseUrl: Opt(Url),
    apiKey: Type.String({ minLength: 1 }),
    version: Opt(Type.String()),
    defaultMaxTokens: Opt(Type.Integer({ minimum: 1 })),
    connections: Opt(Type.Integer({ minimum: 1 })),
    timeouts: Opt(ProviderTimeouts),
  },
  Strict,
);
const SimulatorProviderSchema = Type.Object({ type: Type.Literal('simulator') }, Strict);

export const ProviderSchema = Type.Union([
  OpenAIProviderSchema,
  AzureProviderSchema,
  AnthropicProviderSchema,
  SimulatorProviderSchema,
]);

export const PricingSchema = Type.Object(
  {
    inputPerMTok: Type.Number({ minimum: 0 }),
    cachedInputPerMTok: Opt(Type.Number({ minimum: 0 })),
    cacheWritePerMTok: Opt(Type.Number({ minimum: 0 })),
    outputPerMTok: Type.Number({ minimum: 0 }),
  },
  Strict,
);

const Range = Type.Object(
  { mean: Type.Number({ minimum: 0 }), jitter: Opt(Type.Number({ minimum: 0 })) },
  Strict,
);

// How a `type: simulator` model behaves. Everything that makes the demo's two arms differ lives here.
export const SimulationSchema = Type.Object(
  {
    latencyMs: Opt(Range),
    firstTokenMs: Opt(Range),
    tokensPerSecond: Opt(Type.Number({ exclusiveMinimum: 0 })),
    errorRate: Opt(Type.Number({ minimum: 0, maximum: 1 })),
    rateLimitRate: Opt(Type.Number({ minimum: 0, maximum: 1 })),
    invalidJsonRate: Opt(Type.Number({ minimum: 0, maximum: 1 })),
    recall: Opt(Type.Number({ minimum: 0, maximum: 1 })),
    style: Opt(Type.Union([Type.Literal('verbose'), Type.Literal('concise')])),
    cachedInputRatio: Opt(Type.Number({ minimum: 0, maximum: 1 })),
    reasoningTokens: Opt(Type.Integer({ minimum: 0 })),
    seed: Opt(Type.Integer()),
  },
  Strict,
);

export const ModelSchema = Type.Object(
  {
    provider: Name,
    upstreamModel: Opt(Type.String({ minLength: 1 })),
    pricing: Opt(PricingSchema),
    simulation: Opt(SimulationSchema),
  },
  Strict,
);

export const RetrySchema = Type.Object(
  {
    maxAttempts: Opt(Type.Integer({ minimum: 1, maximum: 10 })),
    baseDelayMs: Opt(Type.Integer({ minimum: 0 })),
    maxDelayMs: Opt(Type.Integer({ minimum: 0 })),
    maxRetryAfterMs: Opt(Type.Integer({ minimum: 0 })),
  },
  Strict,
);

export const TimeoutsSchema = Type.Object(
  {
    connectMs: Opt(Type.Integer({ minimum: 1 })),
    firstTokenMs: Opt(Type.Integer({ minimum: 1 })),
    idleMs: Opt(Type.Integer({ minimum: 1 })),
    totalMs: Opt(Type.Integer({ minimum: 1 })),
  },
  Strict,
);

export const CircuitBreakerSchema = Type.Object(
  {
    consecutiveFailures: Opt(Type.Integer({ minimum: 1 })),
    failureRatio: Opt(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
    windowSeconds: Opt(Type.Number({ exclusiveMinimum: 0 })),
    minRequests: Opt(Type.Integer({ minimum: 1 })),
    openSeconds: Opt(Type.Number({ exclusiveMinimum: 0 })),
    halfOpenProbes: Opt(Type.Integer({ minimum: 1 })),
  },
  Strict,
);

export const SamplingSchema = Type.Object(
  {
    rate: Type.Number({ minimum: 0, maximum: 1 }),
    keepErrors: Opt(Type.Boolean()),
    keepFailedChecks: Opt(Type.Boolean()),
    keepNegativeFeedback: Opt(Type.Boolean()),
    redact: Opt(Type.Array(Type.Object({ name: Name, regex: Type.String({ minLength: 1 }) }, Strict))),
    tags: Opt(Type.Array(Type.String())),
  },
  Strict,
);

export const ShadowSchema = Type.Object(
  {
    allowed: Opt(Type.Boolean()),
    maxConcurrent: Opt(Type.Integer({ minimum: 0 })),
    maxUsdPerHour: Opt(Type.Number({ minimum: 0 })),
  },
  Strict,
);

export const RouteSchema = Type.Object(
  {
    aliases: Opt(Type.Array(Type.String({ minLength: 1 }))),
    champion: Name,
    challenger: Opt(Name),
    rollout: Opt(
      Type.Object(
        {
          percent: Type.Number({ minimum: 0, maximum: 100 }),
          mode: Opt(Type.Union([Type.Literal('split'), Type.Literal('shadow')])),
        },
        Strict,
      ),
    ),
    assignment: Opt(
      Type.Object(
        { key: Type.String({ pattern: '^(request|header:[A-Za-z0-9-]+|body:user)$' }) },
        Strict,
      ),
    ),
    retry: Opt(RetrySchema),
    timeouts: Opt(TimeoutsSchema),
    fallback: Opt(Type.Union([Type.Literal('champion'), Type.Literal('none')])),
    circuitBreaker: Opt(CircuitBreakerSchema),
    sampling: Opt(SamplingSchema),
    // Each entry is a check spec (src/checks) plus `when`; the spec itself is validated by the checks
    // library at load (crossCheck), which gives one precise message per bad check.
    checks: Opt(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ pattern: '^[a-z0-9_]+$' }),
            type: Type.String({ minLength: 1 }),
            when: Opt(Type.Union([Type.Literal('always'), Type.Literal('json'), Type.Literal('tools')])),
          },
          { additionalProperties: true },
        ),
      ),
    ),
    checksSampleRate: Opt(Type.Number({ minimum: 0, maximum: 1 })),
    shadow: Opt(ShadowSchema),
  },
  Strict,
);

export const DatasetsSchema = Type.Object(
  {
    dir: Opt(Type.String({ minLength: 1 })),
    maxFileBytes: Opt(Type.Integer({ minimum: 1024 })),
    store: Opt(Type.Union([Type.Literal('jsonl'), Type.Literal('redis')])),
    queueCapacity: Opt(Type.Integer({ minimum: 1 })),
    maxLen: Opt(Type.Integer({ minimum: 1 })),
    maxAgeSeconds: Opt(Type.Integer({ minimum: 1 })),
  },
  Strict,
);

export const FeedbackSchema = Type.Object(
  {
    ttlSeconds: Opt(Type.Integer({ minimum: 1 })),
    maxEntries: Opt(Type.Integer({ minimum: 1 })),
  },
  Strict,
);

export const ConfigSchema = Type.Object(
  {
    server: Opt(ServerSchema),
    auth: Opt(AuthSchema),
    state: Opt(StateSchema),
    datasets: Opt(DatasetsSchema),
    feedback: Opt(FeedbackSchema),
    logging: Opt(Type.Object({ level: Opt(Type.String()) }, Strict)),
    providers: Type.Record(Name, ProviderSchema, { minProperties: 1 }),
    models: Type.Record(Name, ModelSchema, { minProperties: 1 }),
    routes: Type.Record(Name, RouteSchema, { minProperties: 1 }),
  },
  Strict,
);

export type RawConfig = Static<typeof ConfigSchema>;
export type ProviderConfig = Static<typeof ProviderSchema>;
export type ModelConfigRaw = Static<typeof ModelSchema>;
export type RouteConfigRaw = Static<typeof RouteSchema>;
export type Pricing = Static<typeof PricingSchema>;
export type Simulation = Static<typeof SimulationSchema>;
export type RetryConfig = Static<typeof RetrySchema>;
export type TimeoutsConfig = Static<typeof TimeoutsSchema>;
export type CircuitBreakerConfig = Static<typeof CircuitBreakerSchema>;
export type SamplingConfig = Static<typeof SamplingSchema>;
export type ShadowConfig = Static<typeof ShadowSchema>;
