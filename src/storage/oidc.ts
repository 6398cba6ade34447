/**
 * The OpenID provider's stored artifacts (authorization codes, access and refresh tokens, sessions,
 * interactions, grants, device codes …), for the provider's adapter (src/oidc/adapter.ts). The store
 * knows nothing of the provider: a row is a model name, the hash of the artifact's id, an opaque
 * payload and the few columns it is looked up or revoked by. Ids and uids arrive here already hashed
 * (SHA-256 hex); the store never sees the raw values.
 */

export interface OidcPayloadRecord {
  model: string;
  idHash: string;
  /** JSON, as the adapter wrote it. */
  payload: string;
  grantId: string | null;
  uidHash: string | null;
  userCode: string | null;
  /** Milliseconds since the epoch; null for no expiry. */
  expiresAt: number | null;
  /** When it was consumed, or null. */
  consumedAt: number | null;
}

export type NewOidcPayload = Omit<OidcPayloadRecord, "consumedAt">;

export interface OidcPayloadStore {
  /**
   * Writes a payload, replacing the one stored under the same model and id hash: one
   * `INSERT … ON CONFLICT (model, id_hash) DO UPDATE`, atomic on its own. A replaced row keeps its
   * consumed_at: once consumed, an artifact stays consumed whatever is written over it.
   */
  upsertOidcPayload(payload: NewOidcPayload): Promise<void>;
  /** The row, expired or not (the caller compares `expiresAt` with its clock), or undefined. */
  findOidcPayload(model: string, idHash: string): Promise<OidcPayloadRecord | undefined>;
  /** The row of that model with that uid hash (the provider makes them unique; one row if not). */
  findOidcPayloadByUid(model: string, uidHash: string): Promise<OidcPayloadRecord | undefined>;
  /** The row of that model with that user code (the provider makes them unique; one row if not). */
  findOidcPayloadByUserCode(model: string, userCode: string): Promise<OidcPayloadRecord | undefined>;
  /**
   * Marks an artifact consumed: one conditional `UPDATE … SET consumed_at = :now WHERE model = ? AND
   * id_hash = ? AND consumed_at IS NULL`. True only for the caller whose UPDATE changed the row, so
   * of concurrent consumers (in one process or many) exactly one wins; false when the row was
   * already consumed or is not there.
   */
  consumeOidcPayload(model: string, idHash: string, now: number): Promise<boolean>;
  /** Deletes one row (one DELETE; nothing when it is not there). */
  destroyOidcPayload(model: string, idHash: string): Promise<void>;
  /**
   * Deletes every row of a grant, whatever its model, in one `DELETE … WHERE grant_id = ?`: a row
   * of the grant written before it commits is gone, one written after it is not.
   */
  revokeOidcGrant(grantId: string): Promise<number>;
  /** Deletes the rows whose expiry is before `now`, in one DELETE; returns how many went. */
  purgeExpiredOidcPayloads(now: number): Promise<number>;
}
