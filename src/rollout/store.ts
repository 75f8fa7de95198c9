// Which rollout store a gateway uses: Redis when `state.redis` (or $REDIS_URL) is set, so every
// replica shares one rollout; otherwise memory, for a single replica with nothing else to run.
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { MemoryRolloutStore } from './memory-store.js';
import { RedisRolloutStore } from './redis-store.js';
import type { RolloutStore } from './state.js';

export function createRolloutStore(config: Config, logger: Logger): RolloutStore {
  const { redis, keyPrefix, staleAfterSeconds, resyncIntervalMs } = config.state;
  if (redis === undefined) return new MemoryRolloutStore(config);
  return new RedisRolloutStore(config, { url: redis, keyPrefix, staleAfterSeconds, resyncIntervalMs, logger });
}

/** Seconds since the store last synced, for bellwether_rollout_state_age_seconds. */
export function stateAgeSeconds(store: RolloutStore, nowMs = Date.now()): number {
  const health = store.health();
  if (health.backend === 'memory') return 0;
  return health.lastSyncAt === undefined ? Number.POSITIVE_INFINITY : Math.max(0, (nowMs - Date.parse(health.lastSyncAt)) / 1000);
}
