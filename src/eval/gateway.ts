/**
 * Without `--url`, the eval starts the gateway in-process from a config file, so the worked example
 * and CI need nothing running. It listens on a random loopback port and logs only warnings: the
 * eval's own output is the report.
 */
import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/types.js';
import { startGateway } from '../server.js';
import { createLogger } from '../telemetry/logger.js';

export interface GatewayHandle {
  url: string;
  /** The config it serves: which model answers each route and arm (the cache key needs it). */
  config: Config;
  close(): Promise<void>;
}

export function defaultConfigPath(explicit?: string): string {
  return explicit ?? process.env.BELLWETHER_CONFIG ?? 'config/default.yaml';
}

/** Throws ConfigError (with `.lines`) for an invalid config; the CLI maps it to exit 3. */
export async function inProcessGateway(configFile: string): Promise<GatewayHandle> {
  const config = loadConfigFile(configFile);
  const gw = await startGateway({ config, port: 0, host: '127.0.0.1', logger: createLogger('warn') });
  return { url: gw.url, config, close: () => gw.close() };
}
