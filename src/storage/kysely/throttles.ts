import type { Kysely } from "kysely";
import type { ThrottleState } from "../../core/throttle/throttle.js";
import type { Database } from "./schema.js";

/** Throttle state per subject and kind, swapped only against the state last read. */

export async function getThrottle(
  db: Kysely<Database>,
  subject: string,
  kind: string,
): Promise<ThrottleState | undefined> {
  const row = await db
    .selectFrom("throttles")
    .select(["failures", "next_allowed_at"])
    .where("subject", "=", subject)
    .where("kind", "=", kind)
    .executeTakeFirst();
  return row ? { failures: row.failures, nextAllowedAt: row.next_allowed_at } : undefined;
}

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

export async function resetThrottle(db: Kysely<Database>, subject: string, kind: string): Promise<void> {
  await db.deleteFrom("throttles").where("subject", "=", subject).where("kind", "=", kind).execute();
}
