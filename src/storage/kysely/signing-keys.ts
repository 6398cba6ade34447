import type { Kysely } from "kysely";
import type { SigningKeyRecord } from "../store.js";
import type { Database } from "./schema.js";

/** The token signing keys, oldest first. */

export async function listSigningKeys(db: Kysely<Database>): Promise<SigningKeyRecord[]> {
  const rows = await db.selectFrom("signing_keys").selectAll().orderBy("created_at", "asc").execute();
  return rows.map((r) => ({
    kid: r.kid,
    privateKeyEnc: r.private_key_enc,
    publicPem: r.public_pem,
    createdAt: r.created_at,
    activatesAt: r.activates_at,
  }));
}

export async function insertSigningKey(db: Kysely<Database>, key: SigningKeyRecord): Promise<void> {
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
}

export async function deleteSigningKeysRetiredBefore(db: Kysely<Database>, cutoff: number): Promise<number> {
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
}

export async function swapSigningKeyPrivate(
  db: Kysely<Database>,
  input: { kid: string; from: string; to: string },
): Promise<boolean> {
  const result = await db
    .updateTable("signing_keys")
    .set({ private_key_enc: input.to })
    .where("kid", "=", input.kid)
    .where("private_key_enc", "=", input.from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
