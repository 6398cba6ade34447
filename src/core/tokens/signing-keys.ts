import type { JWK } from "jose";
import { exportJWK } from "jose";
import type { Clock } from "../../platform/clock.js";
import {
  generateEd25519,
  generateRsa,
  type KeyObject,
  privateKeyFromPem,
  publicKeyFromPem,
} from "../../platform/crypto.js";
import type { Random } from "../../platform/random.js";
import type { SigningAlgorithm, SigningKeyRecord, Store } from "../../storage/store.js";
import type { Logger } from "../logger.js";
import { type Keyring, SecretDecryptError } from "../secrets/keyring.js";

export interface LoadedKey {
  kid: string;
  alg: SigningAlgorithm;
  createdAt: number;
  /** From when this key signs (ms since the epoch); it is published from the moment it is loaded. */
  activatesAt: number;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: JWK;
}

/** How often every node reads the key table again: well within the 60 s the contract allows (§2). */
export const KEY_RELOAD_INTERVAL_MS = 30_000;

/** How long a client may keep the JWKS before it fetches it again (`Cache-Control: max-age`). */
export const JWKS_MAX_AGE_SECONDS = 300;

/** Room for clocks of different nodes that disagree, and for a reload that is slow to answer. */
const ACTIVATION_MARGIN_MS = 30_000;

/**
 * A rotated key signs only this long after it was stored: by then every node has reloaded it (one
 * interval) and every client that fetched a JWKS just before that has fetched it again (max-age).
 */
export const ACTIVATION_DELAY_MS = KEY_RELOAD_INTERVAL_MS + JWKS_MAX_AGE_SECONDS * 1000 + ACTIVATION_MARGIN_MS;

/** How long an unknown `kid` keeps us from asking the database again (bounds a flood of forged kids). */
const UNKNOWN_KID_RELOAD_MS = 10_000;

/** Kept after a key's successor took over, beyond the longest token lifetime, for clocks that differ. */
const PRUNE_MARGIN_MS = 60_000;

/** Whether a stored private key is a plain PEM, as versions before sealing stored it (sealed: `v1.…`). */
export function storedInClear(privateKeyEnc: string): boolean {
  return privateKeyEnc.startsWith("-----BEGIN ");
}

/** The aad a key's private part is sealed under, so the sealed value opens as this key's only. */
export function signingKeyAad(kid: string): string {
  return `signing-key:${kid}`;
}

/** A stored signing key that no configured encryption key opens. Names the key, never its contents. */
export class UnreadableSigningKeyError extends Error {
  constructor(kid: string) {
    super(
      `signing key ${kid} cannot be opened with LATCHKEY_ENCRYPTION_KEYS: the encryption key it was sealed ` +
        "with is not configured, or the stored value is damaged",
    );
    this.name = "UnreadableSigningKeyError";
  }
}

/**
 * The signing keys (§2): Ed25519 for Latchkey's own tokens and, once the OpenID provider asks for it,
 * RSA for its ID tokens. They live in the database so every node signs and verifies with the same
 * set, their private parts sealed with the encryption keyring. Every loaded key is published; the
 * one that signs, per algorithm, is the newest whose activation time has passed. Each node reloads
 * the set on a timer (`refresh`), so a key rotated or pruned anywhere reaches it within one
 * interval; a `kid` this node has not seen also triggers a reload, at most every ten seconds.
 */
export class SigningKeys {
  #keys = new Map<string, LoadedKey>();
  /** The loaded keys, the last to activate first. */
  #byActivation: LoadedKey[] = [];
  #lastReloadAt = Number.NEGATIVE_INFINITY;
  #refreshing: Promise<void> | undefined;
  #version = 0;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly keyring: Keyring,
    private readonly logger?: Pick<Logger, "warn">,
  ) {}

  /**
   * Loads the keys, creating the first one, active at once, when the database has none. Throws
   * UnreadableSigningKeyError when a stored key cannot be opened: a node does not start without it.
   */
  async init(): Promise<void> {
    await this.reload();
    await this.ensure("EdDSA");
  }

  /** Creates the first key of `alg`, active at once, when the database has none of it. */
  async ensure(alg: SigningAlgorithm): Promise<void> {
    if (this.#byActivation.some((key) => key.alg === alg)) return;
    // Of nodes starting together one creates it; the others load that one.
    await this.store.insertFirstSigningKey(this.#newKey(alg, this.clock.now()));
    await this.reload();
  }

  /** Moves on whenever the set of loaded keys changes: what was built from the keys is stale. */
  get version(): number {
    return this.#version;
  }

  async reload(): Promise<void> {
    this.#lastReloadAt = this.clock.now();
    const records = await this.store.listSigningKeys();
    const keys = new Map<string, LoadedKey>();
    for (const record of records) keys.set(record.kid, this.#keys.get(record.kid) ?? (await this.#open(record)));
    const changed = keys.size !== this.#keys.size || [...keys.keys()].some((kid) => !this.#keys.has(kid));
    this.#keys = keys;
    if (changed) this.#version += 1;
    this.#byActivation = [...keys.values()].sort(
      (a, b) => b.activatesAt - a.activatesAt || b.createdAt - a.createdAt || b.kid.localeCompare(a.kid),
    );
  }

  /**
   * What the reload timer runs: a reload that never throws. When the key table cannot be read the
   * node keeps signing and verifying with the keys it has, and says why. One reload at a time.
   */
  refresh(): Promise<void> {
    this.#refreshing ??= this.reload()
      .catch((error: unknown) => {
        const reason = error instanceof Error ? error.message : String(error);
        this.logger?.warn({ reason }, "signing keys could not be reloaded; keeping the keys loaded before");
      })
      .finally(() => {
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }

  /**
   * Stores a new Ed25519 key (and a new RSA key where the provider has one), published at once and
   * signing from `activatesAt` (ACTIVATION_DELAY_MS from now), when every node and every client's
   * cached JWKS know it. Old keys stay until `prune`. Returns the Ed25519 key's id and activation.
   */
  async rotate(): Promise<{ kid: string; activatesAt: number }> {
    await this.reload();
    const algs = new Set<SigningAlgorithm>(["EdDSA", ...this.#byActivation.map((key) => key.alg)]);
    let rotated: { kid: string; activatesAt: number } | undefined;
    for (const alg of algs) {
      // Later than every key of its algorithm, so the new one is the newest even if rotated twice in a row.
      const latest = this.#byActivation.find((key) => key.alg === alg)?.activatesAt ?? Number.NEGATIVE_INFINITY;
      const activatesAt = Math.max(this.clock.now() + ACTIVATION_DELAY_MS, latest + 1);
      const key = this.#newKey(alg, activatesAt);
      await this.store.insertSigningKey(key);
      if (alg === "EdDSA") rotated = { kid: key.kid, activatesAt };
    }
    await this.reload();
    if (!rotated) throw new Error("no Ed25519 key was rotated");
    return rotated;
  }

  #newKey(alg: SigningAlgorithm, activatesAt: number): SigningKeyRecord {
    const pair = alg === "RS256" ? generateRsa() : generateEd25519();
    const kid = this.random.bytes(12).toString("base64url");
    return {
      kid,
      alg,
      privateKeyEnc: this.keyring.encrypt(Buffer.from(pair.privatePem), signingKeyAad(kid), this.random),
      publicPem: pair.publicPem,
      createdAt: this.clock.now(),
      activatesAt,
    };
  }

  /** Unseals a stored key; one stored in clear (before keys were sealed) is sealed on the way. */
  async #open(record: SigningKeyRecord): Promise<LoadedKey> {
    const aad = signingKeyAad(record.kid);
    if (storedInClear(record.privateKeyEnc)) {
      const pem = record.privateKeyEnc;
      const sealed = this.keyring.encrypt(Buffer.from(pem), aad, this.random);
      // Conditional on the row still holding the plain PEM: of nodes starting together, one seals it.
      await this.store.swapSigningKeyPrivate({ kid: record.kid, from: pem, to: sealed });
      return load(record, pem);
    }
    try {
      return load(record, this.keyring.decrypt(record.privateKeyEnc, aad).toString("utf8"));
    } catch (error) {
      if (error instanceof SecretDecryptError) throw new UnreadableSigningKeyError(record.kid);
      throw error;
    }
  }

  /**
   * Drops the keys whose successor took over longer ago than the longest token lifetime: nothing
   * they signed is valid any more. The key that signs now and keys not yet active always stay.
   */
  async prune(maxTokenLifetimeSeconds: number): Promise<number> {
    const removed = await this.store.deleteSigningKeysRetiredBefore(
      this.clock.now() - maxTokenLifetimeSeconds * 1000 - PRUNE_MARGIN_MS,
    );
    await this.reload();
    return removed;
  }

  /** The key of `alg` that signs now: the newest of it whose activation time has passed. */
  active(alg: SigningAlgorithm = "EdDSA"): LoadedKey {
    const now = this.clock.now();
    let soonest: LoadedKey | undefined;
    for (const key of this.#byActivation) {
      if (key.alg !== alg) continue;
      if (key.activatesAt <= now) return key;
      soonest = key;
    }
    // Only when the keys in force were deleted by hand: sign with the one due first rather than not at all.
    if (!soonest) throw new Error(`no ${alg} signing key loaded`);
    return soonest;
  }

  /** Every loaded key, the last to activate first. */
  all(): readonly LoadedKey[] {
    return this.#byActivation;
  }

  /** Whether `kid` is among the keys loaded now (no reload). */
  has(kid: string): boolean {
    return this.#keys.has(kid);
  }

  /** The key for `kid`, reloading once if another node may have created it. */
  async find(kid: string): Promise<LoadedKey | undefined> {
    const known = this.#keys.get(kid);
    if (known) return known;
    if (this.clock.now() - this.#lastReloadAt < UNKNOWN_KID_RELOAD_MS) return undefined;
    await this.reload();
    return this.#keys.get(kid);
  }

  /** Every loaded key, including those not signing yet, so verifiers know them before they are used. */
  jwks(): { keys: JWK[] } {
    return { keys: [...this.#keys.values()].map((k) => k.jwk) };
  }
}

async function load(record: SigningKeyRecord, privatePem: string): Promise<LoadedKey> {
  const publicKey = publicKeyFromPem(record.publicPem);
  const jwk = { ...(await exportJWK(publicKey)), kid: record.kid, alg: record.alg, use: "sig" };
  return {
    kid: record.kid,
    alg: record.alg,
    createdAt: record.createdAt,
    activatesAt: record.activatesAt,
    privateKey: privateKeyFromPem(privatePem),
    publicKey,
    jwk,
  };
}
