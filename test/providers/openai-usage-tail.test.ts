// The JSON hot path reads usage from the answer's tail instead of parsing the whole answer. Whatever
// the tail scan returns must equal what the full parse says, or be undefined (the caller then parses).
import t from 'tap';
import { usageFromTail } from '../../src/providers/openai/index.js';
import { fromOpenAIUsage, type OpenAIUsageWire } from '../../src/accounting/usage.js';

const usage = {
  prompt_tokens: 120,
  completion_tokens: 53,
  total_tokens: 173,
  prompt_tokens_details: { cached_tokens: 100, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 20, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
};
const answer = (extra: Record<string, unknown> = {}) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  choices: [{ index: 0, message: { role: 'assistant', content: 'The "usage" of {braces} is fine here.' }, finish_reason: 'stop' }],
  usage,
  ...extra,
});

t.test('equals the full parse for compact, pretty-printed and trailing-key answers', async (t) => {
  const expected = fromOpenAIUsage(usage as OpenAIUsageWire);
  t.same(usageFromTail(JSON.stringify(answer())), expected);
  t.same(usageFromTail(JSON.stringify(answer(), null, 2)), expected);
  t.same(usageFromTail(JSON.stringify(answer({ service_tier: 'default', system_fingerprint: 'fp_1' }))), expected);
  t.equal(expected?.cachedInput, 100);
  t.equal(expected?.reasoning, 20);
});

t.test('undefined (caller parses fully) whenever the tail is not a plain usage object', async (t) => {
  t.equal(usageFromTail('{"choices":[]}'), undefined, 'no usage');
  t.equal(usageFromTail('{"choices":[],"usage":null}'), undefined, 'usage null');
  t.equal(usageFromTail('{"choices":[{"message":{"content":"say \\"usage\\": {\\"prompt_tokens\\": 9}"}}]}'), undefined, 'only inside an escaped string');
  t.equal(usageFromTail('{"choices":[],"note":"usage"}'), undefined, 'a string value, not a key');
  t.equal(usageFromTail('{"usage":{"a":{"b":{"c":1}}}}'), undefined, 'nested deeper than usage objects are');
  t.equal(usageFromTail('{"choices":[],"usage":{"prompt_tokens":1'), undefined, 'truncated');
});
