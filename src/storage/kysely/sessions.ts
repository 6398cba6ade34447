import { type Kysely, type RawBuilder, sql, type Transaction } from "kysely";
import type {
  AuthMethod,
  NewRefreshToken,
  NewSession,
  RefreshSuccessor,
  SessionStatus,
  SessionStore,
  SessionTouch,
} from "../sessions.js";
import type { Dialect } from "../store.js";
import type { PreparedReads, RefreshTokenStatusRow, SessionStatusRow } from "./reads/sql.js";
import type { Database } from "./schema.js";

/** Sessions and their refresh tokens. Atomicity is documented on SessionStore. */

/**
 * PostgreSQL, one statement: `s` inserts the session when `condition` holds, then its first refresh
 * token is inserted from `s` (both rows or neither). `before` adds CTEs ahead of `s`, `after` CTEs
 * that read `s`.
 */
export function insertSessionStatement(
  session: NewSession,
  refreshJti: string,
  parts: { before?: RawBuilder<unknown>; condition?: RawBuilder<boolean>; after?: RawBuilder<unknown> } = {},
): RawBuilder<{ jti: string }> {
  return sql<{ jti: string }>`
      with ${parts.before ?? sql``}
      s as (
        insert into sessions (id, user_id, created_at, expires_at, revoked_at, ip, user_agent, last_used_at,
                              auth_methods)
        select ${session.id}, ${session.userId}, ${session.createdAt}, ${session.expiresAt}, null,
               ${session.ip}, ${session.userAgent}, ${session.createdAt}, ${authMethodsColumn(session)}
        where ${parts.condition ?? sql<boolean>`true`}
        returning id)
      ${parts.after ?? sql``}
      insert into refresh_tokens (jti, session_id, issued_at, used_at)
      select ${refreshJti}, s.id, ${session.createdAt}, null from s
      returning jti`;
}

function authMethodsColumn(session: NewSession): string | null {
  return session.methods && session.methods.length > 0 ? session.methods.join(" ") : null;
}

const AUTH_METHODS: ReadonlySet<string> = new Set<AuthMethod>([
  "password",
  "totp",
  "email_otp",
  "recovery_code",
  "passkey",
]);

/** The stored methods, each one known (a value written by a later version is left out). */
function authMethodsOf(column: string | null): AuthMethod[] {
  if (column === null) return [];
  return column.split(" ").filter((m): m is AuthMethod => AUTH_METHODS.has(m));
}

/** Inside a transaction: the session and its first refresh token. */
export async function insertSession(trx: Kysely<Database>, session: NewSession, refreshJti: string): Promise<void> {
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
      last_used_at: session.createdAt,
      auth_methods: authMethodsColumn(session),
    })
    .execute();
  await addRefreshToken(trx, { jti: refreshJti, sessionId: session.id, issuedAt: session.createdAt });
}

async function addRefreshToken(db: Kysely<Database>, token: NewRefreshToken): Promise<void> {
  await db
    .insertInto("refresh_tokens")
    .values({ jti: token.jti, session_id: token.sessionId, issued_at: token.issuedAt, used_at: null })
    .execute();
}

/** Moves the session's last use as `touch` says (never back), while the session is not revoked. */
function touchSession(db: Kysely<Database>, sessionId: string, touch: SessionTouch) {
  return db
    .updateTable("sessions")
    .set({ last_used_at: touch.at })
    .where("id", "=", sessionId)
    .where("revoked_at", "is", null)
    .where("last_used_at", "<=", touch.ifLastUsedBy);
}

/**
 * A rotation's successor, added to its session with the session's last use moved on: on PostgreSQL
 * one statement (the touch a CTE of the insert), on SQLite two.
 */
async function addRotatedRefreshToken(trx: Kysely<Database>, dialect: Dialect, token: NewRefreshToken): Promise<void> {
  const touch = touchSession(trx, token.sessionId, { at: token.issuedAt, ifLastUsedBy: token.issuedAt - 1 });
  if (dialect === "sqlite") {
    await touch.execute();
    await addRefreshToken(trx, token);
    return;
  }
  await trx
    .with("touched", () => touch)
    .insertInto("refresh_tokens")
    .values({ jti: token.jti, session_id: token.sessionId, issued_at: token.issuedAt, used_at: null })
    .execute();
}

async function refreshTokenSuccessor(db: Kysely<Database>, jti: string): Promise<RefreshSuccessor | undefined> {
  const row = await db
    .selectFrom("refresh_tokens as used")
    .innerJoin("refresh_tokens as next", "next.jti", "used.replaced_by")
    .select(["next.jti", "next.issued_at"])
    .where("used.jti", "=", jti)
    .executeTakeFirst();
  return row && { jti: row.jti, issuedAt: row.issued_at };
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

function toSessionStatus(row: SessionStatusRow): SessionStatus {
  return {
    userId: row.user_id,
    revokedAt: row.revoked_at,
    expiresAt: row.expires_at,
    userDisabled: row.disabled_at !== null,
  };
}

function toRefreshTokenStatus(row: RefreshTokenStatusRow) {
  return { sessionId: row.session_id, usedAt: row.used_at, ...toSessionStatus(row) };
}

/** Sessions over Kysely; the status of a session or refresh token is read through `reads` (reads/). */
export function sessionStore(db: Kysely<Database>, reads: PreparedReads, dialect: Dialect): SessionStore {
  return {
    // Every access-token validation comes here: a statement prepared once.
    async sessionStatus(sessionId) {
      const row = await reads.sessionStatus(sessionId);
      return row && toSessionStatus(row);
    },

    async sessionAuthentication(sessionId, now) {
      const row = await db
        .selectFrom("sessions")
        .select(["user_id", "created_at", "auth_methods"])
        .where("id", "=", sessionId)
        .where("revoked_at", "is", null)
        .where("expires_at", ">", now)
        .executeTakeFirst();
      return row && { userId: row.user_id, createdAt: row.created_at, methods: authMethodsOf(row.auth_methods) };
    },

    async refreshTokenStatus(jti) {
      const row = await reads.refreshTokenStatus(jti);
      return row && toRefreshTokenStatus(row);
    },

    async refreshTokenStatusAndTouch(jti, touch) {
      if (reads.refreshTokenStatusAndTouch) {
        const row = await reads.refreshTokenStatusAndTouch(jti, touch);
        return row && toRefreshTokenStatus(row);
      }
      // SQLite: the read (its reader cannot write), then, when the touch is due, the UPDATE on the
      // writer, with no round trip to save. A kept row is never older than the last commit (reads/),
      // so its last use is the stored one.
      const row = await reads.refreshTokenStatus(jti);
      if (row && row.revoked_at === null && row.disabled_at === null && row.last_used_at <= touch.ifLastUsedBy) {
        await touchSession(db, row.session_id, touch).execute();
      }
      return row && toRefreshTokenStatus(row);
    },

    // Only the caller whose conditional UPDATE marked `jti` adds its token. Every other caller gets
    // the token that replaced it (on PostgreSQL the UPDATE waits for the winner's commit).
    rotateRefreshToken: (rotation) =>
      db.transaction().execute(async (trx) => {
        const marked = await trx
          .updateTable("refresh_tokens")
          .set({ used_at: rotation.now, replaced_by: rotation.newJti })
          .where("jti", "=", rotation.jti)
          .where("used_at", "is", null)
          .executeTakeFirst();
        if (Number(marked.numUpdatedRows) !== 1) return refreshTokenSuccessor(trx, rotation.jti);
        const successor = { jti: rotation.newJti, sessionId: rotation.sessionId, issuedAt: rotation.now };
        await addRotatedRefreshToken(trx, dialect, successor);
        return { jti: rotation.newJti, issuedAt: rotation.now };
      }),

    refreshTokenSuccessor: (jti) => refreshTokenSuccessor(db, jti),

    addRefreshToken: (token) => addRefreshToken(db, token),

    async revokeSession(sessionId, now) {
      const result = await db
        .updateTable("sessions")
        .set({ revoked_at: now })
        .where("id", "=", sessionId)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async listLiveSessions(userId, now) {
      const rows = await db
        .selectFrom("sessions")
        .select(["id", "created_at", "last_used_at", "ip", "user_agent"])
        .where("user_id", "=", userId)
        .where("revoked_at", "is", null)
        .where("expires_at", ">", now)
        .orderBy("created_at", "desc")
        .orderBy("id", "desc")
        .execute();
      return rows.map((row) => ({
        id: row.id,
        createdAt: row.created_at,
        lastUsedAt: row.last_used_at,
        ip: row.ip,
        userAgent: row.user_agent,
      }));
    },

    async revokeUserSession(userId, sessionId, now) {
      const result = await db
        .updateTable("sessions")
        .set({ revoked_at: now })
        .where("id", "=", sessionId)
        .where("user_id", "=", userId)
        .where("revoked_at", "is", null)
        .where("expires_at", ">", now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    revokeUserSessions: (userId, now, keepSessionId) =>
      db.transaction().execute((trx) => revokeUserSessionsIn(trx, userId, now, keepSessionId)),

    // The user's row lock taken only while the generation is still the token's, the token marked
    // spent (INSERT … ON CONFLICT DO NOTHING), then the session and its first refresh token.
    async openSessionFromPartial({ partial, session, refreshJti }) {
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
    },

    async partialTokenSpent(jti) {
      const row = await db.selectFrom("spent_partial_tokens").select("jti").where("jti", "=", jti).executeTakeFirst();
      return row !== undefined;
    },
  };
}
