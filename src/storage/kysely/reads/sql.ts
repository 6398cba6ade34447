import type { RevocationFeed } from "./revocation-feed.js";

export interface SessionCacheView {
  readonly feed: RevocationFeed;
  size(): number;
}

/**
 * The reads every authenticated request makes (and the second-factor state, which `GET /user/2fa`
 * and the sudo-or-access endpoints read): their rows and their SQL, written once for both dialects.
 * sqlite.ts and postgres.ts run them, each in the way that keeps them cheap there; the store gets
 * the reads of its connection when it is built (kysely/store.ts).
 */

import type { SessionTouch } from "../../sessions.js";

/** The row of the session-status read: the session joined with its user by primary key. */
export interface SessionStatusRow {
  user_id: number;
  revoked_at: number | null;
  expires_at: number;
  disabled_at: number | null;
}

/** The row of the refresh-token-status read: the token's row, its session and its user. */
export interface RefreshTokenStatusRow extends SessionStatusRow {
  session_id: string;
  used_at: number | null;
  /** The session's last use (§6), as read: before a touch made by the same statement. */
  last_used_at: number;
}

/** The row of the second-factor state read: a user's TOTP and email OTP rows and recovery-code counts. */
export interface TwoFactorStateRow {
  totp_user: number | null;
  secret_enc: string | null;
  pending_secret_enc: string | null;
  totp_enabled_at: number | null;
  email_user: number | null;
  email: string | null;
  pending_email: string | null;
  email_enabled_at: number | null;
  codes_created_at: number | string | null;
  codes_total: number | string;
  codes_used: number | string;
  passkeys_created_at: number | string | null;
  passkeys_total: number | string;
}

/**
 * The reads, prepared once instead of a query built, compiled and prepared per request. Each reads
 * committed rows by key, and a change committed before a read is asked is seen by it.
 */
export interface PreparedReads {
  sessionStatus(sessionId: string): Promise<SessionStatusRow | undefined>;
  refreshTokenStatus(jti: string): Promise<RefreshTokenStatusRow | undefined>;
  /**
   * What refreshTokenStatus reads, with the session's last use moved as `touch` says (while the
   * session is not revoked and its user not disabled) by the same statement. Only where a read can
   * write (PostgreSQL); without it the store reads, then updates.
   */
  refreshTokenStatusAndTouch?(jti: string, touch: SessionTouch): Promise<RefreshTokenStatusRow | undefined>;
  /** Always one row per user, even with no second factor: undefined means the read itself is broken. */
  twoFactorState(userId: number): Promise<TwoFactorStateRow | undefined>;
  /**
   * Called by the store after each write that may revoke a session or disable or delete a user,
   * where the reads keep session statuses (PostgreSQL with LATCHKEY_SESSION_CACHE): they drop them.
   */
  sessionsChanged?(): void;
  /** Where session statuses are kept: the feed they are kept by, and how many are kept. */
  sessionCache?: SessionCacheView;
  /** Releases what the reads hold of their own (SQLite's reader connection); the database is closed apart. */
  close(): void;
}

// The two status reads: each returns its key as the column `key`, and ends with the key's column,
// to which every dialect appends its own condition (`= ?`, `= any($1)`).
export const SESSION_STATUS_SELECT = `select s.id as key, s.user_id, s.revoked_at, s.expires_at, u.disabled_at
  from sessions s inner join users u on u.id = s.user_id where s.id`;
export const REFRESH_TOKEN_STATUS_SELECT = `select r.jti as key, r.session_id, r.used_at, s.user_id, s.revoked_at,
  s.expires_at, s.last_used_at, u.disabled_at
  from refresh_tokens r inner join sessions s on s.id = r.session_id inner join users u on u.id = s.user_id
  where r.jti`;

// The second-factor state: one row per user, with nulls for the methods the user does not have and
// a count of 0 codes and passkeys. Written once for one user (`?`, bound four times) and for many (`$1`, an array
// of user ids, joined laterally).
const TWO_FACTOR_COLUMNS = `t.user_id as totp_user, t.secret_enc, t.pending_secret_enc, t.enabled_at as totp_enabled_at,
  e.user_id as email_user, e.email, e.pending_email, e.enabled_at as email_enabled_at,
  r.created_at as codes_created_at, r.total as codes_total, r.used as codes_used,
  p.created_at as passkeys_created_at, p.total as passkeys_total`;
const twoFactorOf = (
  id: string,
  join: string,
) => `(select min(created_at) as created_at, count(*) as total, count(used_at) as used
        from recovery_codes where user_id = ${id}) r
  ${join} (select min(created_at) as created_at, count(*) as total from passkeys where user_id = ${id}) p
  left join user_totp t on t.user_id = ${id}
  left join user_email_otp e on e.user_id = ${id}`;
export const TWO_FACTOR_ONE = `select ${TWO_FACTOR_COLUMNS} from ${twoFactorOf("?", "cross join")}`;
export const TWO_FACTOR_MANY = `select u.id as key, ${TWO_FACTOR_COLUMNS}
  from unnest($1::bigint[]) as u(id) cross join lateral ${twoFactorOf("u.id", "cross join lateral")}`;
