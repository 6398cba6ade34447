import type { Kysely } from "kysely";
import type { SigningKeyStore } from "../signing-keys.js";
import type { Database } from "./schema.js";

/** The token signing keys over Kysely. */
export function signingKeyStore(db: Kysely<Database>): SigningKeyStore {
  return {
    async listSigningKeys() {
      const rows = await db.selectFrom("signing_keys").selectAll().orderBy("created_at", "asc").execute();
      return rows.map((r) => ({
        kid: r.kid,
        privateKeyEnc: r.private_key_enc,
        publicPem: r.public_pem,
        createdAt: r.created_at,
        activatesAt: r.activates_at,
      }));
    },

    async insertSigningKey(key) {
      await db
        .insertInto("signing_keys")
        .values({
          kid: key.kid,
          private_key_enc: key.privateKeyEnc,
          public_pem: key.publicPem,
          created_at: key.createdAt,
          activates_at: key.activatesAt,
        })
        .execute();
    },

    async deleteSigningKeysRetiredBefore(cutoff) {
      // The key signing at `cutoff` is the last to activate by then; every key that activated before
      // it was replaced by `cutoff`. With no key active by then, max() is null and nothing goes.
      const result = await db
        .deleteFrom("signing_keys")
        .where("activates_at", "<", (eb) =>
          eb
            .selectFrom("signing_keys")
            .select((inner) => inner.fn.max("activates_at").as("signing_at_cutoff"))
            .where("activates_at", "<=", cutoff),
        )
        .executeTakeFirst();
      return Number(result.numDeletedRows);
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
