import { sameLengthConstantTimeEqual } from "../../platform/crypto.js";
import { RecentMap } from "../recent-map.js";

/**
 * A bounded memory of tokens whose signature and claims this node has already verified, so a token
 * presented again (an access token is typically presented many times in its five minutes) skips the
 * Ed25519 verification, which costs far more than everything else a validation does.
 *
 * What it does not change:
 * - a hit is the exact token string: a token differing in any character (a tampered payload,
 *   header or signature) is not answered from the map and is verified in full;
 * - only tokens that passed the full verification are stored, and an entry is dropped once its
 *   token has expired (`exp`, the same rule the verification applies), so a hit never outlives the token;
 * - revocation is not cached: the guard still reads the session row on every request.
 *
 * Beyond `maxEntries`, tokens not presented lately are forgotten (a RecentMap: a hit writes nothing).
 */
export interface CachedClaims {
  /** Seconds since the epoch, as in the token. */
  readonly exp: number;
}

/** Characters of the signature a token is filed under: 7 bits each, 28 in all, a small integer. */
const KEY_CHARACTERS = 4;

/**
 * The number a token is filed under: the first characters of its signature (after the last dot),
 * read as base64url. Signatures are uniformly random, so thousands of tokens rarely share one, and a
 * hit is checked against the whole token anyway (two tokens sharing a number take turns; neither is
 * ever answered for the other). A number, not the text: V8 finds a small integer in a Map without
 * comparing strings, where tokens of equal length (they all are) would each be compared in a runtime
 * call, which cost more than the rest of a validation's lookup.
 */
function keyOf(token: string): number {
  const start = token.lastIndexOf(".") + 1;
  let key = 0;
  for (let i = start; i < start + KEY_CHARACTERS && i < token.length; i++)
    key = key * 128 + (token.charCodeAt(i) & 127);
  return key;
}

export class VerifiedTokenCache<T extends CachedClaims> {
  readonly #entries: RecentMap<number, { token: string; kid: string; claims: T }>;

  constructor(readonly maxEntries: number) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) throw new RangeError("maxEntries must be ≥ 0");
    this.#entries = new RecentMap(maxEntries);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The claims of `token` if it was verified and has not expired at `nowMs`; undefined otherwise. */
  get(token: string, nowMs: number): { kid: string; claims: T } | undefined {
    const key = keyOf(token);
    const entry = this.#entries.get(key);
    // Compared in constant time: a presented token chooses which entry it is compared with.
    if (entry === undefined || !sameLengthConstantTimeEqual(entry.token, token)) return undefined;
    // Expired when exp ≤ now in whole seconds: the rule of the full verification (RFC 7519 §4.1.4).
    if (entry.claims.exp <= Math.floor(nowMs / 1000)) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Remembers a token that has just passed the full verification with the key `kid`. */
  set(token: string, kid: string, claims: T): void {
    this.#entries.set(keyOf(token), { token, kid, claims });
  }

  delete(token: string): void {
    const key = keyOf(token);
    const entry = this.#entries.get(key);
    if (entry !== undefined && sameLengthConstantTimeEqual(entry.token, token)) this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
