import { setBounded } from "../bounded-map.js";

/**
 * A bounded memory of tokens whose signature and claims this node has already verified, so a token
 * presented again (an access token is typically presented many times in its five minutes) skips the
 * Ed25519 verification, which costs far more than everything else a validation does.
 *
 * What it does not change:
 * - the key is the exact token string: a token differing in any character (a tampered payload,
 *   header or signature) is not in the map and is verified in full;
 * - only tokens that passed the full verification are stored, and an entry is dropped once its
 *   token has expired (`exp`, the same rule the verification applies), so a hit never outlives the token;
 * - revocation is not cached: the guard still reads the session row on every request.
 *
 * Least recently used entries are evicted beyond `maxEntries` (a Map keeps insertion order; a hit
 * re-inserts its entry at the end).
 */
export interface CachedClaims {
  /** Seconds since the epoch, as in the token. */
  readonly exp: number;
}

export class VerifiedTokenCache<T extends CachedClaims> {
  readonly #entries = new Map<string, { kid: string; claims: T }>();

  constructor(readonly maxEntries: number) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) throw new RangeError("maxEntries must be ≥ 0");
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The claims of `token` if it was verified and has not expired at `nowMs`; undefined otherwise. */
  get(token: string, nowMs: number): { kid: string; claims: T } | undefined {
    const entry = this.#entries.get(token);
    if (entry === undefined) return undefined;
    this.#entries.delete(token);
    // Expired when exp ≤ now in whole seconds: the rule of the full verification (RFC 7519 §4.1.4).
    if (entry.claims.exp <= Math.floor(nowMs / 1000)) return undefined;
    this.#entries.set(token, entry);
    return entry;
  }

  /** Remembers a token that has just passed the full verification with the key `kid`. */
  set(token: string, kid: string, claims: T): void {
    if (this.maxEntries === 0) return;
    setBounded(this.#entries, token, { kid, claims }, this.maxEntries);
  }

  delete(token: string): void {
    this.#entries.delete(token);
  }

  clear(): void {
    this.#entries.clear();
  }
}
