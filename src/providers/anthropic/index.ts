// `type: anthropic`: the Messages API behind the OpenAI chat-completions interface. Requests, answers,
// stream events, usage and errors are translated by the typed modules next to this one; this file is
// only the HTTP exchange (one undici Pool per provider).
import { Pool } from 'undici';
import type { ProviderConfig } from '../../config/types.js';
import { GatewayError } from '../../gateway/errors.js';
import type { Operation, PassthroughTarget, Provider, ProviderCall, ProviderResponse, StreamEvent } from '../types.js';
import { parseSse } from '../sse.js';
import { longestFirst, transportError, withoutSecrets } from '../upstream-errors.js';
import { toAnthropicRequest, DEFAULT_MAX_TOKENS } from './request.js';
import { toChatCompletion } from './response.js';
import { AnthropicStreamTranslator } from './stream.js';
import { anthropicError } from './errors.js';
import type { AnthropicResponse, AnthropicStreamEvent } from './wire.js';

type AnthropicConfig = Extract<ProviderConfig, { type: 'anthropic' }>;

export const DEFAULT_BASE_URL = 'https://api.anthropic.com';
export const DEFAULT_VERSION = '2023-06-01';

export class AnthropicProvider implements Provider {
  readonly type = 'anthropic' as const;
  readonly origin: string;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  /** Kept out of error messages and error events (withoutSecrets), longest first. */
  private readonly keys: string[];

  constructor(
    readonly name: string,
    private readonly config: AnthropicConfig,
    connectTimeoutMs = 10_000,
  ) {
    const url = new URL(config.baseUrl ?? DEFAULT_BASE_URL);
    this.origin = url.origin;
    // Accept both https://api.anthropic.com and https://api.anthropic.com/v1 as the base URL.
    this.keys = longestFirst([config.apiKey]);
    this.path = `${url.pathname.replace(/\/+$/, '').replace(/\/v1$/, '')}/v1/messages`;
    this.headers = { 'x-api-key': config.apiKey, 'anthropic-version': config.version ?? DEFAULT_VERSION, 'content-type': 'application/json' };
    this.pool = new Pool(url.origin, {
      connections: config.connections ?? 128,
      keepAliveTimeout: 30_000,
      connect: { timeout: connectTimeoutMs },
      // First-token / idle / total timeouts are the gateway's, per route (gateway/attempts.ts).
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  supports(operation: Operation): boolean {
    return operation === 'chat';
  }

  passthrough(): PassthroughTarget | undefined {
    return undefined;
  }

  secrets(): string[] {
    return this.keys;
  }

  async call(call: ProviderCall): Promise<ProviderResponse> {
    if (call.operation !== 'chat') {
      throw new GatewayError({ status: 400, errorClass: 'bad_request', message: `provider "${this.name}" (anthropic) does not support ${call.operation}`, code: 'unsupported_operation' });
    }
    const request = toAnthropicRequest(call.body, this.config.defaultMaxTokens ?? DEFAULT_MAX_TOKENS);
    const signal = call.cancel.signal;
    let res;
    try {
      res = await this.pool.request({
        method: 'POST',
        path: this.path,
        headers: { ...call.traceHeaders, ...this.headers, accept: call.stream ? 'text/event-stream' : 'application/json' },
        body: JSON.stringify(request),
        signal,
      });
    } catch (err) {
      throw transportError(err, signal, this.name, 'connect');
    }
    if (res.statusCode >= 400) {
      const text = await res.body.text().catch(() => '');
      throw anthropicError(res.statusCode, safeJson(withoutSecrets(text, this.keys)), res.headers, this.name);
    }
    if (call.stream) {
      const includeUsage = (call.body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
      return { kind: 'stream', status: 200, events: this.events(res.body, signal, includeUsage) };
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw transportError(err, signal, this.name, 'stream');
    }
    const msg = safeJson(text) as AnthropicResponse | undefined;
    if (!msg || msg.type !== 'message' || !Array.isArray(msg.content)) {
      throw new GatewayError({ status: 502, errorClass: 'upstream_5xx', message: `upstream provider "${this.name}" returned an unexpected body`, type: 'api_error', code: 'bad_upstream_response' });
    }
    const { json, usage } = toChatCompletion(msg);
    return { kind: 'json', status: 200, body: JSON.stringify(json), json: json as unknown as Record<string, unknown>, usage };
  }

  private async *events(body: AsyncIterable<Uint8Array>, signal: AbortSignal, includeUsage: boolean): AsyncGenerator<StreamEvent> {
    const translator = new AnthropicStreamTranslator(includeUsage);
    try {
      for await (const message of parseSse(body)) {
        const event = safeJson(message.data) as AnthropicStreamEvent | undefined;
        if (!event || typeof event.type !== 'string') continue;
        // The error's message goes to the client and the log: an echoed key must not (as for HTTP errors).
        if (event.type === 'error') throw anthropicError(undefined, safeJson(withoutSecrets(message.data, this.keys)), {}, this.name);
        for (const { chunk, usage } of translator.translate(event)) {
          const json = chunk as unknown as Record<string, unknown>;
          yield { data: JSON.stringify(chunk), json, ...(usage ? { usage } : {}) };
        }
        if (translator.done) {
          yield { data: '[DONE]' };
          return;
        }
      }
    } catch (err) {
      throw transportError(err, signal, this.name, 'stream');
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
