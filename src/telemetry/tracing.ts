// OpenTelemetry tracing: one SERVER span per client request carrying the routing decision (in the
// client's trace when it sends a W3C traceparent), and one CLIENT span per upstream attempt named
// `{operation} {model}` with GenAI semantic-convention attributes. Off (a no-op costing nothing)
// unless OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; exports OTLP/HTTP
// (JSON encoding).
//
// Prompt and completion content is never recorded: nothing in this API accepts it.
import type { IncomingHttpHeaders } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, defaultTextMapGetter, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
} from '@opentelemetry/semantic-conventions';

// GenAI attributes are still "development" in semconv, so they live in its unstable entry point;
// the semconv project asks users to copy them rather than import them.
const GEN_AI = {
  operation: 'gen_ai.operation.name',
  provider: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  finishReasons: 'gen_ai.response.finish_reasons',
} as const;

/** Which client API the request came in on. The Responses API is a chat operation in GenAI semconv. */
export type GenAiApi = 'chat' | 'embeddings' | 'responses';

export interface RequestSpanAttributes {
  method: string;
  /** the route template, e.g. /v1/chat/completions (never the raw URL: no query strings) */
  path: string;
  requestId: string;
  /** The client's request headers: a W3C traceparent there makes the request span part of its trace. */
  headers?: IncomingHttpHeaders;
  /** When the request arrived (ms since the epoch), for a span started after the fact; default now. */
  startTime?: number;
}

export interface RoutingDecision {
  route: string;
  /** assigned arm: champion | challenger (| shadow for mirrored calls) */
  variant: string;
  /** configured model of the assigned arm */
  model: string;
  /** x-bellwether-variant forced the arm (excluded from rollout analysis) */
  forced: boolean;
  rolloutPercent?: number;
  rolloutMode?: string;
}

export interface RequestResult {
  statusCode: number;
  outcome: 'success' | 'error';
  /** PRODUCT.md error_class; omit (or 'none') on success */
  errorClass?: string;
  attempts?: number;
  /** configured model that produced the answer (differs from the assigned one after a fallback) */
  answeredBy?: string;
}

export interface UpstreamSpanAttributes {
  operation: GenAiApi;
  /** the provider's `type` from config: openai | openai-compatible | anthropic | azure-openai | simulator */
  provider: string;
  /** model name sent upstream (upstreamModel) */
  requestModel: string;
  route: string;
  variant: string;
  /** 1 for the first attempt, counting retries and fallbacks */
  attempt: number;
  /** upstream base URL, for server.address / server.port */
  url?: string;
}

export interface UpstreamResult {
  responseModel?: string;
  inputTokens?: number;
  outputTokens?: number;
  finishReasons?: string[];
  /** The token counts are the gateway's estimate (the stream ended before the provider reported usage). */
  usageEstimated?: boolean;
  /** PRODUCT.md error_class of a failed attempt; sets the span status to ERROR */
  errorType?: string;
}

export interface UpstreamSpan {
  /** W3C trace-context headers to add to the upstream request (empty when tracing is off). */
  headers(): Record<string, string>;
  end(result: UpstreamResult): void;
}

export interface RequestSpan {
  /** trace id for log lines (`trace_id`); undefined when tracing is off */
  readonly traceId: string | undefined;
  setRouting(decision: RoutingDecision): void;
  end(result: RequestResult): void;
}

export interface Tracing {
  readonly enabled: boolean;
  startRequestSpan(attrs: RequestSpanAttributes): RequestSpan;
  /** A CLIENT span for one upstream attempt; a child of `parent`, else of the active span. */
  startUpstreamSpan(attrs: UpstreamSpanAttributes, parent?: RequestSpan): UpstreamSpan;
  /** trace id of the active span, if any */
  currentTraceId(): string | undefined;
  /** flushes pending spans; call on SIGTERM after the server has drained */
  shutdown(): Promise<void>;
}

/** Tracing from the standard OTEL_* environment; a no-op when no OTLP endpoint is configured. */
export function createTracing(env: NodeJS.ProcessEnv = process.env): Tracing {
  const url = tracesUrl(env);
  if (url === undefined || env['OTEL_SDK_DISABLED'] === 'true') return noopTracing;
  return new OtelTracing(url, env['OTEL_SERVICE_NAME'] ?? 'bellwether');
}

/** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is; OTEL_EXPORTER_OTLP_ENDPOINT gets /v1/traces. */
function tracesUrl(env: NodeJS.ProcessEnv): string | undefined {
  const traces = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  if (traces) return traces;
  const base = env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined;
}

/** gen_ai.provider.name well-known values where one exists, else our provider type. */
function genAiProviderName(type: string): string {
  switch (type) {
    case 'openai':
      return 'openai';
    case 'azure-openai':
      return 'azure.ai.openai';
    case 'anthropic':
      return 'anthropic';
    default:
      return type;
  }
}

const propagator = new W3CTraceContextPropagator();

class OtelRequestSpan implements RequestSpan {
  constructor(readonly span: Span) {}

  get traceId(): string {
    return this.span.spanContext().traceId;
  }

  setRouting(d: RoutingDecision): void {
    const attrs: Attributes = {
      'bellwether.route': d.route,
      'bellwether.variant': d.variant,
      'bellwether.model': d.model,
      'bellwether.forced': d.forced,
    };
    if (d.rolloutPercent !== undefined) attrs['bellwether.rollout.percent'] = d.rolloutPercent;
    if (d.rolloutMode !== undefined) attrs['bellwether.rollout.mode'] = d.rolloutMode;
    this.span.setAttributes(attrs);
  }

  end(r: RequestResult): void {
    const attrs: Attributes = { [ATTR_HTTP_RESPONSE_STATUS_CODE]: r.statusCode, 'bellwether.outcome': r.outcome };
    if (r.attempts !== undefined) attrs['bellwether.attempts'] = r.attempts;
    if (r.answeredBy !== undefined) attrs['bellwether.answered_by'] = r.answeredBy;
    if (r.errorClass !== undefined && r.errorClass !== 'none') attrs[ATTR_ERROR_TYPE] = r.errorClass;
    this.span.setAttributes(attrs);
    // HTTP server convention: only 5xx marks the server span as failed; 4xx are the client's.
    if (r.statusCode >= 500) this.span.setStatus({ code: SpanStatusCode.ERROR });
    this.span.end();
  }
}

class OtelUpstreamSpan implements UpstreamSpan {
  constructor(private readonly span: Span) {}

  headers(): Record<string, string> {
    const carrier: Record<string, string> = {};
    propagator.inject(trace.setSpan(context.active(), this.span), carrier, {
      set: (c, key, value) => {
        c[key] = value;
      },
    });
    return carrier;
  }

  end(r: UpstreamResult): void {
    const attrs: Attributes = {};
    if (r.responseModel !== undefined) attrs[GEN_AI.responseModel] = r.responseModel;
    if (r.inputTokens !== undefined) attrs[GEN_AI.inputTokens] = r.inputTokens;
    if (r.outputTokens !== undefined) attrs[GEN_AI.outputTokens] = r.outputTokens;
    if (r.finishReasons !== undefined) attrs[GEN_AI.finishReasons] = r.finishReasons;
    if (r.usageEstimated === true) attrs['bellwether.usage.estimated'] = true;
    if (r.errorType !== undefined && r.errorType !== 'none') {
      attrs[ATTR_ERROR_TYPE] = r.errorType;
      this.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.span.setAttributes(attrs);
    this.span.end();
  }
}

class OtelTracing implements Tracing {
  readonly enabled = true;
  private readonly provider: NodeTracerProvider;
  private readonly tracer: Tracer;

  constructor(url: string, serviceName: string) {
    this.provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
    });
    // Installs the AsyncLocalStorage context manager and W3C propagator (first instance wins).
    this.provider.register();
    // Spans come from this provider, not the global one, so each instance exports where it was told.
    this.tracer = this.provider.getTracer('bellwether');
  }

  startRequestSpan(a: RequestSpanAttributes): RequestSpan {
    // A caller that traces its own work sends traceparent: the request span continues that trace
    // instead of starting an unconnected one (an invalid or absent header leaves a new root).
    const parent = a.headers ? propagator.extract(ROOT_CONTEXT, a.headers, defaultTextMapGetter) : context.active();
    const span = this.tracer.startSpan(
      `${a.method} ${a.path}`,
      {
        kind: SpanKind.SERVER,
        attributes: { [ATTR_HTTP_REQUEST_METHOD]: a.method, [ATTR_HTTP_ROUTE]: a.path, 'bellwether.request_id': a.requestId },
        ...(a.startTime !== undefined ? { startTime: a.startTime } : {}),
      },
      parent,
    );
    return new OtelRequestSpan(span);
  }

  startUpstreamSpan(a: UpstreamSpanAttributes, parent?: RequestSpan): UpstreamSpan {
    const operation = a.operation === 'embeddings' ? 'embeddings' : 'chat';
    const attributes: Attributes = {
      [GEN_AI.operation]: operation,
      [GEN_AI.provider]: genAiProviderName(a.provider),
      [GEN_AI.requestModel]: a.requestModel,
      'bellwether.api': a.operation,
      'bellwether.route': a.route,
      'bellwether.variant': a.variant,
      'bellwether.attempt': a.attempt,
    };
    const server = a.url === undefined || !URL.canParse(a.url) ? undefined : new URL(a.url);
    if (server) {
      attributes[ATTR_SERVER_ADDRESS] = server.hostname;
      attributes[ATTR_SERVER_PORT] = Number(server.port || (server.protocol === 'https:' ? 443 : 80));
    }
    const ctx = parent instanceof OtelRequestSpan ? trace.setSpan(context.active(), parent.span) : context.active();
    const span = this.tracer.startSpan(`${operation} ${a.requestModel}`, { kind: SpanKind.CLIENT, attributes }, ctx);
    return new OtelUpstreamSpan(span);
  }

  currentTraceId(): string | undefined {
    return trace.getActiveSpan()?.spanContext().traceId;
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}

const noopUpstream: UpstreamSpan = { headers: () => ({}), end: () => undefined };
const noopRequest: RequestSpan = { traceId: undefined, setRouting: () => undefined, end: () => undefined };

const noopTracing: Tracing = {
  enabled: false,
  startRequestSpan: () => noopRequest,
  startUpstreamSpan: () => noopUpstream,
  currentTraceId: () => undefined,
  shutdown: async () => undefined,
};
