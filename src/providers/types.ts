// The one interface every upstream sits behind. A provider performs ONE attempt; retries, timeouts,
// fallback and accounting are composed around it by the gateway (gateway/attempts.ts).
import type { ModelConfig, ProviderConfig } from '../config/types.js';
import type { Usage } from '../accounting/usage.js';
import type { Cancellation } from './cancellation.js';

export type Operation = 'chat' | 'embeddings' | 'responses';

export interface ProviderCall {
  operation: Operation;
  model: ModelConfig;
  /** OpenAI-shaped request body; `model` is already the upstream model name. */
  body: Record<string, unknown>;
  stream: boolean;
  /** Aborted on client disconnect or a gateway timeout; providers must stop the upstream request. */
  cancel: Cancellation;
  connectTimeoutMs?: number;
  /** Trace-context headers (traceparent) to send upstream; empty when tracing is off. */
  traceHeaders?: Record<string, string>;
}

/** One SSE event to relay to the client: `data` is the payload, already in OpenAI's wire format. */
export interface StreamEvent {
  event?: string;
  data: string;
  /** Parsed `data`, when it is a JSON object. */
  json?: Record<string, unknown> | undefined;
  /**
   * Set on a chat chunk the provider has not parsed yet (`json` parses it when first read): one
   * that carries neither a usage report nor an error, so nothing has to be done about it before it
   * is relayed. A consumer that needs its content only later may read `json` later (relay.ts).
   */
  readonly deferred?: boolean;
  /**
   * Billed usage so far, normalised and CUMULATIVE: the latest report replaces earlier ones (OpenAI's
   * include_usage chunk; Anthropic's message_start, then message_delta). Early reports let a cancelled
   * stream still be priced.
   */
  usage?: Usage;
}

export type ProviderResponse =
  | {
      kind: 'json';
      status: number;
      /**
       * The serialised answer to send as-is: the upstream's own bytes where it answered in the client's
       * format (no decode, re-encode or re-stringify on the hot path), else the JSON text built here.
       */
      body: string | Buffer;
      json: Record<string, unknown>;
      usage: Usage | undefined;
    }
  | { kind: 'stream'; status: number; events: AsyncIterable<StreamEvent> };

export interface PassthroughTarget {
  /** Origin, e.g. https://api.openai.com */
  upstream: string;
  /** Path prefix on the upstream that `/v1` maps to, e.g. /v1 */
  prefix: string;
  headers: Record<string, string>;
}

export interface Provider {
  readonly name: string;
  readonly type: ProviderConfig['type'];
  /** Origin the provider calls (scheme://host:port), for server.address/port on trace spans; none in-process. */
  readonly origin: string | undefined;
  supports(operation: Operation): boolean;
  /** Throws GatewayError for upstream failures (status, class, OpenAI-shaped body). */
  call(call: ProviderCall): Promise<ProviderResponse>;
  /** Where other `/v1/*` paths are forwarded, if this provider speaks OpenAI's HTTP API. */
  passthrough(): PassthroughTarget | undefined;
  /** Secrets this provider holds, so sampling/logging can redact them. */
  secrets(): string[];
  close(): Promise<void>;
}
