import type { Insertable, Kysely } from "kysely";
import type { AuditEventRecord } from "../store.js";
import { lockUser } from "./locks.js";
import type { AuditEventsTable, Database } from "./schema.js";

/** Administration and audit-trail statements, kept apart from the hot-path store methods. */

/** The audit_events row of an event (its id is generated). */
export function auditEventRow(event: AuditEventRecord): Omit<Insertable<AuditEventsTable>, "id"> {
  return {
    user_id: event.userId,
    type: event.type,
    at: event.at,
    ip: event.ip,
    user_agent: event.userAgent,
    details: event.details ? JSON.stringify(event.details) : null,
  };
}

export async function recordAuditEvent(db: Kysely<Database>, event: AuditEventRecord): Promise<void> {
  await db.insertInto("audit_events").values(auditEventRow(event)).execute();
}

export async function listAuditEvents(
  db: Kysely<Database>,
  query: { userId: number; offset: number; limit: number },
): Promise<{ events: AuditEventRecord[]; total: number }> {
  const base = db.selectFrom("audit_events").where("user_id", "=", query.userId);
  const [rows, count] = await Promise.all([
    base.selectAll().orderBy("id", "desc").offset(query.offset).limit(query.limit).execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as("n")).executeTakeFirstOrThrow(),
  ]);
  return {
    events: rows.map((row) => ({
      type: row.type,
      userId: row.user_id,
      at: row.at,
      ip: row.ip,
      userAgent: row.user_agent,
      details: row.details ? JSON.parse(row.details) : undefined,
    })),
    total: Number(count.n),
  };
}

export async function setUserDisabled(
  db: Kysely<Database>,
  userId: number,
  disabledAt: number | null,
): Promise<boolean> {
  const result = await db
    .updateTable("users")
    .set({ disabled_at: disabledAt })
    .where("id", "=", userId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function countLiveSessions(db: Kysely<Database>, userId: number, now: number): Promise<number> {
  const row = await db
    .selectFrom("sessions")
    .select((eb) => eb.fn.countAll<number | string>().as("n"))
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null)
    .where("expires_at", ">", now)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function resetTwoFactor(db: Kysely<Database>, userId: number): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    if (!(await lockUser(trx, userId))) return false;
    await trx.deleteFrom("user_totp").where("user_id", "=", userId).execute();
    await trx.deleteFrom("user_email_otp").where("user_id", "=", userId).execute();
    await trx.deleteFrom("recovery_codes").where("user_id", "=", userId).execute();
    return true;
  });
}

export async function listSealedTotpSecrets(db: Kysely<Database>) {
  const rows = await db.selectFrom("user_totp").select(["user_id", "secret_enc", "pending_secret_enc"]).execute();
  return rows.map((r) => ({ userId: r.user_id, secretEnc: r.secret_enc, pendingSecretEnc: r.pending_secret_enc }));
}

export async function swapSealedTotpSecret(
  db: Kysely<Database>,
  input: { userId: number; pending: boolean; from: string; to: string },
): Promise<boolean> {
  const column = input.pending ? "pending_secret_enc" : "secret_enc";
  const result = await db
    .updateTable("user_totp")
    .set({ [column]: input.to })
    .where("user_id", "=", input.userId)
    .where(column, "=", input.from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
