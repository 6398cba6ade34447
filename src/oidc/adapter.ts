import { type Adapter, type AdapterFactory, type AdapterPayload, errors } from "oidc-provider";
import type { Keyring } from "../core/secrets/keyring.js";
import type { Clock } from "../platform/clock.js";
import { sha256Hex } from "../platform/crypto.js";
import type { Random } from "../platform/random.js";
import type { OidcPayloadRecord, OidcPayloadStore } from "../storage/store.js";

/**
 * oidc-provider's storage adapter over the Store (one `oidc_payloads` table on SQLite and
 * PostgreSQL), for the provider's `adapter` configuration option: a factory `(modelName) => Adapter`,
 * which oidc-provider 9 accepts beside a constructor (lib/helpers/initialize_adapter.js).
 *
 * - **Ids only hashed.** Rows are keyed by model and the SHA-256 of the artifact's id (codes, tokens
 *   and session ids are bearer secrets), and the id is taken out of the stored payload: find(id) is
 *   handed it again. Sessions and device codes are also found by uid or user code, which cannot give
 *   the id back: theirs is kept sealed with the encryption keyring, bound to its row.
 * - **Atomic consumption.** consume() is one conditional UPDATE; its loser (a concurrent or later
 *   second use of a code or rotated refresh token) revokes the artifact's whole grant and throws
 *   invalid_grant, whatever `consumed` the provider saw when it read the artifact.
 * - **Time** is the injected clock's: an artifact past its expiry (plus the clock tolerance) is not
 *   found, and is deleted by the store's purge.
 * - **Clients are not stored here** (they have their own table): the model `Client` takes the
 *   adapter given in `options.models.Client`; without one, building it throws.
 */

export interface OidcAdapterOptions {
  /** Seals the ids of sessions and device codes (found by uid or user code, so kept recoverable). */
  keyring: Keyring;
  random: Random;
  /**
   * oidc-provider's `clockTolerance` (seconds; its default is 15): artifacts stay findable that much
   * past their expiry, as the provider still accepts them then (a replay-detection entry dropped
   * earlier would let a replay through).
   */
  clockToleranceSeconds?: number;
  /** Adapters for models stored elsewhere, by model name: `Client` is the one expected. */
  models?: Readonly<Record<string, Adapter>>;
}

/** Where the stored payload says what became of its `jti`: `true` (it was the id) or the id sealed. */
const JTI_MARK = "latchkey:jti";

/** The one model oidc-provider calls consume() on outside the token endpoint. */
const PUSHED_AUTHORIZATION_REQUEST = "PushedAuthorizationRequest";

export function oidcAdapterFactory(store: OidcPayloadStore, clock: Clock, options: OidcAdapterOptions): AdapterFactory {
  const toleranceMs = (options.clockToleranceSeconds ?? 15) * 1000;
  return (name) => {
    const override = options.models?.[name];
    if (override) return override;
    if (name === "Client") {
      throw new Error(
        "oidc adapter: clients are not stored in oidc_payloads; pass their adapter as options.models.Client",
      );
    }
    return new PayloadAdapter(name, store, clock, options.keyring, options.random, toleranceMs);
  };
}

class PayloadAdapter implements Adapter {
  constructor(
    private readonly model: string,
    private readonly store: OidcPayloadStore,
    private readonly clock: Clock,
    private readonly keyring: Keyring,
    private readonly random: Random,
    private readonly toleranceMs: number,
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const idHash = sha256Hex(id);
    const uid = typeof payload.uid === "string" ? payload.uid : null;
    const userCode = typeof payload.userCode === "string" ? payload.userCode : null;
    // consumed_at is the column's alone: a `consumed` in the payload is not kept.
    const { consumed: _consumed, ...stored } = payload as AdapterPayload & Record<string, unknown>;
    if (stored.jti === id) {
      delete stored.jti;
      stored[JTI_MARK] = uid === null && userCode === null ? true : this.seal(id, idHash);
    }
    await this.store.upsertOidcPayload({
      model: this.model,
      idHash,
      payload: JSON.stringify(stored),
      grantId: typeof payload.grantId === "string" ? payload.grantId : null,
      uidHash: uid === null ? null : sha256Hex(uid),
      userCode,
      expiresAt: typeof expiresIn === "number" ? this.clock.now() + expiresIn * 1000 + this.toleranceMs : null,
    });
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.revive(await this.store.findOidcPayload(this.model, sha256Hex(id)), id);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.revive(await this.store.findOidcPayloadByUid(this.model, sha256Hex(uid)));
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.revive(await this.store.findOidcPayloadByUserCode(this.model, userCode));
  }

  /**
   * The gate of single use: the store's conditional UPDATE lets one caller through. Every other
   * caller (the row was already consumed, maybe a moment ago by a concurrent request, or is gone)
   * revokes the grant, taking the winner's tokens with it, and is refused.
   */
  async consume(id: string): Promise<void> {
    const idHash = sha256Hex(id);
    if (await this.store.consumeOidcPayload(this.model, idHash, this.clock.now())) return;
    const row = await this.store.findOidcPayload(this.model, idHash);
    if (row?.grantId) await this.store.revokeOidcGrant(row.grantId);
    if (this.model === PUSHED_AUTHORIZATION_REQUEST) {
      throw new errors.InvalidRequestUri("request_uri is invalid, expired, or was already used");
    }
    throw new errors.InvalidGrant(`${this.model} already consumed`);
  }

  async destroy(id: string): Promise<void> {
    await this.store.destroyOidcPayload(this.model, sha256Hex(id));
  }

  /** Every artifact of the grant, of any model (as oidc-provider's own memory adapter does). */
  async revokeByGrantId(grantId: string): Promise<void> {
    await this.store.revokeOidcGrant(grantId);
  }

  /** The payload as the provider wrote it, or undefined when missing, expired or not to be opened. */
  private revive(row: OidcPayloadRecord | undefined, id?: string): AdapterPayload | undefined {
    if (!row || (row.expiresAt !== null && row.expiresAt <= this.clock.now())) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload & Record<string, unknown>;
    const mark = payload[JTI_MARK];
    delete payload[JTI_MARK];
    if (mark !== undefined) {
      const jti = id ?? (typeof mark === "string" ? this.open(mark, row.idHash) : undefined);
      if (jti === undefined) return undefined;
      payload.jti = jti;
    }
    if (row.consumedAt !== null) payload.consumed = Math.floor(row.consumedAt / 1000);
    return payload;
  }

  private seal(id: string, idHash: string): string {
    return this.keyring.encrypt(Buffer.from(id, "utf8"), this.aad(idHash), this.random);
  }

  /** The id sealed with the row, or undefined when it cannot be opened (its key is gone). */
  private open(sealed: string, idHash: string): string | undefined {
    try {
      const id = this.keyring.decrypt(sealed, this.aad(idHash)).toString("utf8");
      return sha256Hex(id) === idHash ? id : undefined;
    } catch {
      return undefined;
    }
  }

  private aad(idHash: string): string {
    return `oidc:${this.model}:${idHash}`;
  }
}
