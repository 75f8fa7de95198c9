import t from 'tap';
import { Value } from '@sinclair/typebox/value';
import {
  DatasetRecordSchema,
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
