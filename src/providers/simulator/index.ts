// `type: simulator`: a model played in-process from its `simulation` settings (simulator/engine.ts).
// It behaves like an OpenAI upstream — same bodies, chunks, usage, errors and timing — without a socket.
import { setTimeout as sleep } from 'node:timers/promises';
import { embeddingsBody, planChat, type ChatRequestLike } from '../../simulator/engine.js';
import { chunkSequence, completionBody, errorBody } from '../../simulator/wire.js';
import { fromOpenAIUsage } from '../../accounting/usage.js';
import { GatewayError, classifyStatus } from '../../gateway/errors.js';
import type { Operation, Provider, ProviderCall, ProviderResponse, StreamEvent } from '../types.js';
import type { OpenAIErrorBody } from '../../gateway/errors.js';

export class SimulatorProvider implements Provider {
  readonly type = 'simulator' as const;
  /** In-process: no server to name on trace spans. */
  readonly origin = undefined;

  constructor(readonly name: string) {}

  supports(operation: Operation): boolean {
    return operation === 'chat' || operation === 'embeddings';
  }

  passthrough(): undefined {
    return undefined;
  }

  secrets(): string[] {
    return [];
  }

  async call(call: ProviderCall): Promise<ProviderResponse> {
    if (call.operation === 'embeddings') return this.embeddings(call);
    const plan = planChat(call.body as ChatRequestLike, call.model.simulation);
    await wait(plan.headerDelayMs, call.cancel.signal);
    if (plan.error) {
      const body = errorBody(plan) as unknown as OpenAIErrorBody;
      throw new GatewayError({
        status: plan.error.status,
        errorClass: classifyStatus(plan.error.status),
        message: plan.error.message,
        body,
        cause: `simulated HTTP ${plan.error.status}`,
        ...(plan.error.retryAfterSeconds !== undefined ? { retryAfterMs: plan.error.retryAfterSeconds * 1000 } : {}),
      });
    }
    const model = call.model.upstreamModel;
    if (!call.stream) {
      // A non-streaming answer arrives when the last token would have.
      await wait(plan.firstTokenMs + plan.interTokenMs * plan.pieces.length, call.cancel.signal);
      const json = completionBody(plan, model);
      return { kind: 'json', status: 200, body: JSON.stringify(json), json, usage: fromOpenAIUsage(plan.usage) };
    }
    const includeUsage = (call.body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const signal = call.cancel.signal;
    async function* events(): AsyncGenerator<StreamEvent> {
      for (const { delayMs, chunk } of chunkSequence(plan, model, includeUsage)) {
        await wait(delayMs, signal);
        const usage = chunk.usage ? fromOpenAIUsage(plan.usage) : undefined;
        yield { data: JSON.stringify(chunk), json: chunk, ...(usage ? { usage } : {}) };
      }
      yield { data: '[DONE]' };
    }
    return { kind: 'stream', status: 200, events: events() };
  }

  private embeddings(call: ProviderCall): ProviderResponse {
    const json = embeddingsBody(call.body, call.model.upstreamModel);
    return { kind: 'json', status: 200, body: JSON.stringify(json), json, usage: fromOpenAIUsage(json.usage) };
  }

  async close(): Promise<void> {}
}

async function wait(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) {
    if (signal.aborted) throw abortReason(signal);
    return;
  }
  try {
    await sleep(ms, undefined, { signal });
  } catch {
    throw abortReason(signal);
  }
}

function abortReason(signal: AbortSignal): GatewayError {
  return signal.reason instanceof GatewayError
    ? signal.reason
    : new GatewayError({ status: 499, errorClass: 'client_cancelled', message: 'request cancelled', cause: 'aborted' });
}
