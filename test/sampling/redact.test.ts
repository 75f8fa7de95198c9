import t from 'tap';
import { createRedactor, isCardNumber, luhnValid } from '../../src/sampling/redact.js';

const OPENAI_KEY = 'sk-proj-4f9aQ2xZ7bR1cD3eF5gH6iJ8kL0mN2oP';
const CLIENT_KEY = 'web-app-7c1d2e3f4a5b';
const redactor = createRedactor({
  secrets: [CLIENT_KEY, 'short'],
  patterns: [{ name: 'employee_id', regex: String.raw`\bEMP-\d{6}\b` }],
});
const redact = (text: string): { value: string; count: number } => redactor.redactString(text);

t.test('known secrets are replaced wherever they appear; too-short ones are ignored', async (t) => {
  t.same(redact(`key=${CLIENT_KEY};`), { value: 'key=[REDACTED:secret];', count: 1 });
  t.same(redact(`x${CLIENT_KEY}${CLIENT_KEY}`), { value: 'x[REDACTED:secret][REDACTED:secret]', count: 2 });
  t.same(redact('a short sentence'), { value: 'a short sentence', count: 0 }, 'secrets under 8 chars would shred prose');
  const withRegexChars = createRedactor({ secrets: ['a.b*c+d?(e)[f]'] });
  t.equal(withRegexChars.redactString('x a.b*c+d?(e)[f] y').value, 'x [REDACTED:secret] y');
  t.equal(withRegexChars.redactString('x aXb*c+d?(e)[f] y').count, 0, 'secrets match literally');
});

t.test('API key shapes and bearer tokens', async (t) => {
  const cases: [string, string][] = [
    [`use ${OPENAI_KEY} now`, 'use [REDACTED:api_key] now'],
    ['sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv-wxyz', '[REDACTED:api_key]'],
    ['legacy sk-AbCdEfGhIjKlMnOpQrStUvWx', 'legacy [REDACTED:api_key]'],
    ['aws AKIAIOSFODNN7EXAMPLE.', 'aws [REDACTED:api_key].'],
    ['gh ghp_abcdefghijklmnopqrstuvwxyz0123456789!', 'gh [REDACTED:api_key]!'],
    ['Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_1', 'Authorization: Bearer [REDACTED:bearer]'],
    ['curl -H "authorization: bearer abc123def456"', 'curl -H "authorization: bearer [REDACTED:bearer]"'],
    ['api_key=abc123def456&x=1', 'api_key=[REDACTED:api_key]&x=1'],
    ['X-API-KEY: "9f8e7d6c5b4a"', 'X-API-KEY: "[REDACTED:api_key]"'],
  ];
  for (const [input, expected] of cases) t.equal(redact(input).value, expected, input);

  for (const prose of [
    'the bearer instrument is payable',
    'ask the task-manager for a desk-lamp',
    'your API key: rotate it monthly',
    'risk-assessment-documentation',
  ]) {
    t.same(redact(prose), { value: prose, count: 0 }, `untouched: ${prose}`);
  }
});

t.test('e-mail addresses, including unicode around and inside them', async (t) => {
  const cases: [string, string][] = [
    ['mail john.doe+tag@example.co.uk.', 'mail [REDACTED:email].'],
    ['请联系john@example.com。谢谢', '请联系[REDACTED:email]。谢谢'],
    ['«josé@exämple.de»', '«[REDACTED:email]»'],
    ['📧a.b@sub.example.org👍', '📧[REDACTED:email]👍'],
    ['\u200bzero@width.io\u200b', '\u200b[REDACTED:email]\u200b'],
    ['メールはtaro@example.jpです', 'メールは[REDACTED:email]です'],
    ['请发邮件到info@例子.中国', '请发邮件到[REDACTED:email]'],
    ['連絡はtaro@例え.jpです', '連絡は[REDACTED:email]です'],
    ['연락처: kim@도메인.한국 입니다', '연락처: [REDACTED:email] 입니다'],
    ['ติดต่อ somchai@ตัวอย่าง.ไทย', 'ติดต่อ [REDACTED:email]'],
  ];
  for (const [input, expected] of cases) t.equal(redact(input).value, expected, input);
  t.equal(redact('user@localhost and @handle and a@b').count, 0, 'no TLD, no address');
  // A TLD in a script without spaces has no end of its own: the sentence after it may go with it.
  t.equal(redact('写信给info@例子.中国谢谢您').value, '写信给[REDACTED:email]', 'at most five characters of it');
  t.equal(redact('写信给info@例子.中国谢谢您的帮助').value, '写信给[REDACTED:email]的帮助');
});

t.test('e-mail addresses whose local part is in a script written without spaces', async (t) => {
  const cases: [string, string][] = [
    ['田中@example.com', '[REDACTED:email]'],
    ['联系人：张三@例子.中国', '联系人：[REDACTED:email]'],
    ['김철수@도메인.한국 입니다', '[REDACTED:email] 입니다'],
    ['ติดต่อ สมชาย@ตัวอย่าง.ไทย', 'ติดต่อ [REDACTED:email]'],
    ['ติดต่อ สมศักดิ์@example.com', 'ติดต่อ [REDACTED:email]'],
    // No start of its own: the sentence before it may go with it, up to eight characters.
    ['連絡先は田中@example.comです', '[REDACTED:email]です'],
    ['一二三四五六七八九十@example.com', '一二[REDACTED:email]'],
  ];
  for (const [input, expected] of cases) t.equal(redact(input).value, expected, input);
  t.equal(redact('请联系john@example.com。谢谢').value, '请联系[REDACTED:email]。谢谢', 'a sentence before a latin address stays');
  t.equal(redact('价格@报价 and 中文@中文').count, 0, 'no TLD, no address');
});

t.test('payment cards only when Luhn-valid and laid out like a card', async (t) => {
  t.ok(luhnValid('4111111111111111'));
  t.notOk(luhnValid('4111111111111112'));
  t.ok(isCardNumber('4111 1111 1111 1111'));
  t.ok(isCardNumber('3782 822463 10005'), 'Amex 4-6-5');
  t.notOk(isCardNumber('4111 1111-1111 1111'), 'mixed separators');

  t.equal(redact('card 4111 1111 1111 1111 exp 12/29').value, 'card [REDACTED:card] exp 12/29');
  t.equal(redact('card 4111-1111-1111-1111').value, 'card [REDACTED:card]');
  t.equal(redact('card 5555555555554444').value, 'card [REDACTED:card]');
  t.equal(redact('amex 3782 822463 10005').value, 'amex [REDACTED:card]');
  t.equal(redact('カード4111 1111 1111 1111です').value, 'カード[REDACTED:card]です', 'touching text without spaces');
  for (const notACard of [
    'ref 4111111111111112', // Luhn-invalid 16 digits
    'order 4242 4242 4242 4241',
    'dates 2024-01-15 2024-01-16 2024-01-17', // Luhn aside, not a card layout
    'ts 1718900000000 and 1718900000018', // epoch milliseconds
    'id 123456789012', // 12 digits
    'trace 0000000000000000',
  ]) {
    t.same(redact(notACard), { value: notACard, count: 0 }, notACard);
  }
});

t.test('phone numbers, but not dates, years, versions or bare IDs', async (t) => {
  const cases: [string, string][] = [
    ['call +1 (415) 555-2671 now', 'call [REDACTED:phone] now'],
    ['UK +44 20 7946 0958', 'UK [REDACTED:phone]'],
    ['FR +33 1 23 45 67 89.', 'FR [REDACTED:phone].'],
    ['DE +4930901820', 'DE [REDACTED:phone]'],
    ['(415) 555-2671', '[REDACTED:phone]'],
    ['415-555-2671 or 415.555.2671 or 415 555 2671', '[REDACTED:phone] or [REDACTED:phone] or [REDACTED:phone]'],
    ['1-800-555-0199', '[REDACTED:phone]'],
  ];
  for (const [input, expected] of cases) t.equal(redact(input).value, expected, input);
  for (const notAPhone of [
    'on 2024-01-15 at 10:30:00',
    '2024-01-15T10:30:00.123+02:00',
    'since 1999, in 2024 and 20240115',
    'ticket 4155552671', // bare 10 digits: an ID far more often than a phone
    'version 10.415.555.2671-beta',
    'ip 192.168.100.200',
    'math: +1 - 2 = -1 and +12 34',
    'pi 3.14159265358979',
    'uuid 123e4567-e89b-12d3-a456-426614174000',
  ]) {
    t.same(redact(notAPhone), { value: notAPhone, count: 0 }, notAPhone);
  }
});

t.test('values disguised with full-width forms or invisible characters', async (t) => {
  const cases: [string, string][] = [
    ['card ４１１１ １１１１ １１１１ １１１１ exp', 'card [REDACTED:card] exp'],
    ['カード４１１１\u3000１１１１\u3000１１１１\u3000１１１１です', 'カード[REDACTED:card]です'],
    ['card 4111\u200b1111\u200b1111\u200b1111', 'card [REDACTED:card]'],
    ['mail jo\u200bhn.doe@exam\u00adple.com now', 'mail [REDACTED:email] now'],
    ['mail john＠example．com', 'mail [REDACTED:email]'],
    ['\u200bzero@width.io\u200b', '\u200b[REDACTED:email]\u200b'],
    ['電話：＋４４ ２０ ７９４６ ０９５８', '電話：[REDACTED:phone]'],
    ['key ｓｋ-proj-4f9aQ2xZ7bR1cD3eF5gH6iJ8kL0mN2oP!', 'key [REDACTED:api_key]!'],
    [`mixed ${OPENAI_KEY} and ４１１１ １１１１ １１１１ １１１１`, 'mixed [REDACTED:api_key] and [REDACTED:card]'],
  ];
  for (const [input, expected] of cases) t.equal(redact(input).value, expected, JSON.stringify(input));
  for (const prose of ['全角の数字１２３と（括弧）', 'soft\u00adhyphen and zero\u200bwidth prose', 'ｆｕｌｌ ｗｉｄｔｈ ｔｅｘｔ']) {
    t.same(redact(prose), { value: prose, count: 0 }, `untouched: ${JSON.stringify(prose)}`);
  }
  t.equal(redactor.redactValue({ messages: [{ role: 'user', content: '４１１１ １１１１ １１１１ １１１１' }] }).count, 1, 'in a deep walk too');
});

t.test('configured patterns, and their validation', async (t) => {
  t.equal(redact('badge EMP-123456 EMP-1234567').value, 'badge [REDACTED:employee_id] EMP-1234567');
  const ci = createRedactor({ patterns: [{ name: 'project', regex: 'project\\s+falcon', flags: 'i' }] });
  t.equal(ci.redactString('About PROJECT Falcon.').value, 'About [REDACTED:project].');
  t.throws(() => createRedactor({ patterns: [{ name: 'bad', regex: '(' }] }), /redaction pattern bad: invalid regex/);
  t.throws(() => createRedactor({ patterns: [{ name: 'no spaces', regex: 'x' }] }), /redaction pattern name/);
  const empty = createRedactor({ patterns: [{ name: 'empty', regex: 'x*' }] });
  t.same(empty.redactString('nothing to see here'), { value: 'nothing to see here', count: 0 }, 'empty matches are ignored');
});

t.test('overlapping matches are replaced and counted once', async (t) => {
  const r = createRedactor({ secrets: [OPENAI_KEY] });
  t.same(r.redactString(`api_key=${OPENAI_KEY}`), { value: 'api_key=[REDACTED:secret]', count: 1 }, 'secret wins the name');
  t.same(r.redactString(`Bearer ${OPENAI_KEY}`), { value: 'Bearer [REDACTED:secret]', count: 1 });
});

t.test('redaction is idempotent', async (t) => {
  const once = redact(`mail a@b.com, key ${OPENAI_KEY}, card 4111111111111111, api_key=abc123def`);
  t.equal(once.count, 4);
  t.same(redact(once.value), { value: once.value, count: 0 });
});

t.test('JSON inside strings: tool arguments, nested JSON, keys, escapes, numbers', async (t) => {
  const args = JSON.stringify({
    to: 'jane@example.com',
    auth: { api_key: 'plain-looking-value', password: 'hunter2hunter2' },
    nested: JSON.stringify({ token: `Bearer abc123def456ghi` }),
    'owner@example.com': 'key is an e-mail',
    card: 4111111111111111,
    amount: 12.5,
  });
  const out = redactor.redactString(args);
  const parsed = JSON.parse(out.value) as Record<string, unknown>;
  t.same(parsed.to, '[REDACTED:email]');
  t.same(parsed.auth, { api_key: '[REDACTED:credential]', password: '[REDACTED:credential]' }, 'values of credential keys');
  t.same(JSON.parse(parsed.nested as string), { token: 'Bearer [REDACTED:bearer]' }, 'JSON inside JSON inside a string');
  t.equal(parsed['[REDACTED:email]'], 'key is an e-mail', 'keys are redacted too');
  t.equal(parsed.card, '[REDACTED:card]', 'a card typed as a JSON number');
  t.equal(parsed.amount, 12.5);
  t.equal(out.count, 6);

  const escaped = '{"contact":"jane\\u0040example.com"}';
  t.same(JSON.parse(redact(escaped).value), { contact: '[REDACTED:email]' }, 'JSON escapes cannot hide an address');

  const unchanged = '{ "a": 1,\n  "b": [true, null, "plain"] }';
  t.equal(redact(unchanged).value, unchanged, 'formatting is kept when nothing matched');

  const broken = '{"partial": "jane@example.com", "cut';
  t.equal(redact(broken).value, '{"partial": "[REDACTED:email]", "cut', 'invalid JSON is treated as text');
});

t.test('deep walk over a chat request and response', async (t) => {
  const request = {
    messages: [
      { role: 'system', content: `Use key ${CLIENT_KEY}` },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'my key is sk-proj-4f9aQ2xZ' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,QUtJQUlPU0ZPRE5ON0VYQU1QTEU=' } },
          { type: 'text', text: '7bR1cD3eF5gH6 thanks, jane@example.com' },
        ],
      },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'send_email', arguments: '{"to":"bob@example.org","body":"card 4111 1111 1111 1111"}' },
          },
        ],
      },
    ],
    tools: [{ type: 'function', function: { name: 'send_email', parameters: { type: 'object', properties: { password: { type: 'string' } } } } }],
    temperature: 0.2,
    max_tokens: 4111111111111111,
  };
  const snapshot = structuredClone(request);
  const { value, count } = redactor.redactValue(request);

  t.same(request, snapshot, 'input is not mutated');
  t.equal(value.messages[0]?.content, 'Use key [REDACTED:secret]');
  const parts = value.messages[1]?.content as { type: string; text?: string }[];
  t.equal(parts[0]?.text, 'my key is [REDACTED:api_key]', 'a key split across two text parts');
  t.equal(parts[2]?.text, ' thanks, [REDACTED:email]');
  t.equal(parts[1], request.messages[1]?.content?.[1], 'untouched parts keep their identity (data URLs are not scanned)');
  const call = value.messages[2]?.tool_calls?.[0];
  t.same(JSON.parse(call?.function.arguments ?? ''), { to: '[REDACTED:email]', body: 'card [REDACTED:card]' });
  t.equal(value.tools, request.tools, 'a schema property named password is not a credential value');
  t.equal(value.max_tokens, 4111111111111111, 'numbers outside strings are parameters, left alone');
  t.equal(count, 5);

  const clean = { messages: [{ role: 'user', content: 'hello there' }], n: 1, flag: true, nothing: null };
  t.equal(redactor.redactValue(clean).value, clean, 'nothing to redact: same reference, no copy');
});

t.test('Responses API parts and credential-named fields in plain objects', async (t) => {
  const input = {
    input: [{ role: 'user', content: [{ type: 'input_text', text: 'call me +44 20 ' }, { type: 'input_text', text: '7946 0958' }] }],
    metadata: { apiKey: 'anything-at-all', note: 'ok' },
  };
  const { value, count } = redactor.redactValue(input);
  const parts = value.input[0]?.content ?? [];
  t.equal(`${parts[0]?.text}|${parts[1]?.text}`, 'call me [REDACTED:phone]|');
  t.same(value.metadata, { apiKey: '[REDACTED:credential]', note: 'ok' });
  t.equal(count, 2);
});

t.test('long unbroken runs stay linear (no regex backtracking blow-up)', async (t) => {
  // Linear takes 1-25 ms here; quadratic backtracking over 100-200k characters, tens of seconds. The
  // bound sits far from both, so a loaded or descheduled machine cannot cross it.
  for (const run of ['a'.repeat(200_000), '7'.repeat(200_000), 'a.'.repeat(100_000), '4-'.repeat(50_000)]) {
    const started = performance.now();
    t.equal(redactor.redactString(run).count, 0);
    t.ok(performance.now() - started < 5000, `${run.slice(0, 4)}… (${run.length} chars) in ${Math.round(performance.now() - started)} ms`);
  }
});

t.test('credential field names with a prefix, numeric credentials, and credentials in cut-off JSON', async (t) => {
  const pw = 'Tr0ub4dor&3xyz';
  for (const key of ['password', 'db_password', 'adminPassword', 'user_password', 'aws_secret_access_key', 'stripe_secret_key', 'X-Api-Key']) {
    const args = JSON.stringify({ host: 'db.internal', [key]: pw });
    t.same(JSON.parse(redactor.redactString(args).value), { host: 'db.internal', [key]: '[REDACTED:credential]' }, `${key} in JSON text`);
    t.same(redactor.redactValue({ host: 'db.internal', [key]: pw }).value, { host: 'db.internal', [key]: '[REDACTED:credential]' }, `${key} in an object`);
  }
  t.same(redactor.redactValue({ password: 73194682, max_tokens: 512, secret_count: 3 }).value, { password: '[REDACTED:credential]', max_tokens: 512, secret_count: 3 }, 'a numeric password, and names that only contain a word');

  const cut = `{"user": "admin", "password": "${pw}", "host": "db.int`;
  const out = redactor.redactString(cut);
  t.equal(out.value, '{"user": "admin", "password": "[REDACTED:credential]", "host": "db.int', 'arguments cut off by max_tokens are not JSON, and still redacted');
  t.equal(out.count, 1);
  const trailing = `{"db_password": "${pw}`;
  t.equal(redactor.redactString(trailing).value, '{"db_password": "[REDACTED:credential]', 'a value cut off before its closing quote');
  const spaced = `{"db_password" :\t"${pw}`;
  t.equal(redactor.redactString(spaced).value, '{"db_password" :\t"[REDACTED:credential]', 'white space before the colon');
});
