// POST /v1/feedback: a user's rating, attributed through the request id to the route, variant and model
// that answered. A negative rating also samples that response (if it is still held) into the dataset.
import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from './context.js';
import type { SamplingPipeline } from '../sampling/pipeline.js';
import { GatewayError, refuseWhileDraining } from './errors.js';

interface FeedbackBody {
  request_id: string;
  rating: 'positive' | 'negative';
  score?: number;
  comment?: string;
}

const feedbackSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['request_id', 'rating'],
    properties: {
      request_id: { type: 'string', minLength: 1, maxLength: 128 },
      rating: { type: 'string', enum: ['positive', 'negative'] },
      score: { type: 'number', minimum: 0, maximum: 1 },
      comment: { type: 'string', maxLength: 4000 },
    },
  },
} as const;

export async function feedbackApi(app: FastifyInstance, ctx: GatewayContext, sampling: SamplingPipeline): Promise<void> {
  app.post<{ Body: FeedbackBody }>('/v1/feedback', { schema: feedbackSchema, attachValidation: true }, async (req, reply) => {
    refuseWhileDraining(ctx, reply);
    const client = ctx.clients.authenticate(req.headers.authorization);
    if (req.validationError) {
      throw new GatewayError({ status: 400, errorClass: 'bad_request', message: `Invalid feedback: ${req.validationError.message}`, type: 'invalid_request_error', code: 'invalid_feedback' });
    }
    const { request_id: id, rating, score, comment } = req.body;
    const entry = await sampling.recent.lookup(id);
    if (!entry) {
      throw new GatewayError({ status: 404, errorClass: 'bad_request', message: `No recent request with id ${id.slice(0, 128)} (unknown or expired).`, type: 'invalid_request_error', code: 'request_not_found' });
    }
    ctx.metrics.feedback.inc({ route: entry.route, variant: entry.variant, rating });
    // Whether the response is in the sample at all: one sampled when it was served says so too.
    let sampled = entry.sampled === true;
    if (rating === 'negative' && entry.ledger && !entry.sampled) {
      sampled = sampling.sampler.offer(entry.ledger, ['negative_feedback']);
      entry.sampled = sampled;
    }
    ctx.logger.info({ request_id: id, route: entry.route, variant: entry.variant, model: entry.model, rating, score, client: client.name, has_comment: comment !== undefined, sampled }, 'feedback');
    return reply.code(200).send({ ok: true, request_id: id, route: entry.route, variant: entry.variant, model: entry.model, sampled });
  });
}
