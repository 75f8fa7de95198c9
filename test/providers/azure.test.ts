// `type: azure-openai`: deployment URLs, the api-key header and api-version, for chat and (natively)
// the Responses API; OpenAI-compatible servers get the Responses API translated through chat.
import t from 'tap';
import OpenAI from 'openai';
import { FakeUpstream } from '../../src/simulator/http-server.js';
import { startTestGateway } from '../helpers/gateway.js';

t.test('azure-openai: deployment path, api-key, api-version', async (t) => {
  const upstream = await new FakeUpstream().start();
  const gw = await startTestGateway(`
providers: { azure: { type: azure-openai, baseUrl: "${upstream.url}", apiKey: "\${AZURE_KEY}", apiVersion: 2024-10-21 } }
models: { prod: { provider: azure, upstreamModel: gpt4o-mini-prod } }
routes: { chat: { champion: prod } }
`, { AZURE_KEY: 'azure-secret-key' });
  t.teardown(async () => {
    await gw.close();
    await upstream.close();
  });
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
  const stream = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Hello Turin' }], stream: true });
  let text = '';
  for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
  t.ok(text.includes('Turin'));
  const sent = upstream.requests[0];
  t.equal(sent?.path, '/openai/deployments/gpt4o-mini-prod/chat/completions?api-version=2024-10-21');
  t.equal(sent?.headers['api-key'], 'azure-secret-key');
  t.equal(sent?.headers.authorization, undefined, "the client's key never reaches the upstream");
  t.same(sent?.body?.stream_options, { include_usage: true });

  // Azure speaks the Responses API itself: forwarded to the deployment's /responses.
  await client.responses.create({ model: 'chat', input: 'hi' }).catch(() => undefined);
  t.equal(upstream.requests[1]?.path, '/openai/deployments/gpt4o-mini-prod/responses?api-version=2024-10-21');
});

t.test('openai-compatible: /v1/responses is translated through chat completions', async (t) => {
  const upstream = await new FakeUpstream().start();
  const gw = await startTestGateway(`
providers: { vllm: { type: openai-compatible, baseUrl: "${upstream.url}/v1" } }
models: { llama: { provider: vllm, upstreamModel: meta-llama/Llama-3.1-8B-Instruct } }
routes: { chat: { champion: llama } }
`);
  t.teardown(async () => {
    await gw.close();
    await upstream.close();
  });
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const res = await client.responses.create({ model: 'chat', input: 'Hello Turin', max_output_tokens: 200 });
  t.ok(res.output_text.includes('Turin'));
  t.equal(upstream.requests[0]?.path, '/v1/chat/completions');
  t.same(upstream.requests[0]?.body?.messages, [{ role: 'user', content: 'Hello Turin' }]);
  t.equal(upstream.requests[0]?.body?.max_completion_tokens, 200);
});
