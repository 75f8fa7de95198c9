import t from 'tap';
import { Value } from '@sinclair/typebox/value';
import {
  DatasetRecordSchema,
  canonicalJson,
  datasetRecordErrors,
  inputHash,
  isDatasetRecord,
  parseDatasetLine,
} from '../../src/sampling/dataset-record.js';
import { makeRecord } from './fixtures/records.js';

t.test('input hash ignores key order and surrounding whitespace, nothing else', async (t) => {
  const a = inputHash({
    messages: [{ role: 'user', content: '  What is 2+2?\n' }],
    tools: [{ type: 'function', function: { name: 'calc', parameters: { b: 1, a: 2 } } }],
    response_format: { type: 'json_object' },
  });
  const b = inputHash({
    response_format: { type: 'json_object' },
    tools: [{ function: { parameters: { a: 2, b: 1 }, name: 'calc' }, type: 'function' }],
    messages: [{ content: 'What is 2+2?', role: 'user' }],
  });
  t.equal(a, b);
  t.match(a, /^[0-9a-f]{64}$/);
  t.not(inputHash({ messages: [{ role: 'user', content: 'What is 2+3?' }] }), inputHash({ messages: [{ role: 'user', content: 'What is 2+2?' }] }));
  t.not(
    inputHash({ messages: [{ role: 'user', content: 'hi' }], tools: [] }),
    inputHash({ messages: [{ role: 'user', content: 'hi' }] }),
    'an empty tools list is part of the input',
  );
  t.equal(
    inputHash({ messages: [{ role: 'user', content: 'hi' }], tools: undefined }),
    inputHash({ messages: [{ role: 'user', content: 'hi' }] }),
    'undefined is absent',
  );
});

t.test('input hash values never change: existing datasets de-duplicate against them', async (t) => {
  // Computed by the original implementation (createHash over JSON.stringify of the normalised copy).
  t.equal(
    inputHash({
      messages: [
        { role: 'system', content: 'You are a helpful assistant for Acme Corp customer support.' },
        { role: 'user', content: ' Summarise … 请 📧 \n' },
      ],
      tools: [{ type: 'function', function: { name: 'f', parameters: { b: 1, a: [true, null, 2.5] } } }],
      response_format: { type: 'json_object' },
    }),
    '1cb2e5d35ec35b2619caa3471936c8ec5e30a43b7468464309082da664067420',
  );
});

/** The definition canonicalJson replaces: stringify a normalised copy. */
function normalisedCopy(value: unknown): unknown {
  if (typeof value === 'string') return value.trim();
  if (Array.isArray(value)) return value.map(normalisedCopy);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = normalisedCopy(v);
    }
    return out;
  }
  return value;
}

t.test('canonical JSON is the JSON of the normalised copy, for any JSON value', async (t) => {
  // Deterministic pseudo-random JSON values: keys in every order (integer-like ones, which objects
  // list first, and ones that only look numeric; escaped; long objects beyond the insertion-sort
  // size), strings with whitespace and non-ASCII, odd numbers.
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const strings = ['', ' a ', 'b', '\n x\t', 'é', '请 📧', '"q"', '\\', '\u2028', '10', '2', '0', '01', '-1', '1.5', '4294967294', '4294967295', 'Z', 'a b', '\u0000'];
  const numbers = [0, -0, 1, -1.5, 1e21, 2 ** 53, 1e-7, 0.1];
  const value = (depth: number): unknown => {
    const kind = depth > 3 ? Math.floor(next() * 4) : Math.floor(next() * 7);
    if (kind === 0) return pick(strings);
    if (kind === 1) return pick(numbers);
    if (kind === 2) return pick([true, false, null]);
    if (kind === 3) return pick([undefined, pick(strings)]);
    if (kind === 4) return Array.from({ length: Math.floor(next() * 4) }, () => value(depth + 1));
    const out: Record<string, unknown> = {};
    const size = kind === 6 ? 17 + Math.floor(next() * 10) : Math.floor(next() * 6);
    for (let i = 0; i < size; i++) out[pick([...strings, `k${Math.floor(next() * 40)}`])] = value(depth + 1);
    return out;
  };
  let checked = 0;
  for (let i = 0; i < 2000; i++) {
    const v = value(0);
    const expected = JSON.stringify(normalisedCopy(v)) ?? 'null';
    if (canonicalJson(v) !== expected) {
      t.equal(canonicalJson(v), expected, `value ${i}`);
      return;
    }
    checked++;
  }
  t.equal(checked, 2000, 'every generated value serialises the same');
  t.equal(canonicalJson({ b: [' x ', undefined, { d: 1, c: undefined }], a: null }), '{"a":null,"b":["x",null,{"d":1}]}');
  t.equal(canonicalJson({ b: 1, 10: 2, a: 3, 2: 4, '01': 5 }), '{"2":4,"10":2,"01":5,"a":3,"b":1}', 'integer keys first, as objects list them');
  const wide: Record<string, number> = { 10: 0, 2: 0 };
  for (let i = 20; i > 0; i--) wide[`k${i}`] = i;
  t.equal(canonicalJson(wide), JSON.stringify(normalisedCopy(wide)), 'and in objects too wide to sort by insertion');
});

t.test('input hash covers Responses/embeddings input and instructions, no other params', async (t) => {
  const messages = [{ role: 'user', content: 'hi' }];
  t.equal(
    inputHash({ messages, params: { temperature: 0.2, input: undefined, instructions: undefined } }),
    inputHash({ messages }),
    'chat requests hash as before',
  );
  const responses = (input: unknown, instructions?: string) => inputHash({ messages: [], params: { input, ...(instructions ? { instructions } : {}) } });
  t.not(responses('What is the capital of France?'), responses('Write a haiku about rain'), 'input is part of it');
  t.not(responses('hi', 'Answer in French.'), responses('hi', 'Answer in German.'), 'instructions are part of it');
  t.not(responses(['a', 'b']), responses(['a', 'c']), 'embeddings input lists too');
  t.equal(responses(' hi\n'), responses('hi'), 'normalised like messages');
});

t.test('schema accepts a full record and rejects broken ones with reasons', async (t) => {
  const record = makeRecord({ tags: ['billing'] });
  t.ok(isDatasetRecord(record));
  t.ok(Value.Check(DatasetRecordSchema, record), 'the exported schema agrees with the compiled check');
  const full = {
    ...record,
    response: {
      content: null,
      finish_reason: 'tool_calls',
      tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
    },
    usage: { input_tokens: 1, output_tokens: 2, cached_input_tokens: 3, reasoning_tokens: 4 },
    ttft_s: 0.12,
    cost_usd: null,
    difficulty: 'hard',
    reference: { answer: '4' },
    split: 'regression',
  };
  t.ok(isDatasetRecord(full), datasetRecordErrors(full).join('; '));

  const wrongVersion = { ...record, schema_version: 2 };
  t.notOk(isDatasetRecord(wrongVersion));
  t.match(datasetRecordErrors(wrongVersion).join('\n'), /\/schema_version/);
  t.notOk(isDatasetRecord({ ...record, extra: true }), 'unknown top-level fields are rejected');
  t.notOk(isDatasetRecord({ ...record, source: { ...record.source, sampled_at: 'yesterday' } }));
  t.notOk(isDatasetRecord({ ...record, input_hash: 'abc' }));
  t.notOk(isDatasetRecord({ ...record, split: 'train' }));
});

t.test('parseDatasetLine tolerates garbage', async (t) => {
  const record = makeRecord();
  t.same(parseDatasetLine(JSON.stringify(record)), record);
  t.equal(parseDatasetLine(JSON.stringify(record).slice(0, 40)), undefined, 'truncated');
  t.equal(parseDatasetLine('{"hello":"world"}'), undefined, 'not a record');
  t.equal(parseDatasetLine(''), undefined);
});
