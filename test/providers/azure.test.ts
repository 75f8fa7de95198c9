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

  // Azure speaks the Responses API itself, on its v1 API only: /openai/v1/responses without an
  // api-version, the deployment named in the body (learn.microsoft.com/azure/ai-foundry/openai/how-to/responses).
  await client.responses.create({ model: 'chat', input: 'hi' }).catch(() => undefined);
  t.equal(upstream.requests[1]?.path, '/openai/v1/responses');
  t.equal(upstream.requests[1]?.body?.model, 'gpt4o-mini-prod', 'the deployment goes in model');
  t.equal(upstream.requests[1]?.headers['api-key'], 'azure-secret-key');
});

t.test('azure-openai: a baseUrl given with its /openai suffix reaches the same URLs', async (t) => {
  const upstream = await new FakeUpstream().start();
  const gw = await startTestGateway(`
providers:
  azure: { type: azure-openai, baseUrl: "${upstream.url}/openai/", apiKey: azure-secret-key, apiVersion: 2024-10-21 }
  azure-v1: { type: azure-openai, baseUrl: "${upstream.url}/openai/v1", apiKey: azure-secret-key, apiVersion: 2024-10-21 }
models:
  prod: { provider: azure, upstreamModel: gpt4o-mini-prod }
  prod-v1: { provider: azure-v1, upstreamModel: gpt4o-mini-prod }
routes:
  chat: { champion: prod }
  chat-v1: { champion: prod-v1 }
`);
  t.teardown(async () => {
    await gw.close();
    await upstream.close();
  });
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
  for (const route of ['chat', 'chat-v1']) {
    const res = await client.chat.completions.create({ model: route, messages: [{ role: 'user', content: 'Hello Turin' }] });
    t.ok(res.choices[0]?.message.content?.includes('Turin'), `${route}: answered`);
    t.equal(upstream.requests.at(-1)?.path, '/openai/deployments/gpt4o-mini-prod/chat/completions?api-version=2024-10-21', `${route}: no doubled /openai`);
    await client.responses.create({ model: route, input: 'hi' }).catch(() => undefined);
    t.equal(upstream.requests.at(-1)?.path, '/openai/v1/responses', `${route}: Responses API on the v1 path`);
  }
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
