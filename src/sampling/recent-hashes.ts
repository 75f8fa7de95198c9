/**
 * The last `capacity` input hashes seen, oldest forgotten first: de-duplication's memory, asked
 * twice for every sampled record (the writer's "seen this raw input?", the JSONL store's "stored
 * this input?").
 *
 * Hand-written rather than lru-cache (which this replaced, with the same first-in-first-out
 * eviction: neither caller refreshes an entry): a Map of 64-character string keys cost the sampling
 * worker ~3 µs per record in place — hashing each fresh key string, walking the hash table's chains
 * and comparing strings, and the evictions' deletes. Here a hash is two 32-bit words in typed arrays:
 * no string is kept or hashed, a lookup reads one or two adjacent slots, and nothing is allocated
 * per call. Keys are sha256 digests in hex (`inputHash`), so their first 64 bits are as good as the
 * whole: the chance that some pair among 10,000 remembered inputs shares them is ~3·10⁻¹².
 */
export class RecentHashes {
  readonly #capacity: number;
  readonly #mask: number;
  /** Open addressing with linear probing; slot i holds words [2i] (high) and [2i + 1] (low). */
  readonly #slots: Uint32Array;
  readonly #used: Uint8Array;
  /** The remembered keys in insertion order, as a ring of the same word pairs. */
  readonly #order: Uint32Array;
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    // At most half full, so probe runs stay short.
    let slots = 2;
    while (slots < capacity * 2) slots *= 2;
    this.#capacity = capacity;
    this.#mask = slots - 1;
    this.#slots = new Uint32Array(slots * 2);
    this.#used = new Uint8Array(slots);
    this.#order = new Uint32Array(capacity * 2);
  }

  get size(): number {
    return this.#size;
  }

  has(hash: string): boolean {
    return this.#find(word(hash, 0), word(hash, 8)) >= 0;
  }

  /** Remembers `hash`, forgetting the oldest one when full; a hash already remembered keeps its place. */
  add(hash: string): void {
    const high = word(hash, 0);
    const low = word(hash, 8);
    if (this.#find(high, low) >= 0) return;
    const at = this.#next * 2;
    if (this.#size === this.#capacity) this.#remove(this.#order[at] as number, this.#order[at + 1] as number);
    else this.#size++;
    this.#order[at] = high;
    this.#order[at + 1] = low;
    this.#next = (this.#next + 1) % this.#capacity;
    let slot = low & this.#mask;
    while (this.#used[slot] === 1) slot = (slot + 1) & this.#mask;
    this.#put(slot, high, low);
  }

  #find(high: number, low: number): number {
    for (let slot = low & this.#mask; this.#used[slot] === 1; slot = (slot + 1) & this.#mask) {
      if (this.#slots[slot * 2 + 1] === low && this.#slots[slot * 2] === high) return slot;
    }
    return -1;
  }

  /** Backward-shift deletion: later entries of the probe run move up, so no tombstones pile up. */
  #remove(high: number, low: number): void {
    let hole = this.#find(high, low);
    if (hole < 0) return;
    for (let slot = (hole + 1) & this.#mask; this.#used[slot] === 1; slot = (slot + 1) & this.#mask) {
      const home = (this.#slots[slot * 2 + 1] as number) & this.#mask;
      // The entry may fill the hole only if the hole lies on its probe path (from home to here).
      if (((slot - home) & this.#mask) >= ((slot - hole) & this.#mask)) {
        this.#put(hole, this.#slots[slot * 2] as number, this.#slots[slot * 2 + 1] as number);
        hole = slot;
      }
    }
    this.#used[hole] = 0;
  }

  #put(slot: number, high: number, low: number): void {
    this.#slots[slot * 2] = high;
    this.#slots[slot * 2 + 1] = low;
    this.#used[slot] = 1;
  }
}

/** Eight hex digits from `from` as an unsigned 32-bit number. */
function word(hash: string, from: number): number {
  let value = 0;
  for (let i = from; i < from + 8; i++) {
    const c = hash.charCodeAt(i);
    // 0-9 → 0-9; a-f and A-F → 10-15 (`| 0x20` lower-cases a letter).
    value = (value << 4) | (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);
  }
  return value >>> 0;
}
