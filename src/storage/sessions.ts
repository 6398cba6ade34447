/** Sessions: sessions and their refresh tokens, and partial tokens completed. */

/** How a session's sign-in was proven: its password, a second factor, or a passkey alone. */
export type AuthMethod = "password" | "totp" | "email_otp" | "recovery_code" | "passkey";

export interface NewSession {
  id: string;
  userId: number;
  createdAt: number;
  expiresAt: number;
  ip: string | null;
  userAgent: string | null;
  /** What proved the sign-in; stored with the session, for the OpenID provider's `amr` and `acr`. */
  methods?: readonly AuthMethod[];
}

/** A live session's sign-in: who, when, and with what (methods empty for sessions from before they were kept). */
export interface SessionAuthentication {
  userId: number;
  createdAt: number;
  methods: AuthMethod[];
}

/** What validating a token of a session needs: one indexed read (sessions ⋈ users by primary key). */
export interface SessionStatus {
  userId: number;
  revokedAt: number | null;
  expiresAt: number;
  userDisabled: boolean;
}

export interface RefreshTokenStatus extends SessionStatus {
  sessionId: string;
  usedAt: number | null;
}

/** A refresh token added to a session. */
export interface NewRefreshToken {
  jti: string;
  sessionId: string;
  issuedAt: number;
}

/** A refresh token `jti` of `sessionId`, to be replaced by `newJti` at `now`. */
export interface RefreshRotation {
  jti: string;
  newJti: string;
  sessionId: string;
  now: number;
}

/** The refresh token a rotation returned: its id and when it was issued (enough to sign it again, §2). */
export interface RefreshSuccessor {
  jti: string;
  issuedAt: number;
}

/** The session's last use becomes `at` if it is at or before `ifLastUsedBy` (earlier than `at`). */
export interface SessionTouch {
  at: number;
  ifLastUsedBy: number;
}

/** A session as its user's list shows it (§6). */
export interface SessionRecord {
  id: string;
  createdAt: number;
  lastUsedAt: number;
  ip: string | null;
  userAgent: string | null;
}

/** A partial token's second factor passed: the token is spent and the session opened together. */
export interface PartialTokenCompletion {
  partial: { jti: string; userId: number; expiresAt: number; tokenGeneration: number };
  session: NewSession;
  refreshJti: string;
}

export interface SessionStore {
  /** The sign-in behind a session that is neither revoked nor past its end, by `now`; undefined otherwise. */
  sessionAuthentication(sessionId: string, now: number): Promise<SessionAuthentication | undefined>;
  sessionStatus(sessionId: string): Promise<SessionStatus | undefined>;
  refreshTokenStatus(jti: string): Promise<RefreshTokenStatus | undefined>;
  /**
   * What refreshTokenStatus reads, for a token about to be used (an access token issued from it),
   * and, while its session is not revoked and its user not disabled, the session's last use moved
   * as `touch` says. On PostgreSQL one statement, read and write; on SQLite the read, then the
   * UPDATE. Validations use refreshTokenStatus, which never writes.
   */
  refreshTokenStatusAndTouch(jti: string, touch: SessionTouch): Promise<RefreshTokenStatus | undefined>;
  /**
   * Marks `jti` used and replaced by `newJti` (a conditional UPDATE … WHERE used_at IS NULL) and adds
   * `newJti` to the same session, moving the session's last use on to `now`, in one transaction. Of
   * concurrent callers exactly one adds its token; every caller gets that one back, so a session
   * keeps one live chain (§2). Undefined only for a token used without a recorded successor.
   */
  rotateRefreshToken(rotation: RefreshRotation): Promise<RefreshSuccessor | undefined>;
  /** The token that replaced a used refresh token, or undefined. */
  refreshTokenSuccessor(jti: string): Promise<RefreshSuccessor | undefined>;
  /** Adds a refresh token to an existing session (step-up, §2); the session's other tokens stay valid. */
  addRefreshToken(token: NewRefreshToken): Promise<void>;
  /** Ends an active session; false when it was already ended. */
  revokeSession(sessionId: string, now: number): Promise<boolean>;
  /** The user's sessions neither revoked nor past their end at `now`, newest first. */
  listLiveSessions(userId: number, now: number): Promise<SessionRecord[]>;
  /**
   * Ends `sessionId` if it is the user's, not revoked and not past its end at `now` (one conditional
   * UPDATE, so of concurrent callers exactly one gets true); false otherwise, with nothing changed.
   */
  revokeUserSession(userId: number, sessionId: string, now: number): Promise<boolean>;
  /**
   * Ends every active session of the user except `keepSessionId` and moves the user's token
   * generation on (partial tokens issued before stop working), in one transaction; returns how many.
   */
  revokeUserSessions(userId: number, now: number, keepSessionId?: string): Promise<number>;
  /**
   * Spends a partial token and opens its session, in one transaction: only while the user's token
   * generation is still the token's (the user's row lock is taken, so a concurrent revocation runs
   * before or after, never between), and INSERT … ON CONFLICT DO NOTHING on its jti, so exactly one
   * caller wins. False, with nothing changed, otherwise. Rows of spent tokens already expired are
   * purged on the way.
   */
  openSessionFromPartial(completion: PartialTokenCompletion): Promise<boolean>;
  partialTokenSpent(jti: string): Promise<boolean>;
}
