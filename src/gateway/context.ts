// What the request pipeline needs, built once per gateway instance in server.ts.
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { Provider } from '../providers/types.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { RolloutStore } from '../rollout/state.js';
import type { ClientAuthenticator } from './authenticate.js';
import type { RouteTable } from './route-table.js';
import type { CircuitBreakers } from './circuit-breaker.js';
import type { RequestLedger } from './ledger.js';
import type { Tracing } from '../telemetry/tracing.js';

/** Called after every finished inference request, off the response path; must not block. */
export type CompletionListener = (ledger: RequestLedger) => void;

export interface GatewayContext {
  config: Config;
  providers: Map<string, Provider>;
  metrics: Metrics;
  rollouts: RolloutStore;
  logger: Logger;
  clients: ClientAuthenticator;
  routes: RouteTable;
  breakers: CircuitBreakers;
  listeners: CompletionListener[];
  tracing: Tracing;
  /** Set when shutdown begins: new requests get a 503 (refuseWhileDraining in errors.ts). */
  draining: boolean;
}
