import { type Insertable, type Kysely, sql } from "kysely";
import type { Dialect, NewSession, PasswordLoginEnd, RefreshTokenStatus, SessionStatus } from "../store.js";
import { auditEventRow } from "./admin.js";
import { preparedReadsOf } from "./connect.js";
import type { Database, SessionsTable } from "./schema.js";

/** Sessions and their refresh tokens. */

function sessionRow(session: NewSession): Insertable<SessionsTable> {
  return {
    id: session.id,
    user_id: session.userId,
    created_at: session.createdAt,
    expires_at: session.expiresAt,
    revoked_at: null,
    ip: session.ip,
    user_agent: session.userAgent,
  };
}

export async function createSession(
  db: Kysely<Database>,
  dialect: Dialect,
  session: NewSession,
  refreshJti: string,
): Promise<void> {
  if (dialect === "postgres") {
    // One statement, so one round trip: both rows or neither.
    await sql`
        with s as (
          insert into sessions (id, user_id, created_at, expires_at, revoked_at, ip, user_agent)
          values (${session.id}, ${session.userId}, ${session.createdAt}, ${session.expiresAt}, null,
                  ${session.ip}, ${session.userAgent})
          returning id)
        insert into refresh_tokens (jti, session_id, issued_at, used_at)
        select ${refreshJti}, s.id, ${session.createdAt}, null from s`.execute(db);
    return;
  }
  await db.transaction().execute(async (trx) => {
    await trx.insertInto("sessions").values(sessionRow(session)).execute();
    await trx
      .insertInto("refresh_tokens")
      .values({ jti: refreshJti, session_id: session.id, issued_at: session.createdAt, used_at: null })
      .execute();
  });
}

/**
 * The end of a password login (see Store.openSessionAfterPassword): one transaction, and on
 * PostgreSQL one statement, so a login costs one commit after the hash instead of four.
 */
export async function openSessionAfterPassword(
  db: Kysely<Database>,
  dialect: Dialect,
  input: PasswordLoginEnd,
): Promise<boolean> {
  const { throttle, session, refreshJti, event } = input;
  if (dialect === "postgres") {
    const audit = auditEventRow(event);
    // The gate is twoFactorEnabled() (core/twofactor/state.ts): an active TOTP or email OTP.
    const { rows } = await sql<{ jti: string }>`
        with cleared as (delete from throttles where subject = ${throttle.subject} and kind = ${throttle.kind}),
        gate as (
          select 1 where not exists (select 1 from user_totp where user_id = ${session.userId} and enabled_at is not null)
            and not exists (select 1 from user_email_otp where user_id = ${session.userId} and enabled_at is not null)),
        s as (
          insert into sessions (id, user_id, created_at, expires_at, revoked_at, ip, user_agent)
          select ${session.id}, ${session.userId}, ${session.createdAt}, ${session.expiresAt}, null,
                 ${session.ip}, ${session.userAgent} from gate
          returning id),
        a as (
          insert into audit_events (user_id, type, at, ip, user_agent, details)
          select ${audit.user_id}, ${audit.type}, ${audit.at}, ${audit.ip}, ${audit.user_agent}, ${audit.details} from s)
        insert into refresh_tokens (jti, session_id, issued_at, used_at)
        select ${refreshJti}, s.id, ${session.createdAt}, null from s
        returning jti`.execute(db);
    return rows.length === 1;
  }
  return db.transaction().execute(async (trx) => {
    await trx
      .deleteFrom("throttles")
      .where("subject", "=", throttle.subject)
      .where("kind", "=", throttle.kind)
      .execute();
    const active = await trx
      .selectFrom("user_totp")
      .select("user_id")
      .where("user_id", "=", session.userId)
      .where("enabled_at", "is not", null)
      .unionAll((eb) =>
        eb
          .selectFrom("user_email_otp")
          .select("user_id")
          .where("user_id", "=", session.userId)
          .where("enabled_at", "is not", null),
      )
      .executeTakeFirst();
    if (active !== undefined) return false;
    await trx.insertInto("sessions").values(sessionRow(session)).execute();
    await trx
      .insertInto("refresh_tokens")
      .values({ jti: refreshJti, session_id: session.id, issued_at: session.createdAt, used_at: null })
      .execute();
    await trx.insertInto("audit_events").values(auditEventRow(event)).execute();
    return true;
  });
}

export async function sessionStatus(db: Kysely<Database>, sessionId: string): Promise<SessionStatus | undefined> {
  // Every access-token validation comes here: a statement prepared once (see connect.ts).
  const row = await preparedReadsOf(db).sessionStatus(sessionId);
  if (!row) return undefined;
  return {
    userId: row.user_id,
    revokedAt: row.revoked_at,
    expiresAt: row.expires_at,
    userDisabled: row.disabled_at !== null,
  };
}

export async function refreshTokenStatus(db: Kysely<Database>, jti: string): Promise<RefreshTokenStatus | undefined> {
  const row = await preparedReadsOf(db).refreshTokenStatus(jti);
  if (!row) return undefined;
  return {
    sessionId: row.session_id,
    usedAt: row.used_at,
    userId: row.user_id,
    revokedAt: row.revoked_at,
    expiresAt: row.expires_at,
    userDisabled: row.disabled_at !== null,
  };
}

export async function rotateRefreshToken(
  db: Kysely<Database>,
  input: { jti: string; newJti: string; sessionId: string; now: number },
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const marked = await trx
      .updateTable("refresh_tokens")
      .set({ used_at: input.now })
      .where("jti", "=", input.jti)
      .where("used_at", "is", null)
      .executeTakeFirst();
    await trx
      .insertInto("refresh_tokens")
      .values({ jti: input.newJti, session_id: input.sessionId, issued_at: input.now, used_at: null })
      .execute();
    return Number(marked.numUpdatedRows) === 1;
  });
}

export async function revokeSession(db: Kysely<Database>, sessionId: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable("sessions")
    .set({ revoked_at: now })
    .where("id", "=", sessionId)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function revokeUserSessions(
  db: Kysely<Database>,
  userId: number,
  now: number,
  keepSessionId?: string,
): Promise<number> {
  let query = db
    .updateTable("sessions")
    .set({ revoked_at: now })
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null);
  if (keepSessionId !== undefined) query = query.where("id", "!=", keepSessionId);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function addRefreshToken(
  db: Kysely<Database>,
  input: { jti: string; sessionId: string; issuedAt: number },
): Promise<void> {
  await db
    .insertInto("refresh_tokens")
    .values({ jti: input.jti, session_id: input.sessionId, issued_at: input.issuedAt, used_at: null })
    .execute();
}
