// De-duplication's memory: the last N input hashes, oldest forgotten first — checked against a plain
// Set + insertion list over long random runs, in tables small enough that probe runs collide, wrap
// around the end and get shifted back by deletions all the time.
import t from 'tap';
import { hash } from 'node:crypto';
import { RecentHashes } from '../../src/sampling/recent-hashes.js';

const sha = (text: string) => hash('sha256', text, 'hex');

/** A sha256-shaped hex key whose table slot (low bits of its second word) is `slot`. */
function keyAt(slot: number, id: number): string {
  const high = id.toString(16).padStart(8, '0');
  const low = ((id << 8) | slot).toString(16).padStart(8, '0');
  return high + low + sha(String(id)).slice(16);
}

t.test('remembers what was added, forgets the oldest beyond capacity', async (t) => {
  const recent = new RecentHashes(3);
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(sha) as [string, string, string, string];
  t.notOk(recent.has(a));
  recent.add(a);
  recent.add(b);
  recent.add(c);
  t.ok(recent.has(a) && recent.has(b) && recent.has(c));
  t.equal(recent.size, 3);
  recent.add(a); // already there: keeps its place, so it is still the oldest
  recent.add(d);
  t.notOk(recent.has(a), 'the oldest went');
  t.ok(recent.has(b) && recent.has(c) && recent.has(d));
  t.equal(recent.size, 3);
  t.ok(recent.has(d.toUpperCase()), 'hex digits in either case');
});

t.test('capacity 1 and a bad capacity', async (t) => {
  const one = new RecentHashes(1);
  one.add(sha('x'));
  one.add(sha('y'));
  t.notOk(one.has(sha('x')));
  t.ok(one.has(sha('y')));
  for (const bad of [0, -1, 1.5, Number.NaN]) t.throws(() => new RecentHashes(bad), RangeError, String(bad));
});

t.test('agrees with a Set and an insertion list through collisions, wrap-around and deletions', async (t) => {
  // mulberry32: seeded, so a failure reproduces.
  let seed = 7;
  const random = (n: number) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), seed | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 2 ** 32) * n);
  };
  for (const capacity of [1, 2, 5, 8, 13]) {
    const recent = new RecentHashes(capacity);
    const model: string[] = [];
    const slots = 2 ** Math.ceil(Math.log2(Math.max(2, capacity * 2)));
    // Few distinct slots, the last ones of the table among them: long shared probe runs that wrap.
    const crowded = [slots - 2, slots - 1, 0, 1];
    const keys = Array.from({ length: capacity * 4 }, (_, id) => keyAt(crowded[id % crowded.length] as number, id));
    let mismatches = 0;
    for (let step = 0; step < 4000; step++) {
      const key = keys[random(keys.length)] as string;
      if (random(3) === 0) {
        if (recent.has(key) !== model.includes(key)) mismatches++;
      } else {
        recent.add(key);
        if (!model.includes(key)) {
          model.push(key);
          if (model.length > capacity) model.shift();
        }
      }
      if (recent.size !== model.length) mismatches++;
    }
    t.equal(model.length, capacity, `capacity ${capacity}: filled`);
    for (const key of keys) if (recent.has(key) !== model.includes(key)) mismatches++;
    t.equal(mismatches, 0, `capacity ${capacity}`);
  }
});

t.test('real input hashes: 10,000 remembered, the 10,001st pushes out the first', async (t) => {
  const recent = new RecentHashes(10_000);
  const keys = Array.from({ length: 10_001 }, (_, i) => sha(`prompt ${i}`));
  for (const key of keys.slice(0, 10_000)) recent.add(key);
  t.ok(keys.slice(0, 10_000).every((k) => recent.has(k)));
  t.notOk(recent.has(sha('never added')));
  recent.add(keys[10_000] as string);
  t.notOk(recent.has(keys[0] as string));
  t.ok(recent.has(keys[1] as string) && recent.has(keys[10_000] as string));
});
