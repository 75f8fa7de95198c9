// Reference checks of the eval runner: recall (reference-coverage) and precision (reference-precision)
// against a case's expected list, compared in the same loose form as the grounding check.
import t from 'tap';
import { coverage, precision } from '../../src/eval/coverage.js';

const COVERAGE = { name: 'covers', type: 'reference-coverage' } as const;
const PRECISION = { name: 'precise', type: 'reference-precision', outputPath: 'names' } as const;

t.test('reference-coverage: the share of expected items found in the answer', async (t) => {
  t.match(coverage(COVERAGE, { output: 'Alice met Bob in Paris.', reference: ['Alice', 'Bob', 'Paris'] }), { result: 'pass', score: 1 });
  const partial = coverage(COVERAGE, { output: 'Alice met Bob.', reference: ['Alice', 'Bob', 'Paris', 'Rome'] });
  t.match(partial, { result: 'fail', score: 0.5, reason: 'missing 2 of 4: "Paris", "Rome"' });
  t.match(coverage({ ...COVERAGE, minScore: 0.5 }, { output: 'Alice met Bob.', reference: ['Alice', 'Bob', 'Paris', 'Rome'] }), { result: 'pass' });
  t.match(coverage({ ...COVERAGE, path: 'people' }, { output: 'Alice', reference: { people: ['alice'] } }), { result: 'pass' });
  t.match(coverage(COVERAGE, { output: 'anything', reference: [] }), { result: 'pass', reason: 'nothing expected' });
});

t.test('reference-coverage: typography, Unicode case and whitespace do not make an item missing', async (t) => {
  // The reference was typed with ASCII quotes and dashes; the model writes typographic ones (or the reverse).
  const result = coverage(COVERAGE, {
    output: 'Mr O’Brien served 2019–2020 on the STRASSE   committee, ＡＣＭＥ Ltd.',
    reference: ["O'Brien", '2019-2020', 'straße committee', 'acme ltd'],
  });
  t.match(result, { result: 'pass', score: 1 }, result.reason);
});

t.test('reference-coverage: a case without a reference list is an error, not a model failure', async (t) => {
  t.match(coverage(COVERAGE, { output: 'x' }), { result: 'error', reason: 'case has no reference list' });
  t.match(coverage({ ...COVERAGE, path: 'people' }, { output: 'x', reference: { people: 'Alice' } }), { result: 'error', reason: 'case has no reference list at "people"' });
  t.match(coverage(COVERAGE, { output: 'x', reference: ['a', 1] }), { result: 'error' });
});

t.test('reference-precision: the share of extracted items that were expected', async (t) => {
  const ok = precision(PRECISION, { output: JSON.stringify({ names: ['Alice', 'Mr Bob'] }), reference: ['Alice', 'Bob'] });
  t.match(ok, { result: 'pass', score: 1 }, 'containment either way: "Mr Bob" for "Bob"');
  const invented = precision(PRECISION, { output: JSON.stringify({ names: ['Alice', 'Carol'] }), reference: ['Alice', 'Bob'] });
  t.match(invented, { result: 'fail', score: 0.5, reason: '1 of 2 not expected: "Carol"' });
  const curly = precision(PRECISION, { output: JSON.stringify({ names: ['“O’Brien”'] }), reference: ["O'Brien"] });
  t.match(curly, { result: 'pass' }, 'typographic quotes around and inside an item');
  t.match(precision(PRECISION, { output: 'not json', reference: ['a'] }), { result: 'fail', reason: 'output is not JSON' });
  t.match(precision(PRECISION, { output: '{"names": "Alice"}', reference: ['a'] }), { result: 'fail', reason: 'no list of strings at "names" in the output' });
  t.match(precision(PRECISION, { output: '{"names": []}', reference: ['a'] }), { result: 'fail', reason: 'nothing extracted' });
  t.match(precision(PRECISION, { output: '{"names": []}', reference: [] }), { result: 'pass' });
  t.match(precision(PRECISION, { output: '{"names": ["a"]}' }), { result: 'error' });
});
