import type { ThrottleState } from "../core/throttle/throttle.js";

/**
 * The Store: every read and write the domain needs, and nothing of the rules. Methods that consume
 * or rotate a single-use secret say how they stay atomic; all of them hold on SQLite and PostgreSQL,
 * with one process or many sharing the database.
 */
export type Dialect = "sqlite" | "postgres";

export interface UserRecord {
  id: number;
  email: string;
  passwordHash: string | null;
  disabledAt: number | null;
  createdAt: number;
}

export interface NewSession {
  id: string;
  userId: number;
  createdAt: number;
  expiresAt: number;
  ip: string | null;
  userAgent: string | null;
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

export interface SigningKeyRecord {
  kid: string;
  privatePem: string;
  publicPem: string;
  createdAt: number;
}

export interface TwoFactorRecord {
  totp: { secretEnc: string | null; pendingSecretEnc: string | null; enabledAt: number | null } | undefined;
  emailOtp: { email: string | null; pendingEmail: string | null; enabledAt: number | null } | undefined;
  recoveryCodes: { createdAt: number; remaining: number } | undefined;
}

export class EmailTakenError extends Error {
  constructor() {
    super("email already in use");
    this.name = "EmailTakenError";
  }
}

export interface Store {
  readonly dialect: Dialect;

  // Users
  /** Throws EmailTakenError when the lower-cased email exists (a unique index decides). */
  createUser(input: { email: string; passwordHash: string | null; createdAt: number }): Promise<number>;
  findUserByEmail(email: string): Promise<UserRecord | undefined>;
  findUserById(id: number): Promise<UserRecord | undefined>;
  listUsers(query: { emailContains?: string; offset: number; limit: number }): Promise<{
    users: UserRecord[];
    total: number;
  }>;
  deleteUser(id: number): Promise<boolean>;
  setPasswordHash(userId: number, passwordHash: string): Promise<void>;
  twoFactor(userId: number): Promise<TwoFactorRecord>;

  // Sessions and refresh tokens
  /** Creates the session and its first refresh token in one transaction. */
  createSession(session: NewSession, refreshJti: string): Promise<void>;
  sessionStatus(sessionId: string): Promise<SessionStatus | undefined>;
  refreshTokenStatus(jti: string): Promise<RefreshTokenStatus | undefined>;
  /**
   * Marks `jti` used (a conditional UPDATE … WHERE used_at IS NULL) and adds `newJti` to the same
   * session, in one transaction. Returns whether this caller was the one that marked it used.
   */
  rotateRefreshToken(input: { jti: string; newJti: string; sessionId: string; now: number }): Promise<boolean>;
  /** Ends an active session; false when it was already ended. */
  revokeSession(sessionId: string, now: number): Promise<boolean>;
  /** Ends every active session of the user except `keepSessionId`; returns how many. */
  revokeUserSessions(userId: number, now: number, keepSessionId?: string): Promise<number>;

  // Throttles
  getThrottle(subject: string, kind: string): Promise<ThrottleState | undefined>;
  /**
   * Compare-and-swap: writes `next` only if the stored state still equals `expected` (or, with
   * `expected` undefined, no row exists yet). True when this caller's write won.
   */
  swapThrottle(
    subject: string,
    kind: string,
    expected: ThrottleState | undefined,
    next: ThrottleState,
  ): Promise<boolean>;
  resetThrottle(subject: string, kind: string): Promise<void>;

  // Signing keys
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  insertSigningKey(key: SigningKeyRecord): Promise<void>;
  deleteSigningKeysBefore(createdBefore: number, keepKid: string): Promise<number>;

  ping(): Promise<void>;
  close(): Promise<void>;
}
