// The one table of provider types. Adding a provider type touches its folder and this file.
import type { Config, ProviderConfig } from '../config/types.js';
import type { Provider } from './types.js';
import { OpenAICompatibleProvider } from './openai/index.js';
import { SimulatorProvider } from './simulator/index.js';

export function createProvider(name: string, config: ProviderConfig): Provider {
  switch (config.type) {
    case 'openai':
    case 'openai-compatible':
    case 'azure-openai':
      return new OpenAICompatibleProvider(name, config);
    case 'simulator':
      return new SimulatorProvider(name);
    case 'anthropic':
      throw new Error(`provider "${name}": type anthropic is not available in this build`);
  }
}

export function createProviders(config: Config): Map<string, Provider> {
  const out = new Map<string, Provider>();
  for (const [name, p] of Object.entries(config.providers)) out.set(name, createProvider(name, p));
  return out;
}
