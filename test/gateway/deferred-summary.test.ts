// A JSON answer's summary (text, tool calls, finish reason) is built when something first reads it:
// most requests are neither checked nor sampled, and reading the answer's `json` is its full parse.
import t from 'tap';
import type { RouteConfig } from '../../src/config/types.js';
import { RequestLedger } from '../../src/gateway/ledger.js';
import { summaryLater } from '../../src/gateway/summary.js';

const route = { name: 'demo', champion: 'small' } as RouteConfig;

t.test('responding does not parse the answer; the first read of the summary does, once', async (t) => {
  let parses = 0;
  const answer = {
    get json(): Record<string, unknown> {
      parses++;
      return { choices: [{ message: { content: 'hi', tool_calls: [{ id: 'c1', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'tool_calls' }] };
    },
  };
  const ledger = new RequestLedger('req-1', 'chat', route, 'champion', false, false, 'anonymous', {});
  ledger.respondedWith(summaryLater('chat', answer));
  t.equal(parses, 0, 'not parsed by responding');
  const summary = { content: 'hi', toolCalls: [{ id: 'c1', name: 'f', arguments: '{}' }], finishReason: 'tool_calls' };
  t.same(ledger.response, summary);
  t.same(ledger.response, summary);
  t.equal(parses, 1, 'parsed once, on first read');
});
