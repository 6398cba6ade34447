/**
 * Sets `key` as the newest entry of `map` (a Map keeps insertion order) and drops the oldest entries
 * beyond `max`. With a read that re-sets the entry it hits, this is a least-recently-used memory.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
}
