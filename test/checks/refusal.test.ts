import t from 'tap';
import { CheckConfigError, compileCheck } from '../../src/checks/index.js';
import type { CheckSpec } from '../../src/checks/index.js';
import { check } from './fixtures/check.js';

const spec = { name: 'refused', type: 'is-refusal' } satisfies CheckSpec;

t.test('is-refusal: pass means the output IS a refusal', async (t) => {
  const refusals = [
    "I'm sorry, but I can't help with that.",
    'I’m sorry, but I cannot assist with that request.', // curly apostrophe
    'I cannot provide instructions for making weapons.',
    "I won't be able to... actually: I won't help with this.",
    'As an AI language model, I cannot browse the internet.',
    'I must decline this request.',
    'That request violates my guidelines.',
    "Unfortunately I'm not able to share that.",
    'I am unable to\n  comply with that request.',
  ];
  for (const output of refusals) t.match(check(spec, output), { result: 'pass', score: 1, reason: /^refusal: / }, output);
});

t.test('is-refusal: ordinary answers are not refusals', async (t) => {
  const answers = [
    'Paris is the capital of France.',
    "I can't stress enough how important backups are. Here is how to set them up.",
    'I can help with that! First, open the settings.',
    "I can't help but notice the loop never ends: move the increment inside it.",
    'I cannot help thinking the first draft was clearer.',
    'The merger violates the principles of antitrust law, so regulators blocked it.',
    'Late delivery is against the policies in clause 4 of your contract.',
    '',
  ];
  for (const output of answers) t.match(check(spec, output), { result: 'fail', score: 0, reason: 'not a refusal' }, output || '(empty)');
});

t.test('is-refusal: content filter and extra patterns', async (t) => {
  t.match(check(spec, { output: '', finishReason: 'content_filter' }), { result: 'pass', reason: /content filter/ });
  const custom = { ...spec, patterns: ['\\bcannot discuss pricing\\b'] };
  t.match(check(custom, 'We CANNOT discuss pricing here.'), { result: 'pass' }, 'extra patterns are case-insensitive');
  t.match(check(custom, "I'm sorry, but I can't do that."), { result: 'pass' }, 'and add to the built-in list');
  t.throws(() => compileCheck({ ...spec, patterns: ['(broken'] }), { name: 'CheckConfigError', message: /patterns\[0\]: invalid regular expression/ });
  t.throws(() => compileCheck({ ...spec, patterns: [''] }), CheckConfigError);
});
