import type { JWK } from "jose";
import { exportJWK } from "jose";

import type { Clock } from "../../platform/clock.js";
import { generateEd25519, type KeyObject, privateKeyFromPem, publicKeyFromPem } from "../../platform/crypto.js";
import type { Random } from "../../platform/random.js";
import type { SigningKeyRecord, Store } from "../../storage/store.js";

export interface LoadedKey {
  kid: string;
  createdAt: number;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: JWK;
}

/** How long an unknown `kid` keeps us from asking the database again (bounds a flood of forged kids). */
const RELOAD_INTERVAL_MS = 10_000;

/**
 * The Ed25519 signing keys (§2). They live in the database so every node signs and verifies with the
 * same set; the newest is active. A `kid` this node has not seen (another node rotated) triggers one
 * reload, at most every ten seconds.
 */
export class SigningKeys {
  #keys = new Map<string, LoadedKey>();
  #active: LoadedKey | undefined;
  #lastReloadAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly random: Random,
  ) {}

  /** Loads the keys, creating the first one when the database has none. */
  async init(): Promise<void> {
    await this.reload();
    if (!this.#active) {
      await this.rotate();
    }
  }

  async reload(): Promise<void> {
    this.#lastReloadAt = this.clock.now();
    const records = await this.store.listSigningKeys();
    const keys = new Map<string, LoadedKey>();
    for (const record of records) keys.set(record.kid, this.#keys.get(record.kid) ?? (await load(record)));
    this.#keys = keys;
    this.#active = [...keys.values()].sort((a, b) => a.createdAt - b.createdAt || a.kid.localeCompare(b.kid)).at(-1);
  }

  /** Makes a new key active. Old keys stay until `prune` drops them. Returns the new kid. */
  async rotate(): Promise<string> {
    const pair = generateEd25519();
    const record: SigningKeyRecord = {
      kid: this.random.bytes(12).toString("base64url"),
      privatePem: pair.privatePem,
      publicPem: pair.publicPem,
      // Strictly newer than the current key, so the new one is the active one even within one millisecond.
      createdAt: Math.max(this.clock.now(), (this.#active?.createdAt ?? 0) + 1),
    };
    await this.store.insertSigningKey(record);
    await this.reload();
    return record.kid;
  }

  /** Drops keys retired longer ago than the longest token lifetime: nothing they signed is valid any more. */
  async prune(maxTokenLifetimeSeconds: number): Promise<number> {
    const active = this.active();
    const removed = await this.store.deleteSigningKeysBefore(
      this.clock.now() - maxTokenLifetimeSeconds * 1000 - 60_000,
      active.kid,
    );
    await this.reload();
    return removed;
  }

  active(): LoadedKey {
    if (!this.#active) throw new Error("signing keys not initialised");
    return this.#active;
  }

  /** Whether `kid` is among the keys loaded now (no reload). */
  has(kid: string): boolean {
    return this.#keys.has(kid);
  }

  /** The key for `kid`, reloading once if another node may have created it. */
  async find(kid: string): Promise<LoadedKey | undefined> {
    const known = this.#keys.get(kid);
    if (known) return known;
    if (this.clock.now() - this.#lastReloadAt < RELOAD_INTERVAL_MS) return undefined;
    await this.reload();
    return this.#keys.get(kid);
  }

  jwks(): { keys: JWK[] } {
    return { keys: [...this.#keys.values()].map((k) => k.jwk) };
  }
}

async function load(record: SigningKeyRecord): Promise<LoadedKey> {
  const publicKey = publicKeyFromPem(record.publicPem);
  const jwk = { ...(await exportJWK(publicKey)), kid: record.kid, alg: "EdDSA", use: "sig" };
  return {
    kid: record.kid,
    createdAt: record.createdAt,
    privateKey: privateKeyFromPem(record.privatePem),
    publicKey,
    jwk,
  };
}
