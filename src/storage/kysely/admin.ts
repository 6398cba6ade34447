import type { Insertable, Kysely, Selectable } from "kysely";
import type { AdminStore, AuditEventRecord, AuditPage } from "../admin.js";
import { lockUser } from "./locks.js";
import type { AuditEventsTable, Database } from "./schema.js";

/** Administration and audit-trail statements, kept apart from the hot-path store methods. */

/** The audit_events row of an event (its id is generated). */
export function auditEventRow(event: AuditEventRecord): Omit<Insertable<AuditEventsTable>, "id"> {
  return {
    user_id: event.userId,
    client_id: event.clientId ?? null,
    type: event.type,
    at: event.at,
    ip: event.ip,
    user_agent: event.userAgent,
    details: event.details ? JSON.stringify(event.details) : null,
  };
}

/** Records `event`; `db` may be a transaction (a login, a password change record theirs in it). */
export async function recordAuditEvent(db: Kysely<Database>, event: AuditEventRecord): Promise<void> {
  await db.insertInto("audit_events").values(auditEventRow(event)).execute();
}

function toAuditEvent(row: Selectable<AuditEventsTable>): AuditEventRecord {
  return {
    type: row.type,
    userId: row.user_id === null ? null : Number(row.user_id),
    ...(row.client_id === null ? {} : { clientId: row.client_id }),
    at: Number(row.at),
    ip: row.ip,
    userAgent: row.user_agent,
    details: row.details ? JSON.parse(row.details) : undefined,
  };
}

/** One page of the events a column names, newest first, with their count. */
async function auditPage(
  db: Kysely<Database>,
  column: "user_id" | "client_id",
  value: number | string,
  page: { offset: number; limit: number },
): Promise<AuditPage> {
  const base = db.selectFrom("audit_events").where(column, "=", value);
  const [rows, count] = await Promise.all([
    base.selectAll().orderBy("id", "desc").offset(page.offset).limit(page.limit).execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as("n")).executeTakeFirstOrThrow(),
  ]);
  return { events: rows.map(toAuditEvent), total: Number(count.n) };
}

/** Administration over Kysely. */
export function adminStore(db: Kysely<Database>): AdminStore {
  return {
    recordAuditEvent: (event) => recordAuditEvent(db, event),

    listAuditEvents: (query) => auditPage(db, "user_id", query.userId, query),

    listClientAuditEvents: (query) => auditPage(db, "client_id", query.clientId, query),

    async setUserDisabled(userId, disabledAt) {
      const result = await db
        .updateTable("users")
        .set({ disabled_at: disabledAt })
        .where("id", "=", userId)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async countLiveSessions(userId, now) {
      const row = await db
        .selectFrom("sessions")
        .select((eb) => eb.fn.countAll<number | string>().as("n"))
        .where("user_id", "=", userId)
        .where("revoked_at", "is", null)
        .where("expires_at", ">", now)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    resetTwoFactor: (userId) =>
      db.transaction().execute(async (trx) => {
        if (!(await lockUser(trx, userId))) return false;
        await trx.deleteFrom("user_totp").where("user_id", "=", userId).execute();
        await trx.deleteFrom("user_email_otp").where("user_id", "=", userId).execute();
        await trx.deleteFrom("passkeys").where("user_id", "=", userId).execute();
        await trx.deleteFrom("recovery_codes").where("user_id", "=", userId).execute();
        return true;
      }),

    async listSealedTotpSecrets() {
      const rows = await db.selectFrom("user_totp").select(["user_id", "secret_enc", "pending_secret_enc"]).execute();
      return rows.map((r) => ({ userId: r.user_id, secretEnc: r.secret_enc, pendingSecretEnc: r.pending_secret_enc }));
    },

    async swapSealedTotpSecret(swap) {
      const column = swap.pending ? "pending_secret_enc" : "secret_enc";
      const result = await db
        .updateTable("user_totp")
        .set({ [column]: swap.to })
        .where("user_id", "=", swap.userId)
        .where(column, "=", swap.from)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}
