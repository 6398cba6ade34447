import type { Kysely } from "kysely";
import type { SigningKeyRecord } from "../store.js";
import type { Database } from "./schema.js";

/** The token signing keys, oldest first. */

export async function listSigningKeys(db: Kysely<Database>): Promise<SigningKeyRecord[]> {
  const rows = await db.selectFrom("signing_keys").selectAll().orderBy("created_at", "asc").execute();
  return rows.map((r) => ({
    kid: r.kid,
    privatePem: r.private_pem,
    publicPem: r.public_pem,
    createdAt: r.created_at,
  }));
}

export async function insertSigningKey(db: Kysely<Database>, key: SigningKeyRecord): Promise<void> {
  await db
    .insertInto("signing_keys")
    .values({ kid: key.kid, private_pem: key.privatePem, public_pem: key.publicPem, created_at: key.createdAt })
    .execute();
}

export async function deleteSigningKeysBefore(
  db: Kysely<Database>,
  createdBefore: number,
  keepKid: string,
): Promise<number> {
  const result = await db
    .deleteFrom("signing_keys")
    .where("created_at", "<", createdBefore)
    .where("kid", "!=", keepKid)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
