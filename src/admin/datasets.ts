// GET /admin/v1/datasets and /admin/v1/datasets/{name}/export: sampled traffic as streaming JSONL.
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { GatewayError, badRequest } from '../gateway/errors.js';
import { isValidDatasetName, type DatasetFilter, type DatasetStore } from '../sampling/dataset-store.js';
import { ISO_DATE, ISO_FRACTION, ISO_OFFSET } from '../sampling/dataset-record.js';

interface ExportQuery {
  route?: string;
  variant?: 'champion' | 'challenger' | 'shadow';
  outcome?: 'success' | 'error';
  tags?: string;
  since?: string;
  until?: string;
  limit?: string;
}

// Looser than a stored timestamp: a bare date, minutes without seconds and no offset are fine here.
const ISO_DATE_OR_TIME = new RegExp(String.raw`^${ISO_DATE}(?:T\d{2}:\d{2}(?::\d{2}${ISO_FRACTION})?${ISO_OFFSET}?)?$`);

const MAX_LIMIT = 1_000_000;

const exportSchema = {
  params: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 128 } } },
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      route: { type: 'string', minLength: 1 },
      variant: { type: 'string', enum: ['champion', 'challenger', 'shadow'] },
      outcome: { type: 'string', enum: ['success', 'error'] },
      tags: { type: 'string', minLength: 1, description: 'comma-separated; every tag must be present' },
      // ISO 8601 dates or date-times; checked in the handler, which can say what is wrong in words.
      since: { type: 'string', minLength: 1 },
      until: { type: 'string', minLength: 1 },
      // Query values are text and the admin validator does not coerce; checked in the handler.
      limit: { type: 'string', minLength: 1, description: 'at most n records (oldest first), 1 to 1000000' },
    },
  },
} as const;

/** `routes` names the configured routes: their datasets exist (possibly empty) before anything is sampled. */
export function datasetAdminRoutes(store: () => DatasetStore, routes: () => string[]) {
  return async function datasets(app: FastifyInstance): Promise<void> {
    app.get('/datasets', async () => ({ datasets: await store().list() }));

    app.get<{ Params: { name: string }; Querystring: ExportQuery }>('/datasets/:name/export', { schema: exportSchema }, async (req, reply) => {
      const { name } = req.params;
      if (!isValidDatasetName(name)) {
        throw badRequest(`Invalid dataset name "${name.slice(0, 64)}".`, 'invalid_dataset_name');
      }
      const q = req.query;
      const since = q.since === undefined ? undefined : instant('since', q.since);
      const until = q.until === undefined ? undefined : instant('until', q.until);
      if (since && until && since > until) {
        throw badRequest(`Invalid request: since (${q.since}) is after until (${q.until}); nothing could match.`, 'invalid_request');
      }
      const limit = q.limit === undefined ? undefined : Number(q.limit);
      if (limit !== undefined && !(/^\d+$/.test(q.limit ?? '') && limit >= 1 && limit <= MAX_LIMIT)) {
        throw badRequest(`Invalid request: limit "${q.limit}" must be a whole number from 1 to ${MAX_LIMIT}.`, 'invalid_request');
      }
      const filter: DatasetFilter = {
        ...(q.route ? { route: q.route } : {}),
        ...(q.variant ? { variant: q.variant } : {}),
        ...(q.outcome ? { outcome: q.outcome } : {}),
        ...(q.tags ? { tags: q.tags.split(',').map((t) => t.trim()).filter(Boolean) } : {}),
        ...(since ? { since } : {}),
        ...(until ? { until } : {}),
        ...(limit !== undefined ? { limit } : {}),
      };
      // A typo must not look like an empty dataset: unknown names are 404, configured routes are not.
      if (!routes().includes(name)) {
        const known = (await store().list()).map((d) => d.name);
        if (!known.includes(name)) {
          const have = [...new Set([...routes(), ...known])].sort().join(', ');
          throw new GatewayError({ status: 404, errorClass: 'bad_request', message: `Unknown dataset "${name}" (have: ${have}).`, type: 'invalid_request_error', code: 'unknown_dataset' });
        }
      }
      const records = store().export(name, filter);
      async function* lines() {
        for await (const record of records) yield `${JSON.stringify(record)}\n`;
      }
      return reply.type('application/x-ndjson; charset=utf-8').send(Readable.from(lines()));
    });
  };
}

/**
 * An ISO 8601 date or date-time that exists: `new Date` alone accepts month 13 as Invalid Date but
 * rolls 2026-02-31 over to 3 March, which would silently filter on the wrong day.
 */
function instant(key: string, value: string): Date {
  const m = ISO_DATE_OR_TIME.exec(value);
  const at = new Date(value);
  const [, y, mo, d] = m ?? [];
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (!m || Number.isNaN(at.getTime()) || day.getUTCFullYear() !== Number(y) || day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d)) {
    throw badRequest(`Invalid request: ${key} "${value.slice(0, 64)}" is not a date; use ISO 8601, e.g. 2026-03-01 or 2026-03-01T12:00:00Z.`, 'invalid_request');
  }
  return at;
}
