import t from 'tap';
import { CheckConfigError, compileCheck } from '../../src/checks/index.js';
import type { CheckSpec } from '../../src/checks/index.js';
import { check } from './fixtures/check.js';

t.test('finish-reason', async (t) => {
  const stop = { name: 'finished', type: 'finish-reason', value: 'stop' } satisfies CheckSpec;
  t.match(check(stop, { output: 'hi', finishReason: 'stop' }), { result: 'pass', score: 1 });
  t.match(check(stop, { output: 'hi', finishReason: 'length' }), { result: 'fail', score: 0, reason: 'finish reason "length", expected "stop"' });
  t.match(check(stop, { output: 'hi', finishReason: null }), { result: 'fail', reason: /no finish reason reported/ });
  t.match(check(stop, 'hi'), { result: 'fail' });
  const either = { name: 'finished', type: 'finish-reason', values: ['stop', 'tool_calls'] } satisfies CheckSpec;
  t.match(check(either, { output: '', finishReason: 'tool_calls' }), { result: 'pass' });
  t.throws(() => compileCheck({ name: 'f', type: 'finish-reason' }), CheckConfigError);
});

t.test('tool-called', async (t) => {
  const weather = { name: 'calls_weather', type: 'tool-called', tool: 'get_weather', requiredArgs: ['city', 'unit'] } satisfies CheckSpec;
  const call = (name: string, args: string) => ({ output: '', toolCalls: [{ name, arguments: args }] });

  t.match(check(weather, call('get_weather', '{"city":"Paris","unit":"C"}')), { result: 'pass', score: 1, reason: 'called "get_weather"' });
  t.match(check(weather, call('get_weather', '{"city":"Paris"}')), { result: 'fail', reason: /lack "unit"/ });
  t.match(check(weather, call('get_weather', '{"city":"Par')), { result: 'fail', reason: /not valid JSON/ }, 'truncated arguments');
  t.match(check(weather, call('get_weather', '["Paris"]')), { result: 'fail', reason: /not a JSON object/ });
  t.match(check(weather, call('get_time', '{}')), { result: 'fail', reason: '"get_weather" not called (called: get_time)' });
  t.match(check(weather, 'It is sunny.'), { result: 'fail', reason: '"get_weather" not called' });

  const twice = { output: '', toolCalls: [{ name: 'get_weather', arguments: '{}' }, { name: 'get_weather', arguments: '{"city":"a","unit":"F"}' }] };
  t.match(check(weather, twice), { result: 'pass' }, 'any matching call is enough');

  t.match(check({ name: 'any_tool', type: 'tool-called' }, call('x', '')), { result: 'pass' }, 'empty arguments mean no arguments');
  t.match(check({ name: 'any_tool', type: 'tool-called' }, { output: 'text', toolCalls: [] }), { result: 'fail', reason: 'no tool was called' });
  t.throws(() => compileCheck({ name: 'x', type: 'tool-called', tool: '' }), CheckConfigError);
});
