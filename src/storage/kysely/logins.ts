import { type Kysely, sql } from "kysely";
import type { LoginStore } from "../logins.js";
import type { Dialect } from "../store.js";
import { auditEventRow, recordAuditEvent } from "./admin.js";
import { type Database, emailKey } from "./schema.js";
import { insertSession, insertSessionStatement } from "./sessions.js";
import { resetThrottle, swapThrottle } from "./throttles.js";
import { isTwoFactorOn, twoFactorOn } from "./two-factor.js";
import { findUserByEmail, toUser, type UserRow } from "./users.js";

/**
 * Password logins over Kysely. On PostgreSQL each step is one statement (a data-modifying `with`),
 * so a login costs one round trip before the hash and one commit after it; on SQLite, which has no
 * round trips to save, the same work is a few statements (in one transaction after the hash).
 */
export function loginStore(db: Kysely<Database>, dialect: Dialect): LoginStore {
  return {
    async startPasswordLogin(start) {
      if (dialect === "postgres") {
        const { rows } = await sql<UserRow & { subject: string; claimed: boolean }>`
        with u as (select * from users where email_lower = ${emailKey(start.email)}),
        s as (
          select coalesce((select ${start.userSubjectPrefix}::text || id::text from u), ${start.unknownSubject}::text)
            as subject
        ),
        claim as (
          insert into throttles (subject, kind, failures, next_allowed_at)
          select subject, ${start.kind}::text, ${start.next.failures}::integer, ${start.next.nextAllowedAt}::bigint from s
          on conflict (subject, kind) do nothing
          returning 1
        )
        select u.*, s.subject, exists (select 1 from claim) as claimed from s left join u on true`.execute(db);
        const row = rows[0];
        if (!row) throw new Error("the start of a password login returned no row");
        return { user: row.id === null ? undefined : toUser(row), subject: row.subject, claimed: row.claimed };
      }
      const user = await findUserByEmail(db, start.email);
      const subject = user ? `${start.userSubjectPrefix}${user.id}` : start.unknownSubject;
      return { user, subject, claimed: await swapThrottle(db, subject, start.kind, undefined, start.next) };
    },

    async openSessionAfterPassword({ throttle, session, refreshJti, event }) {
      if (dialect === "postgres") {
        const audit = auditEventRow(event);
        const { rows } = await insertSessionStatement(session, refreshJti, {
          before: sql`cleared as (delete from throttles where subject = ${throttle.subject} and kind = ${throttle.kind}),`,
          condition: sql<boolean>`not ${twoFactorOn(session.userId)}`,
          after: sql`, a as (
          insert into audit_events (user_id, type, at, ip, user_agent, details)
          select ${audit.user_id}, ${audit.type}, ${audit.at}, ${audit.ip}, ${audit.user_agent}, ${audit.details} from s)`,
        }).execute(db);
        return rows.length === 1;
      }
      return db.transaction().execute(async (trx) => {
        await resetThrottle(trx, throttle.subject, throttle.kind);
        if (await isTwoFactorOn(trx, session.userId)) return false;
        await insertSession(trx, session, refreshJti);
        await recordAuditEvent(trx, event);
        return true;
      });
    },
  };
}
