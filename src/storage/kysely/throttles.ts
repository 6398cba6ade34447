import type { Kysely } from "kysely";
import type { ThrottleState } from "../../core/throttle/throttle.js";
import type { ThrottleStore } from "../throttles.js";
import type { Database } from "./schema.js";

/** Throttle state per subject and kind, swapped only against the state last read. */

/** See ThrottleStore.swapThrottle; the login's start on SQLite makes its first claim with it. */
export async function swapThrottle(
  db: Kysely<Database>,
  subject: string,
  kind: string,
  expected: ThrottleState | undefined,
  next: ThrottleState,
): Promise<boolean> {
  if (expected === undefined) {
    const inserted = await db
      .insertInto("throttles")
      .values({ subject, kind, failures: next.failures, next_allowed_at: next.nextAllowedAt })
      .onConflict((oc) => oc.columns(["subject", "kind"]).doNothing())
      .executeTakeFirst();
    return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1;
  }
  const updated = await db
    .updateTable("throttles")
    .set({ failures: next.failures, next_allowed_at: next.nextAllowedAt })
    .where("subject", "=", subject)
    .where("kind", "=", kind)
    .where("failures", "=", expected.failures)
    .where("next_allowed_at", "=", expected.nextAllowedAt)
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}

/** Deletes the count; `db` may be a transaction (a login's end and a password reset clear it in theirs). */
export async function resetThrottle(db: Kysely<Database>, subject: string, kind: string): Promise<void> {
  await db.deleteFrom("throttles").where("subject", "=", subject).where("kind", "=", kind).execute();
}

/** Throttles over Kysely. */
export function throttleStore(db: Kysely<Database>): ThrottleStore {
  return {
    async getThrottle(subject, kind) {
      const row = await db
        .selectFrom("throttles")
        .select(["failures", "next_allowed_at"])
        .where("subject", "=", subject)
        .where("kind", "=", kind)
        .executeTakeFirst();
      return row ? { failures: row.failures, nextAllowedAt: row.next_allowed_at } : undefined;
    },
    swapThrottle: (subject, kind, expected, next) => swapThrottle(db, subject, kind, expected, next),
    resetThrottle: (subject, kind) => resetThrottle(db, subject, kind),
  };
}
