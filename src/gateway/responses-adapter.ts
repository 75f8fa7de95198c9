// Makes any chat-completions provider answer `/v1/responses`: wraps it so a Responses request goes out
// as chat and comes back as a Responses object or event stream. Chosen per attempt, because a
// fallback may land on a provider that speaks the Responses API natively while the challenger doesn't.
import type { ChatCompletion } from '../providers/chat-wire.js';
import type { Operation, Provider, ProviderCall, ProviderResponse, StreamEvent } from '../providers/types.js';
import { chatToResponse, responsesToChat } from './responses.js';
import { ChatToResponsesStream } from './responses-stream.js';

/** The provider to call for `operation`: itself, or a Responses-over-chat translation of it. */
export function providerFor(provider: Provider, operation: Operation): Provider {
  if (operation !== 'responses' || provider.supports('responses')) return provider;
  return new ResponsesViaChat(provider);
}

class ResponsesViaChat implements Provider {
  readonly name: string;
  readonly type: Provider['type'];
  readonly origin: string | undefined;

  constructor(private readonly inner: Provider) {
    this.name = inner.name;
    this.type = inner.type;
    this.origin = inner.origin;
  }

  supports(operation: Operation): boolean {
    return operation === 'responses' || this.inner.supports(operation);
  }

  async call(call: ProviderCall): Promise<ProviderResponse> {
    const request = call.body;
    const res = await this.inner.call({ ...call, operation: 'chat', body: responsesToChat(request) });
    if (res.kind === 'json') {
      const json = chatToResponse(res.json as unknown as ChatCompletion, request, res.usage) as unknown as Record<string, unknown>;
      return { kind: 'json', status: res.status, body: JSON.stringify(json), json, usage: res.usage };
    }
    return { kind: 'stream', status: res.status, events: translate(res.events, new ChatToResponsesStream(request)) };
  }

  passthrough(): ReturnType<Provider['passthrough']> {
    return this.inner.passthrough();
  }

  secrets(): string[] {
    return this.inner.secrets();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

async function* translate(events: AsyncIterable<StreamEvent>, stream: ChatToResponsesStream): AsyncGenerator<StreamEvent> {
  for await (const event of events) yield* stream.translate(event);
}
