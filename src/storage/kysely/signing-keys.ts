import { type Kysely, sql, type Transaction } from "kysely";
import type { SigningAlgorithm, SigningKeyRecord, SigningKeyStore } from "../signing-keys.js";
import type { Dialect } from "../store.js";
import type { Database } from "./schema.js";

function insertKey(db: Kysely<Database> | Transaction<Database>, key: SigningKeyRecord) {
  return db
    .insertInto("signing_keys")
    .values({
      kid: key.kid,
      private_key_enc: key.privateKeyEnc,
      public_pem: key.publicPem,
      created_at: key.createdAt,
      activates_at: key.activatesAt,
      alg: key.alg,
    })
    .execute();
}

/** The token signing keys over Kysely. */
export function signingKeyStore(db: Kysely<Database>, dialect: Dialect): SigningKeyStore {
  return {
    async listSigningKeys() {
      const rows = await db.selectFrom("signing_keys").selectAll().orderBy("created_at", "asc").execute();
      return rows.map((r) => ({
        kid: r.kid,
        alg: r.alg as SigningAlgorithm,
        privateKeyEnc: r.private_key_enc,
        publicPem: r.public_pem,
        createdAt: r.created_at,
        activatesAt: r.activates_at,
      }));
    },

    async insertSigningKey(key) {
      await insertKey(db, key);
    },

    insertFirstSigningKey: (key) =>
      db.transaction().execute(async (trx) => {
        // PostgreSQL: nodes starting together queue on one lock, and each looks only once the one
        // before it has committed. SQLite: one writer at a time, the command line included.
        if (dialect === "postgres")
          await sql`select pg_advisory_xact_lock(hashtext('latchkey:first-signing-key'))`.execute(trx);
        const any = await trx
          .selectFrom("signing_keys")
          .select("kid")
          .where("alg", "=", key.alg)
          .limit(1)
          .executeTakeFirst();
        if (any) return false;
        await insertKey(trx, key);
        return true;
      }),

    async deleteSigningKeysRetiredBefore(cutoff) {
      // The key of an algorithm signing at `cutoff` is the last of that algorithm to activate by
      // then; every key of it that activated before was replaced by `cutoff`. With no key of the
      // algorithm active by then, max() is null and none of it goes.
      const result = await sql`
        delete from signing_keys
        where activates_at < (
          select max(later.activates_at) from signing_keys later
          where later.alg = signing_keys.alg and later.activates_at <= ${cutoff}
        )`.execute(db);
      return Number(result.numAffectedRows ?? 0n);
    },

    async swapSigningKeyPrivate(swap) {
      const result = await db
        .updateTable("signing_keys")
        .set({ private_key_enc: swap.to })
        .where("kid", "=", swap.kid)
        .where("private_key_enc", "=", swap.from)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}
