import type { Kysely, Selectable } from "kysely";
import type { OidcPayloadRecord, OidcPayloadStore } from "../oidc.js";
import type { Database, OidcPayloadsTable } from "./schema.js";

/** The OpenID provider's artifacts over Kysely. Atomicity is documented on OidcPayloadStore. */

function toRecord(row: Selectable<OidcPayloadsTable>): OidcPayloadRecord {
  return {
    model: row.model,
    idHash: row.id_hash,
    payload: row.payload,
    grantId: row.grant_id,
    uidHash: row.uid_hash,
    userCode: row.user_code,
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    consumedAt: row.consumed_at === null ? null : Number(row.consumed_at),
  };
}

export function oidcPayloadStore(db: Kysely<Database>): OidcPayloadStore {
  /** One artifact of `model` by a column of its own (the id's hash is the key; uid and user code are indexed). */
  async function findBy(
    model: string,
    column: "id_hash" | "uid_hash" | "user_code",
    value: string,
  ): Promise<OidcPayloadRecord | undefined> {
    const row = await db
      .selectFrom("oidc_payloads")
      .selectAll()
      .where("model", "=", model)
      .where(column, "=", value)
      .limit(1)
      .executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  return {
    async upsertOidcPayload(p) {
      const columns = {
        payload: p.payload,
        grant_id: p.grantId,
        uid_hash: p.uidHash,
        user_code: p.userCode,
        expires_at: p.expiresAt,
      };
      await db
        .insertInto("oidc_payloads")
        .values({ model: p.model, id_hash: p.idHash, ...columns, consumed_at: null })
        // consumed_at is left as it is: a consumed artifact stays consumed.
        .onConflict((oc) => oc.columns(["model", "id_hash"]).doUpdateSet(columns))
        .execute();
    },

    findOidcPayload: (model, idHash) => findBy(model, "id_hash", idHash),
    findOidcPayloadByUid: (model, uidHash) => findBy(model, "uid_hash", uidHash),
    findOidcPayloadByUserCode: (model, userCode) => findBy(model, "user_code", userCode),

    async consumeOidcPayload(model, idHash, now) {
      const result = await db
        .updateTable("oidc_payloads")
        .set({ consumed_at: now })
        .where("model", "=", model)
        .where("id_hash", "=", idHash)
        .where("consumed_at", "is", null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async destroyOidcPayload(model, idHash) {
      await db.deleteFrom("oidc_payloads").where("model", "=", model).where("id_hash", "=", idHash).execute();
    },

    async revokeOidcGrant(grantId) {
      const result = await db.deleteFrom("oidc_payloads").where("grant_id", "=", grantId).executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async purgeExpiredOidcPayloads(now) {
      const result = await db.deleteFrom("oidc_payloads").where("expires_at", "<", now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
