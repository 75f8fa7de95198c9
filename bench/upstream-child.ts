// The fake OpenAI upstream(s) for the bench, in their own process. argv[2]: JSON
// `[{ "name": "fast", "simulation": {...} }, ...]` — one FakeUpstream (own port) per entry, because a
// FakeUpstream's timing is per server, not per model.
import { FakeUpstream } from '../src/simulator/http-server.js';
import type { Simulation } from '../src/config/types.js';
import { exitWithParent, sendReady } from './ipc.js';

export interface UpstreamSpec {
  name: string;
  simulation: Simulation;
}

const specs = JSON.parse(process.argv[2] ?? '[]') as UpstreamSpec[];
const servers = await Promise.all(specs.map((s) => new FakeUpstream({ simulation: s.simulation, record: 0 }).start()));
exitWithParent(async () => {
  await Promise.all(servers.map((s) => s.close()));
});
sendReady(Object.fromEntries(specs.map((s, i) => [s.name, servers[i]?.url ?? ''])));
