// The request-id cache behind feedback: bounded by count and age; full requests held for fewer.
import t from 'tap';
import { MemoryRecentResponses, type RecentEntry } from '../../src/sampling/recent-responses.js';
import type { RequestLedger } from '../../src/gateway/ledger.js';

const entry = (n: number, withLedger = true): RecentEntry => ({
  route: 'demo',
  variant: n % 2 ? 'challenger' : 'champion',
  model: 'm',
  at: 0,
  ...(withLedger ? { ledger: { requestId: `r${n}` } as unknown as RequestLedger } : {}),
});

t.test('attribution outlives the held request; both are bounded', async (t) => {
  let now = 0;
  const cache = new MemoryRecentResponses(1000, 3, () => now, 2);
  for (let n = 1; n <= 4; n++) cache.remember(`r${n}`, entry(n));
  t.equal(await cache.lookup('r1'), undefined, 'oldest attribution evicted past maxEntries');
  t.match(await cache.lookup('r2'), { route: 'demo', variant: 'champion' });
  t.equal((await cache.lookup('r2'))?.ledger, undefined, 'its full request was released past maxHeld');
  t.ok((await cache.lookup('r4'))?.ledger, 'recent requests stay held for late negative feedback');
  now = 1001;
  t.equal(await cache.lookup('r4'), undefined, 'expired after the TTL');
});
