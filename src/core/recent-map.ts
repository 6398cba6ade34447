/**
 * A bounded memory that keeps what is used and forgets what is not, for the hot paths (verified
 * tokens, session statuses, prepared statements) where a strict least-recently-used order would cost
 * a delete and a re-insert on every hit.
 *
 * Two generations: new entries go into the young one; when it holds half the bound, it becomes the
 * old one and the previous old one is dropped whole. A hit in the young generation writes nothing; a
 * hit in the old one moves the entry to the young. So an entry used at least once per half-bound of
 * insertions stays, and one unused for two generations is gone. Never more than `max` entries.
 */
export class RecentMap<K, V> {
  #young = new Map<K, V>();
  #old = new Map<K, V>();
  readonly #youngLimit: number;

  constructor(readonly max: number) {
    if (!Number.isSafeInteger(max) || max < 0) throw new RangeError("max must be a whole number ≥ 0");
    this.#youngLimit = Math.max(1, Math.ceil(max / 2));
  }

  get size(): number {
    return this.#young.size + this.#old.size;
  }

  get(key: K): V | undefined {
    const young = this.#young.get(key);
    if (young !== undefined || this.#old.size === 0) return young;
    const old = this.#old.get(key);
    if (old === undefined) return undefined;
    this.#old.delete(key);
    this.#insert(key, old);
    return old;
  }

  has(key: K): boolean {
    return this.#young.has(key) || this.#old.has(key);
  }

  set(key: K, value: V): void {
    if (this.max === 0) return;
    if (this.#young.has(key)) {
      this.#young.set(key, value);
      return;
    }
    this.#old.delete(key);
    this.#insert(key, value);
  }

  delete(key: K): boolean {
    const young = this.#young.delete(key);
    return this.#old.delete(key) || young;
  }

  clear(): void {
    this.#young.clear();
    this.#old.clear();
  }

  /** Every entry, the old generation first. */
  *entries(): IterableIterator<[K, V]> {
    yield* this.#old;
    yield* this.#young;
  }

  #insert(key: K, value: V): void {
    if (this.#young.size >= this.#youngLimit) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
    // An odd bound: the two halves together may hold one more than it, the oldest of the old goes.
    while (this.size > this.max) {
      const oldest = this.#old.keys().next();
      if (oldest.done) break;
      this.#old.delete(oldest.value);
    }
  }
}
