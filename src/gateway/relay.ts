// Writing the upstream's answer to the client: JSON as-is, SSE event by event as it arrives (no
// buffering), stripping the usage chunk the gateway asked for when the client didn't, measuring time to
// first token and assembling the final text for checks and samples.
import type { ServerResponse } from 'node:http';
import { once } from 'node:events';
import { costUsd } from '../accounting/cost.js';
import { addUsage, type Usage } from '../accounting/usage.js';
import { GatewayError, asGatewayError } from './errors.js';
import { guard, type UpstreamAnswer } from './attempts.js';
import type { RequestLedger, ResponseSummary } from './ledger.js';
import type { CircuitBreakers } from './circuit-breaker.js';
import type { StreamEvent } from '../providers/types.js';

export function summariseCompletion(json: Record<string, unknown>): ResponseSummary {
  const choice = (json.choices as { message?: { content?: unknown; tool_calls?: unknown }; finish_reason?: string | null }[] | undefined)?.[0];
  const calls = (choice?.message?.tool_calls as { id?: string; function?: { name?: string; arguments?: string } }[] | undefined) ?? [];
  return {
    content: typeof choice?.message?.content === 'string' ? choice.message.content : '',
    toolCalls: calls.map((c) => ({ ...(c.id ? { id: c.id } : {}), name: c.function?.name ?? '', arguments: c.function?.arguments ?? '' })),
    finishReason: choice?.finish_reason ?? null,
  };
}

interface ChunkChoice {
  delta?: { content?: string | null; tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[]; refusal?: string | null };
  finish_reason?: string | null;
}

/**
 * Relays an SSE answer. Headers go out with the first event (so a failure before it could still be
 * retried upstream of here). Returns when the stream ended, failed or the client went away.
 */
export async function relayStream(
  answer: Extract<UpstreamAnswer, { kind: 'stream' }>,
  ledger: RequestLedger,
  res: ServerResponse,
  headers: Record<string, string>,
  breakers: CircuitBreakers,
): Promise<void> {
  const { attempt, controller } = answer;
  const idleMs = ledger.route.timeouts.idleMs;
  const summary: ResponseSummary = { content: '', toolCalls: [], finishReason: null };
  let usage: Usage | undefined;
  let sawDone = false;
  res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });

  const handle = async (event: StreamEvent): Promise<void> => {
    if (event.data === '[DONE]') {
      sawDone = true;
      await write(res, 'data: [DONE]\n\n');
      return;
    }
    if (event.usage) usage = usage ? addUsage(usage, event.usage) : event.usage;
    const json = event.json;
    const choices = json?.choices as ChunkChoice[] | undefined;
    // The trailing usage chunk (empty choices) exists only because we asked for it.
    if (!ledger.clientAskedUsage && json && Array.isArray(choices) && choices.length === 0 && json.usage) return;
    const choice = choices?.[0];
    if (choice) track(choice, summary, ledger);
    await write(res, event.event ? `event: ${event.event}\ndata: ${event.data}\n\n` : `data: ${event.data}\n\n`);
  };

  let idle: NodeJS.Timeout | undefined;
  try {
    if (answer.first) await handle(answer.first);
    for (;;) {
      idle = guard(controller, idleMs, 'idle');
      const waitStart = performance.now();
      let next: IteratorResult<StreamEvent>;
      try {
        next = await answer.rest.next();
      } finally {
        clearTimeout(idle);
        ledger.upstreamWaitMs += performance.now() - waitStart;
      }
      if (next.done) break;
      await handle(next.value);
    }
    if (!sawDone && summary.finishReason === null && ledger.operation === 'chat') {
      throw new GatewayError({ status: 502, errorClass: 'stream_interrupted', message: 'upstream stream ended before the answer was complete', type: 'api_error', code: 'stream_interrupted', cause: 'eof_without_finish' });
    }
    attempt.outcome = 'success';
    breakers.record(attempt.model.name, true);
  } catch (err) {
    const error = controller.signal.aborted && controller.signal.reason instanceof GatewayError ? controller.signal.reason : asGatewayError(err);
    attempt.outcome = 'error';
    attempt.errorClass = error.errorClass;
    if (error.cause_) attempt.cause = error.cause_;
    if (error.errorClass !== 'client_cancelled') breakers.record(attempt.model.name, false);
    ledger.fail(error.errorClass, error.status, error.message, error.cause_);
    controller.abort(error);
    if (!res.destroyed && !res.writableEnded) {
      // Mid-stream failures are reported in-band, as OpenAI does, then the stream is closed.
      res.write(`data: ${JSON.stringify(error.toBody())}\n\n`);
    }
  } finally {
    attempt.durationMs = performance.now() - attempt.startedAt;
    attempt.usage = usage;
    attempt.costUsd = costUsd(usage, attempt.model.pricing);
    ledger.usage = usage;
    ledger.response = summary;
    if (!res.destroyed && !res.writableEnded) res.end();
  }
}

function track(choice: ChunkChoice, summary: ResponseSummary, ledger: RequestLedger): void {
  const delta = choice.delta;
  if (delta) {
    if (typeof delta.content === 'string' && delta.content.length > 0) {
      summary.content += delta.content;
      ledger.ttftMs ??= ledger.elapsedMs();
    }
    if (delta.tool_calls) {
      ledger.ttftMs ??= ledger.elapsedMs();
      for (const call of delta.tool_calls) {
        const i = call.index ?? 0;
        const slot = (summary.toolCalls[i] ??= { name: '', arguments: '' });
        if (call.id) slot.id = call.id;
        if (call.function?.name) slot.name += call.function.name;
        if (call.function?.arguments) slot.arguments += call.function.arguments;
      }
    }
  }
  if (choice.finish_reason) summary.finishReason = choice.finish_reason;
}

/** Respects backpressure: a slow client slows the relay instead of growing the heap. */
async function write(res: ServerResponse, text: string): Promise<void> {
  if (res.destroyed) throw new GatewayError({ status: 499, errorClass: 'client_cancelled', message: 'client disconnected', cause: 'client_closed' });
  if (!res.write(text)) {
    const ac = new AbortController();
    await Promise.race([once(res, 'drain', { signal: ac.signal }), once(res, 'close', { signal: ac.signal })]).finally(() => ac.abort());
    if (res.destroyed) throw new GatewayError({ status: 499, errorClass: 'client_cancelled', message: 'client disconnected', cause: 'client_closed' });
  }
}
