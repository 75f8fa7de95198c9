// JSON schemas of the admin API: they validate every request body, path and query before a handler
// runs (so a bad request can't change state or reach the audit log), and make responses fast to
// serialise. Validated by a strict Ajv (no type coercion: "25" is not a percent).
const reason = { type: 'string', minLength: 1, maxLength: 1000, pattern: '\\S', description: 'why; recorded in the audit log' } as const;
const expectedVersion = { type: 'integer', minimum: 1, description: 'compare-and-set: fail with 409 unless this is the current version' } as const;
const routeName = { type: 'string', minLength: 1, maxLength: 200 } as const;

export const routeParams = {
  type: 'object',
  properties: { route: routeName },
  required: ['route'],
  additionalProperties: false,
} as const;

export const setRolloutBody = {
  type: 'object',
  properties: {
    percent: { type: 'number', minimum: 0, maximum: 100 },
    mode: { type: 'string', enum: ['split', 'shadow'] },
    reason,
    expectedVersion,
  },
  required: ['percent', 'reason'],
  additionalProperties: false,
} as const;

export const actionBody = {
  type: 'object',
  properties: { reason, expectedVersion },
  required: ['reason'],
  additionalProperties: false,
} as const;

export const reloadBody = {
  type: 'object',
  properties: { reason },
  additionalProperties: false,
} as const;

export const historyQuery = {
  type: 'object',
  properties: { limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' } },
  additionalProperties: false,
} as const;

export const ifMatchHeaders = {
  type: 'object',
  properties: { 'if-match': { type: 'string', pattern: '^(W/)?"?[1-9][0-9]*"?$' } },
} as const;

const nullableString = { type: ['string', 'null'] } as const;

export const routeView = {
  type: 'object',
  properties: {
    route: { type: 'string' },
    aliases: { type: 'array', items: { type: 'string' } },
    champion: { type: 'string' },
    challenger: nullableString,
    percent: { type: 'number' },
    effectivePercent: { type: 'number' },
    mode: { type: 'string' },
    state: { type: 'string' },
    version: { type: 'integer' },
    updatedAt: { type: 'string' },
    updatedBy: { type: 'string' },
    shadowAllowed: { type: 'boolean' },
  },
  required: ['route', 'aliases', 'champion', 'challenger', 'percent', 'effectivePercent', 'mode', 'state', 'version', 'updatedAt', 'updatedBy', 'shadowAllowed'],
} as const;

const stateSide = {
  type: 'object',
  properties: {
    champion: { type: 'string' },
    challenger: nullableString,
    percent: { type: 'number' },
    mode: { type: 'string' },
    state: { type: 'string' },
    version: { type: 'integer' },
  },
} as const;

export const routesResponse = {
  type: 'object',
  properties: {
    routes: { type: 'array', items: routeView },
    store: {
      type: 'object',
      properties: { backend: { type: 'string' }, reachable: { type: 'boolean' }, stale: { type: 'boolean' }, lastSyncAt: nullableString },
    },
  },
} as const;

export const historyResponse = {
  type: 'object',
  properties: {
    route: { type: 'string' },
    dropped: { type: 'integer' },
    entries: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          at: { type: 'string' },
          actor: { type: 'string' },
          action: { type: 'string' },
          from: stateSide,
          to: stateSide,
          reason: { type: 'string' },
        },
      },
    },
  },
} as const;
