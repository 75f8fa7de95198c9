// The one table of provider types. Adding a provider type touches its folder and this file.
import type { Config, ProviderConfig } from '../config/types.js';
import type { Provider } from './types.js';
import { OpenAICompatibleProvider } from './openai/index.js';
import { SimulatorProvider } from './simulator/index.js';
import { AnthropicProvider } from './anthropic/index.js';

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

export function createProvider(name: string, config: ProviderConfig, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): Provider {
  switch (config.type) {
    case 'openai':
    case 'openai-compatible':
    case 'azure-openai':
      return new OpenAICompatibleProvider(name, config, connectTimeoutMs);
    case 'anthropic':
      return new AnthropicProvider(name, config, connectTimeoutMs);
    case 'simulator':
      return new SimulatorProvider(name);
  }
}

export function createProviders(config: Config): Map<string, Provider> {
  const out = new Map<string, Provider>();
  for (const [name, p] of Object.entries(config.providers)) out.set(name, createProvider(name, p, connectTimeoutFor(config, name, p)));
  return out;
}

/**
 * Sockets are pooled per provider, so the TCP/TLS connect timeout is a property of the provider's
 * pool: `providers.X.timeouts.connectMs`, else the strictest `timeouts.connectMs` of the routes that
 * use the provider, else 5 s.
 */
function connectTimeoutFor(config: Config, name: string, provider: ProviderConfig): number {
  if ('timeouts' in provider && provider.timeouts?.connectMs !== undefined) return provider.timeouts.connectMs;
  let min: number | undefined;
  for (const route of Object.values(config.routes)) {
    const uses = [route.champion, route.challenger].some((m) => m !== undefined && config.models[m]?.provider === name);
    if (uses) min = Math.min(min ?? Infinity, route.timeouts.connectMs);
  }
  return min ?? DEFAULT_CONNECT_TIMEOUT_MS;
}
