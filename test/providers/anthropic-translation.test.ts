// The Anthropic translation against the Messages API's documented wire formats: request mapping,
// a recorded streaming event sequence (text + tool use + ping), errors and usage buckets.
import t from 'tap';
import { toAnthropicRequest, DEFAULT_MAX_TOKENS } from '../../src/providers/anthropic/request.js';
import { toChatCompletion } from '../../src/providers/anthropic/response.js';
import { AnthropicStreamTranslator } from '../../src/providers/anthropic/stream.js';
import { anthropicError } from '../../src/providers/anthropic/errors.js';
import { streamErrorStatus } from '../../src/providers/upstream-errors.js';
import type { AnthropicStreamEvent } from '../../src/providers/anthropic/wire.js';
import { fromAnthropicUsage } from '../../src/accounting/usage.js';
import type { GatewayError } from '../../src/gateway/errors.js';

t.test('request: system, multi-turn, images, tools both ways, stop, limits', async (t) => {
  const out = toAnthropicRequest({
    model: 'claude-sonnet-4-5',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'developer', content: [{ type: 'text', text: 'Use tools.' }] },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in these?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
        ],
      },
      { role: 'assistant', content: 'Checking.', tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"cat"}' } },
        { id: 'call_2', type: 'function', function: { name: 'lookup', arguments: '{"q":"dog"}' } },
      ] },
      { role: 'tool', tool_call_id: 'call_1', content: 'a cat' },
      { role: 'tool', tool_call_id: 'call_2', content: 'a dog' },
    ],
    tools: [{ type: 'function', function: { name: 'lookup', description: 'Look up', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }],
    tool_choice: 'required',
    parallel_tool_calls: false,
    stop: 'END',
    temperature: 1.7,
    top_p: 0.9,
    user: 'u-1',
  });
  t.equal(out.system, 'Be brief.\n\nUse tools.');
  t.equal(out.max_tokens, DEFAULT_MAX_TOKENS, 'max_tokens is required upstream: defaulted');
  t.same(out.stop_sequences, ['END']);
  t.equal(out.temperature, 1, 'OpenAI temperature range clamped to Anthropic 0..1');
  t.equal(out.top_p, undefined, 'with temperature set, top_p is dropped: current models reject both');
  t.same(out.metadata, { user_id: 'u-1' });
  t.same(out.tool_choice, { type: 'any', disable_parallel_tool_use: true });
  t.same(out.tools, [{ name: 'lookup', description: 'Look up', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }]);
  t.equal(out.messages.length, 3, 'the two tool results are one user turn');
  t.same(out.messages[0], {
    role: 'user',
    content: [
      { type: 'text', text: 'What is in these?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ],
  });
  t.same(out.messages[1], {
    role: 'assistant',
    content: [
      { type: 'text', text: 'Checking.' },
      { type: 'tool_use', id: 'call_1', name: 'lookup', input: { q: 'cat' } },
      { type: 'tool_use', id: 'call_2', name: 'lookup', input: { q: 'dog' } },
    ],
  });
  t.same(out.messages[2], {
    role: 'user',
    content: [
      { type: 'tool_result', tool_use_id: 'call_1', content: 'a cat' },
      { type: 'tool_result', tool_use_id: 'call_2', content: 'a dog' },
    ],
  });
});

t.test('request: tool_choice variants, explicit limits, JSON mode', async (t) => {
  const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'f' } }] };
  t.same(toAnthropicRequest({ ...base, tool_choice: 'none' }).tool_choice, { type: 'none' });
  t.same(toAnthropicRequest({ ...base, tool_choice: 'auto' }).tool_choice, { type: 'auto' });
  t.same(toAnthropicRequest({ ...base, tool_choice: { type: 'function', function: { name: 'f' } } }).tool_choice, { type: 'tool', name: 'f' });
  t.same(toAnthropicRequest(base).tools, [{ name: 'f', input_schema: { type: 'object', properties: {} } }]);
  t.equal(toAnthropicRequest({ ...base, max_tokens: 50 }).max_tokens, 50);
  t.equal(toAnthropicRequest({ ...base, max_completion_tokens: 70, max_tokens: 50 }).max_tokens, 70);
  t.equal(toAnthropicRequest(base, 1000).max_tokens, 1000, 'provider defaultMaxTokens');
  t.match(toAnthropicRequest({ ...base, response_format: { type: 'json_object' } }).system, /JSON object/);
  const rejects = (body: Record<string, unknown>) => {
    try {
      toAnthropicRequest(body);
    } catch (err) {
      return err as GatewayError;
    }
    return undefined;
  };
  t.equal(rejects({ model: 'm', messages: [] })?.status, 400);
  t.equal(rejects({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x' } }] }] })?.errorClass, 'bad_request');
});

t.test('response: text and tool_use blocks, stop reasons, usage buckets', async (t) => {
  const { json, usage } = toChatCompletion({
    id: 'msg_01',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5-20250929',
    content: [
      { type: 'thinking', thinking: 'hmm', signature: 'sig' },
      { type: 'text', text: 'Let me look.' },
      { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } },
    ],
    stop_reason: 'tool_use',
    stop_sequence: null,
    usage: { input_tokens: 100, cache_read_input_tokens: 1000, cache_creation_input_tokens: 200, output_tokens: 50 },
  });
  const choice = json.choices[0];
  t.equal(choice?.message.content, 'Let me look.');
  t.same(choice?.message.tool_calls, [{ id: 'toolu_01', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
  t.equal(choice?.finish_reason, 'tool_calls');
  t.same(usage, { input: 100, cachedInput: 1000, cacheWrite: 200, output: 50, reasoning: 0 }, 'input_tokens excludes cache reads and writes');
  t.equal(json.usage?.prompt_tokens, 1300, 'OpenAI-style prompt_tokens include cached tokens');
  t.equal(json.usage?.prompt_tokens_details?.cached_tokens, 1000);

  const stops: [string, string][] = [
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'],
    ['pause_turn', 'length'],
    ['refusal', 'content_filter'],
  ];
  for (const [stop, finish] of stops) {
    const r = toChatCompletion({ id: 'm', type: 'message', role: 'assistant', model: 'x', content: [{ type: 'text', text: 'a' }], stop_reason: stop as 'end_turn', stop_sequence: null, usage: {} });
    t.equal(r.json.choices[0]?.finish_reason, finish, `${stop} → ${finish}`);
  }
});

// The event sequence from Anthropic's streaming documentation (text, then a tool_use with
// input_json_delta fragments), verbatim in shape.
const RECORDED: AnthropicStreamEvent[] = [
  { type: 'message_start', message: { id: 'msg_014p7gG3wDgGV9EUtLvnow3U', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5-20250929', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 472, output_tokens: 2, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 } } },
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  { type: 'ping' },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Okay' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ', let me check.' } },
  { type: 'content_block_stop', index: 0 },
  { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather', input: {} } },
  { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '' } },
  { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"location":' } },
  { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: ' "San Francisco, CA"}' } },
  { type: 'content_block_stop', index: 1 },
  { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 89 } },
  { type: 'message_stop' },
];

t.test('stream: recorded events → chat.completion.chunks in OpenAI order', async (t) => {
  const translator = new AnthropicStreamTranslator(true);
  const out = RECORDED.flatMap((e) => translator.translate(e));
  const deltas = out.map((o) => o.chunk.choices[0]?.delta);
  t.same(deltas[0], { role: 'assistant', content: '', refusal: null }, 'role chunk first');
  t.same(deltas[1], { content: 'Okay' });
  t.same(deltas[2], { content: ', let me check.' });
  t.same(deltas[3], { tool_calls: [{ index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', type: 'function', function: { name: 'get_weather', arguments: '' } }] });
  t.same(deltas[4], { tool_calls: [{ index: 0, function: { arguments: '{"location":' } }] }, 'empty partial_json skipped');
  t.same(deltas[5], { tool_calls: [{ index: 0, function: { arguments: ' "San Francisco, CA"}' } }] });
  t.equal(out[6]?.chunk.choices[0]?.finish_reason, 'tool_calls');
  const last = out[7];
  t.same(last?.chunk.choices, [], 'usage chunk has empty choices');
  t.same(last?.usage, { input: 472, cachedInput: 100, cacheWrite: 20, output: 89, reasoning: 0 });
  t.equal(out[0]?.usage?.input, 472, 'input billed from message_start on (priced even if cancelled)');
  t.equal(out.length, 8);
  t.ok(translator.done);
  t.ok(out.every((o) => o.chunk.object === 'chat.completion.chunk' && o.chunk.id === 'chatcmpl-msg_014p7gG3wDgGV9EUtLvnow3U'));

  const quiet = new AnthropicStreamTranslator(false);
  const noUsage = RECORDED.flatMap((e) => quiet.translate(e));
  t.equal(noUsage.length, 7, 'no usage chunk unless asked');
  t.notOk('usage' in (noUsage[1]?.chunk ?? {}), 'no usage:null field unless asked');
});

t.test('errors: Anthropic types → OpenAI shape and status', async (t) => {
  const overloaded = anthropicError(529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, {}, 'claude');
  t.equal(overloaded.status, 529);
  t.equal(overloaded.errorClass, 'upstream_5xx');
  t.ok(overloaded.retryable);
  t.same(overloaded.toBody(), { error: { message: 'Overloaded', type: 'server_error', code: 'overloaded_error' } });

  const limited = anthropicError(429, { type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } }, { 'retry-after': '7' }, 'claude');
  t.equal(limited.errorClass, 'rate_limited');
  t.equal(limited.retryAfterMs, 7000);

  const invalid = anthropicError(400, { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Field required' } }, {}, 'claude');
  t.equal(invalid.errorClass, 'upstream_4xx');
  t.notOk(invalid.retryable);
  t.equal(invalid.toBody().error.type, 'invalid_request_error');

  const inStream = anthropicError(undefined, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, {}, 'claude');
  t.equal(inStream.status, 529, 'status derived from the error type for in-stream errors');
  t.equal(streamErrorStatus('overloaded_error', null), 529, 'the same overload through an OpenAI-compatible proxy: the same status');

  // Names every JS object inherits are not error types: no function where a status or type belongs.
  const inherited = anthropicError(undefined, { type: 'error', error: { type: 'constructor', message: 'odd' } }, {}, 'claude');
  t.equal(inherited.status, 500);
  t.equal(inherited.errorClass, 'upstream_5xx');
  t.same(inherited.toBody(), { error: { message: 'odd', type: 'api_error', code: 'constructor' } });
  t.equal(streamErrorStatus('constructor', 'toString'), 500);

  const garbage = anthropicError(502, '<html>bad gateway</html>', {}, 'claude');
  t.equal(garbage.status, 502);
  t.equal(garbage.toBody().error.type, 'api_error');
});

t.test('usage: Anthropic buckets are disjoint', async (t) => {
  t.same(fromAnthropicUsage({ input_tokens: 5, output_tokens: 7 }), { input: 5, cachedInput: 0, cacheWrite: 0, output: 7, reasoning: 0 });
  t.equal(fromAnthropicUsage(undefined), undefined);
});
