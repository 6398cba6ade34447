import type { Transaction } from "kysely";
import type { Database } from "./schema.js";

/**
 * Serialises the 2FA state changes of one user: a no-op UPDATE of the user's row takes its row lock
 * on PostgreSQL and the write lock on SQLite (taking it first also keeps a deferred SQLite
 * transaction from failing to upgrade a read snapshot). False when the user does not exist.
 */
export async function lockUser(trx: Transaction<Database>, userId: number): Promise<boolean> {
  const result = await trx
    .updateTable("users")
    .set((eb) => ({ email: eb.ref("email") }))
    .where("id", "=", userId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
