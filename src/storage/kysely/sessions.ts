import { type Kysely, type RawBuilder, sql, type Transaction } from "kysely";
import type {
  Dialect,
  NewSession,
  PartialTokenCompletion,
  PasswordLoginEnd,
  RefreshSuccessor,
  RefreshTokenStatus,
  SessionStatus,
} from "../store.js";
import { auditEventRow, recordAuditEvent } from "./admin.js";
import { preparedReadsOf, type SessionStatusRow } from "./connect.js";
import type { Database } from "./schema.js";
import { resetThrottle } from "./throttles.js";

/** Sessions and their refresh tokens. */

/**
 * The user has an active second factor: the rule of twoFactorEnabled() (core/twofactor/state.ts),
 * an enabled TOTP or email OTP, as an SQL condition both dialects evaluate.
 */
function secondFactorActive(userId: number): RawBuilder<boolean> {
  return sql<boolean>`(exists (select 1 from user_totp where user_id = ${userId} and enabled_at is not null)
    or exists (select 1 from user_email_otp where user_id = ${userId} and enabled_at is not null))`;
}

/**
 * PostgreSQL, one statement: `s` inserts the session when `condition` holds, then its first refresh
 * token is inserted from `s` (both rows or neither). `before` adds CTEs ahead of `s`, `after` CTEs
 * that read `s`.
 */
function insertSessionStatement(
  session: NewSession,
  refreshJti: string,
  parts: { before?: RawBuilder<unknown>; condition?: RawBuilder<boolean>; after?: RawBuilder<unknown> } = {},
): RawBuilder<{ jti: string }> {
  return sql<{ jti: string }>`
      with ${parts.before ?? sql``}
      s as (
        insert into sessions (id, user_id, created_at, expires_at, revoked_at, ip, user_agent)
        select ${session.id}, ${session.userId}, ${session.createdAt}, ${session.expiresAt}, null,
               ${session.ip}, ${session.userAgent}
        where ${parts.condition ?? sql<boolean>`true`}
        returning id)
      ${parts.after ?? sql``}
      insert into refresh_tokens (jti, session_id, issued_at, used_at)
      select ${refreshJti}, s.id, ${session.createdAt}, null from s
      returning jti`;
}

/** SQLite, inside a transaction: the session and its first refresh token. */
async function insertSession(
  trx: Kysely<Database> | Transaction<Database>,
  session: NewSession,
  refreshJti: string,
): Promise<void> {
  await trx
    .insertInto("sessions")
    .values({
      id: session.id,
      user_id: session.userId,
      created_at: session.createdAt,
      expires_at: session.expiresAt,
      revoked_at: null,
      ip: session.ip,
      user_agent: session.userAgent,
    })
    .execute();
  await addRefreshToken(trx, { jti: refreshJti, sessionId: session.id, issuedAt: session.createdAt });
}

export async function createSession(
  db: Kysely<Database>,
  dialect: Dialect,
  session: NewSession,
  refreshJti: string,
): Promise<void> {
  if (dialect === "postgres") {
    await insertSessionStatement(session, refreshJti).execute(db);
    return;
  }
  await db.transaction().execute((trx) => insertSession(trx, session, refreshJti));
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
    const { rows } = await insertSessionStatement(session, refreshJti, {
      before: sql`cleared as (delete from throttles where subject = ${throttle.subject} and kind = ${throttle.kind}),`,
      condition: sql<boolean>`not ${secondFactorActive(session.userId)}`,
      after: sql`, a as (
          insert into audit_events (user_id, type, at, ip, user_agent, details)
          select ${audit.user_id}, ${audit.type}, ${audit.at}, ${audit.ip}, ${audit.user_agent}, ${audit.details} from s)`,
    }).execute(db);
    return rows.length === 1;
  }
  return db.transaction().execute(async (trx) => {
    await resetThrottle(trx, throttle.subject, throttle.kind);
    const gate = await sql<{
      active: number | boolean;
    }>`select ${secondFactorActive(session.userId)} as active`.execute(trx);
    if (gate.rows[0]?.active) return false;
    await insertSession(trx, session, refreshJti);
    await recordAuditEvent(trx, event);
    return true;
  });
}

export async function sessionStatus(db: Kysely<Database>, sessionId: string): Promise<SessionStatus | undefined> {
  // Every access-token validation comes here: a statement prepared once (see connect.ts).
  const row = await preparedReadsOf(db).sessionStatus(sessionId);
  return row && toSessionStatus(row);
}

function toSessionStatus(row: SessionStatusRow): SessionStatus {
  return {
    userId: row.user_id,
    revokedAt: row.revoked_at,
    expiresAt: row.expires_at,
    userDisabled: row.disabled_at !== null,
  };
}

export async function refreshTokenStatus(db: Kysely<Database>, jti: string): Promise<RefreshTokenStatus | undefined> {
  const row = await preparedReadsOf(db).refreshTokenStatus(jti);
  return row && { sessionId: row.session_id, usedAt: row.used_at, ...toSessionStatus(row) };
}

/**
 * Marks `jti` used and records `newJti` as what replaced it, then adds `newJti` to the session, in one
 * transaction; only the caller whose conditional UPDATE marked it adds its token. Every other caller
 * gets the token that replaced it (on PostgreSQL the UPDATE waits for the winner's commit).
 */
export async function rotateRefreshToken(
  db: Kysely<Database>,
  input: { jti: string; newJti: string; sessionId: string; now: number },
): Promise<RefreshSuccessor | undefined> {
  return db.transaction().execute(async (trx) => {
    const marked = await trx
      .updateTable("refresh_tokens")
      .set({ used_at: input.now, replaced_by: input.newJti })
      .where("jti", "=", input.jti)
      .where("used_at", "is", null)
      .executeTakeFirst();
    if (Number(marked.numUpdatedRows) !== 1) return refreshTokenSuccessor(trx, input.jti);
    await addRefreshToken(trx, { jti: input.newJti, sessionId: input.sessionId, issuedAt: input.now });
    return { jti: input.newJti, issuedAt: input.now };
  });
}

export async function refreshTokenSuccessor(db: Kysely<Database>, jti: string): Promise<RefreshSuccessor | undefined> {
  const row = await db
    .selectFrom("refresh_tokens as used")
    .innerJoin("refresh_tokens as next", "next.jti", "used.replaced_by")
    .select(["next.jti", "next.issued_at"])
    .where("used.jti", "=", jti)
    .executeTakeFirst();
  return row && { jti: row.jti, issuedAt: row.issued_at };
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

/**
 * Ends every active session of the user but `keepSessionId` and moves the user's token generation on
 * (so no partial token issued before completes a login), in the caller's transaction. The generation
 * is moved first: that UPDATE takes the user's row lock, which a partial token's completion also
 * takes (openSessionFromPartial), so the two run one after the other.
 */
export async function revokeUserSessionsIn(
  trx: Transaction<Database>,
  userId: number,
  now: number,
  keepSessionId?: string,
): Promise<number> {
  await trx
    .updateTable("users")
    .set((eb) => ({ token_generation: eb("token_generation", "+", 1) }))
    .where("id", "=", userId)
    .execute();
  let query = trx
    .updateTable("sessions")
    .set({ revoked_at: now })
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null);
  if (keepSessionId !== undefined) query = query.where("id", "!=", keepSessionId);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export function revokeUserSessions(
  db: Kysely<Database>,
  userId: number,
  now: number,
  keepSessionId?: string,
): Promise<number> {
  return db.transaction().execute((trx) => revokeUserSessionsIn(trx, userId, now, keepSessionId));
}

/**
 * A partial token becomes a session (see Store.openSessionFromPartial), in one transaction: the
 * user's row lock taken only while the generation is still the token's, the token marked spent
 * (INSERT … ON CONFLICT DO NOTHING), then the session and its first refresh token.
 */
export async function openSessionFromPartial(db: Kysely<Database>, input: PartialTokenCompletion): Promise<boolean> {
  const { partial, session, refreshJti } = input;
  await db.deleteFrom("spent_partial_tokens").where("expires_at", "<", session.createdAt).execute();
  return db.transaction().execute(async (trx) => {
    const current = await trx
      .updateTable("users")
      .set((eb) => ({ token_generation: eb.ref("token_generation") }))
      .where("id", "=", partial.userId)
      .where("token_generation", "=", partial.tokenGeneration)
      .executeTakeFirst();
    if (Number(current.numUpdatedRows) !== 1) return false;
    const spent = await trx
      .insertInto("spent_partial_tokens")
      .values({ jti: partial.jti, user_id: partial.userId, expires_at: partial.expiresAt })
      .onConflict((oc) => oc.column("jti").doNothing())
      .executeTakeFirst();
    if (Number(spent.numInsertedOrUpdatedRows ?? 0) !== 1) return false;
    await insertSession(trx, session, refreshJti);
    return true;
  });
}

export async function addRefreshToken(
  db: Kysely<Database> | Transaction<Database>,
  input: { jti: string; sessionId: string; issuedAt: number },
): Promise<void> {
  await db
    .insertInto("refresh_tokens")
    .values({ jti: input.jti, session_id: input.sessionId, issued_at: input.issuedAt, used_at: null })
    .execute();
}
