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
  /** Moves on whenever every session of the user is revoked; a partial token is good only under its own. */
  tokenGeneration: number;
}

export interface NewSession {
  id: string;
  userId: number;
  createdAt: number;
  expiresAt: number;
  ip: string | null;
  userAgent: string | null;
}

/**
 * The start of a password login: the account with this email and the first claim of a guess on its
 * password throttle, `next` inserted only where no count exists yet (a compare-and-swap from "none",
 * as `swapThrottle` with `expected` undefined). The subject is `userSubjectPrefix` + the account's
 * id, or `unknownSubject` when no account has the email.
 */
export interface PasswordLoginStart {
  email: string;
  userSubjectPrefix: string;
  unknownSubject: string;
  kind: string;
  next: ThrottleState;
}

export interface PasswordLoginStarted {
  user: UserRecord | undefined;
  /** The throttle subject the guess was counted on (the account's, or `unknownSubject`). */
  subject: string;
  /** Whether this caller's insert stored `next`; false when a count already existed (left as it was). */
  claimed: boolean;
}

export interface PasswordLoginEnd {
  throttle: { subject: string; kind: string };
  session: NewSession;
  refreshJti: string;
  event: AuditEventRecord;
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

/** The refresh token a rotation returned: its id and when it was issued (enough to sign it again, §2). */
export interface RefreshSuccessor {
  jti: string;
  issuedAt: number;
}

/** A partial token's second factor passed: the token is spent and the session opened together. */
export interface PartialTokenCompletion {
  partial: { jti: string; userId: number; expiresAt: number; tokenGeneration: number };
  session: NewSession;
  refreshJti: string;
}

/** A new password: every session of the user but `keepSessionId` ends with it (§2), and `event` is recorded. */
export interface PasswordChange {
  userId: number;
  passwordHash: string;
  keepSessionId?: string | undefined;
  now: number;
  event: AuditEventRecord;
}

/** A password reset: the mailed code is spent as well, and the password throttle cleared. */
export interface PasswordResetWithCode extends PasswordChange {
  code: { key: MailCodeKey; codeHash: string; maxTries: number };
  clearThrottle: { subject: string; kind: string };
}

export interface SigningKeyRecord {
  kid: string;
  /**
   * The PKCS#8 PEM sealed with the encryption keyring (aad `signing-key:<kid>`). A row stored by a
   * version before sealing holds the plain PEM until a node seals it.
   */
  privateKeyEnc: string;
  publicPem: string;
  createdAt: number;
  /** From when the key signs; it is published (JWKS) from the moment it is stored. */
  activatesAt: number;
}

export interface TwoFactorRecord {
  totp: { secretEnc: string | null; pendingSecretEnc: string | null; enabledAt: number | null } | undefined;
  emailOtp: { email: string | null; pendingEmail: string | null; enabledAt: number | null } | undefined;
  recoveryCodes: { createdAt: number; remaining: number } | undefined;
}

/** The user_totp row: sealed secrets (AES-256-GCM with key id, aad `totp:<userId>`). */
export interface TotpState {
  secretEnc: string | null;
  pendingSecretEnc: string | null;
  enabledAt: number | null;
  lastUsedStep: number | null;
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

  /**
   * See PasswordLoginStart. On PostgreSQL one statement (one round trip before the hash instead of
   * two); on SQLite the read and then the insert.
   */
  startPasswordLogin(start: PasswordLoginStart): Promise<PasswordLoginStarted>;

  // Sessions and refresh tokens
  /** Creates the session and its first refresh token in one transaction. */
  createSession(session: NewSession, refreshJti: string): Promise<void>;
  /**
   * After a correct password, in one transaction: clears the password throttle and, unless a second
   * factor is active, opens the session with its first refresh token and records `event` in the
   * audit trail. False when a second factor is active: then only the throttle was cleared.
   */
  openSessionAfterPassword(end: PasswordLoginEnd): Promise<boolean>;
  sessionStatus(sessionId: string): Promise<SessionStatus | undefined>;
  refreshTokenStatus(jti: string): Promise<RefreshTokenStatus | undefined>;
  /**
   * Marks `jti` used and replaced by `newJti` (a conditional UPDATE … WHERE used_at IS NULL) and adds
   * `newJti` to the same session, in one transaction. Of concurrent callers exactly one adds its
   * token; every caller gets that one back, so a session keeps one live chain (§2). Undefined only
   * for a token used without a recorded successor.
   */
  rotateRefreshToken(input: {
    jti: string;
    newJti: string;
    sessionId: string;
    now: number;
  }): Promise<RefreshSuccessor | undefined>;
  /** The token that replaced a used refresh token, or undefined. */
  refreshTokenSuccessor(jti: string): Promise<RefreshSuccessor | undefined>;
  /** Ends an active session; false when it was already ended. */
  revokeSession(sessionId: string, now: number): Promise<boolean>;
  /**
   * Ends every active session of the user except `keepSessionId` and moves the user's token
   * generation on (partial tokens issued before stop working), in one transaction; returns how many.
   */
  revokeUserSessions(userId: number, now: number, keepSessionId?: string): Promise<number>;
  /**
   * Sets the password hash, revokes as revokeUserSessions does and records `event`, in one
   * transaction: a failure leaves the old password with its sessions.
   */
  changePassword(change: PasswordChange): Promise<void>;
  /**
   * Spends the reset code (as consumeMailCode), then everything changePassword does and clears the
   * password throttle, in one transaction. False, with nothing changed, when the code was not spent
   * by this caller.
   */
  resetPasswordWithMailCode(reset: PasswordResetWithCode): Promise<boolean>;

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
  /**
   * Deletes, in one statement, every key that a later key replaced at or before `cutoff` (the
   * replacement's activation time): those older than the key that was signing at `cutoff`.
   */
  deleteSigningKeysRetiredBefore(cutoff: number): Promise<number>;
  /** Replaces a key's stored private key if it is still `from` (a conditional UPDATE); true when replaced. */
  swapSigningKeyPrivate(input: { kid: string; from: string; to: string }): Promise<boolean>;

  // Two-factor: TOTP, recovery codes, partial tokens and step-up (issue 3).
  // Methods that change which methods are active ("2FA on/off") first lock the user's row
  // (`UPDATE users … WHERE id = ?`), so they run one at a time per user on both dialects; that is
  // how "the first method creates the recovery codes" and "the last one deletes them" stay true
  // under concurrent requests.
  /** The stored TOTP state of a user (sealed secrets, never plaintext), or undefined if never set up. */
  totpState(userId: number): Promise<TotpState | undefined>;
  /** Upserts the pending secret (one statement); an active secret is left as it is (§3 life cycle). */
  setPendingTotpSecret(userId: number, pendingSecretEnc: string): Promise<void>;
  /**
   * Activates the pending secret, in one transaction under the user lock: a conditional UPDATE
   * `… WHERE pending_secret_enc = :checked` decides (a concurrent setup or enable makes it lose).
   * The winner stores `step` as last_used_step; if no method was active before, the user's recovery
   * codes are replaced by `recoveryCodeHashes`. Returns whether this caller won and whether codes were stored.
   */
  activateTotp(input: {
    userId: number;
    pendingSecretEnc: string;
    step: number;
    now: number;
    recoveryCodeHashes: string[];
  }): Promise<{ activated: boolean; recoveryCodesCreated: boolean }>;
  /**
   * Accepts TOTP step `step` once (RFC 6238 §5.2): one conditional UPDATE
   * `… WHERE enabled_at IS NOT NULL AND secret_enc = :checked AND (last_used_step IS NULL OR last_used_step < :step)`.
   * True only for the caller whose UPDATE changed the row.
   */
  useTotpStep(input: { userId: number; secretEnc: string; step: number }): Promise<boolean>;
  /**
   * Deactivates TOTP (and drops a pending secret) under the user lock; when no method stays active the
   * recovery codes are deleted in the same transaction. False when TOTP was not active.
   */
  deactivateTotp(userId: number): Promise<boolean>;
  /**
   * Spends one unused recovery code: one conditional UPDATE `SET used_at = :now WHERE user_id = :id AND
   * code_hash IN (:hashes) AND used_at IS NULL`; `codeHashes` are the candidate's hashes under every key
   * id. True only for the caller whose UPDATE changed a row.
   */
  useRecoveryCode(input: { userId: number; codeHashes: string[]; now: number }): Promise<boolean>;
  /**
   * Replaces every recovery code of the user with `codeHashes`, in one transaction under the user lock,
   * only while a method is active. False (nothing changed) when 2FA is off.
   */
  replaceRecoveryCodes(input: { userId: number; codeHashes: string[]; now: number }): Promise<boolean>;
  /**
   * Spends a partial token and opens its session, in one transaction: only while the user's token
   * generation is still the token's (the user's row lock is taken, so a concurrent revocation runs
   * before or after, never between), and INSERT … ON CONFLICT DO NOTHING on its jti, so exactly one
   * caller wins. False, with nothing changed, otherwise. Rows of spent tokens already expired are
   * purged on the way.
   */
  openSessionFromPartial(completion: PartialTokenCompletion): Promise<boolean>;
  partialTokenSpent(jti: string): Promise<boolean>;
  /** Adds a refresh token to an existing session (step-up, §2); the session's other tokens stay valid. */
  addRefreshToken(input: { jti: string; sessionId: string; issuedAt: number }): Promise<void>;

  // Mail codes and email (issue 4).
  // A mailed code is one row per (subject, purpose): a new send replaces the previous code, and the
  // row's created_at is the resend throttle's clock. Checking a code is two conditional UPDATEs:
  // `claimMailCodeTry` counts the try before the hash is compared, `consumeMailCode` spends it.
  /**
   * Stores `code`, replacing the subject's previous code of the purpose, in one statement:
   * INSERT … ON CONFLICT (subject, purpose) DO UPDATE … WHERE created_at <= :sentBefore. So of two
   * concurrent sends inside the resend window exactly one is stored. When the window is not over,
   * nothing changes and the last send's time is returned. Rows of every subject that are both
   * expired and past the resend window are deleted on the way.
   */
  issueMailCode(code: NewMailCode, sentBefore: number): Promise<IssueMailCodeResult>;
  /** Deletes the code if it is still the generation `key.id` (an undelivered send leaves no code behind). */
  withdrawMailCode(key: MailCodeKey): Promise<void>;
  /** When the current code of the purpose was sent (the resend clock), or undefined. */
  mailCodeSentAt(subject: string, purpose: MailCodePurpose): Promise<number | undefined>;
  /**
   * Counts one try and returns the live code, in one statement: UPDATE … SET tries = tries + 1
   * WHERE subject AND purpose AND consumed_at IS NULL AND expires_at > :now AND tries < :maxTries
   * RETURNING …. Undefined when there is no live code; a burst of guesses gets at most maxTries rows.
   */
  claimMailCodeTry(input: {
    subject: string;
    purpose: MailCodePurpose;
    now: number;
    maxTries: number;
  }): Promise<MailCodeRecord | undefined>;
  /**
   * Spends the code: UPDATE … SET consumed_at = :now WHERE the generation and hash match AND
   * consumed_at IS NULL AND expires_at > :now AND tries <= :maxTries. True only for the one caller
   * whose UPDATE changed the row.
   */
  consumeMailCode(input: { key: MailCodeKey; codeHash: string; now: number; maxTries: number }): Promise<boolean>;
  /**
   * Spends the code and sets the user's login email in one transaction. "taken" when the unique
   * index on the lower-cased email refuses the address (the transaction rolls back: the code stays
   * unspent); "invalid" when the code was not spent by this caller.
   */
  changeEmailWithMailCode(input: {
    key: MailCodeKey;
    codeHash: string;
    now: number;
    maxTries: number;
    userId: number;
    newEmail: string;
  }): Promise<"changed" | "invalid" | "taken">;
  /** Upserts the address a setup code was mailed to; an active email OTP stays active (§3 life cycle). */
  setPendingEmailOtp(userId: number, email: string): Promise<void>;
  /**
   * Makes `email` the active 2FA address (one transaction under the user lock, see Two-factor). If
   * no method was active before, the recovery codes are replaced by `recoveryCodeHashes`.
   */
  activateEmailOtp(input: {
    userId: number;
    email: string;
    now: number;
    recoveryCodeHashes: string[];
  }): Promise<{ activated: boolean; recoveryCodesCreated: boolean }>;
  /**
   * Deactivates email OTP under the user lock; when no method stays active the recovery codes are
   * deleted in the same transaction. False when email OTP was not active.
   */
  deactivateEmailOtp(userId: number): Promise<boolean>;

  // Administration and audit trail (issue 5).
  recordAuditEvent(event: AuditEventRecord): Promise<void>;
  /** The user's events, newest first. */
  listAuditEvents(query: { userId: number; offset: number; limit: number }): Promise<{
    events: AuditEventRecord[];
    total: number;
  }>;
  /** Sets or clears users.disabled_at; false when the user does not exist. */
  setUserDisabled(userId: number, disabledAt: number | null): Promise<boolean>;
  /** Sessions neither revoked nor past their absolute end. */
  countLiveSessions(userId: number, now: number): Promise<number>;
  /** Turns every 2FA method off and drops pending setups and recovery codes, under the user lock. */
  resetTwoFactor(userId: number): Promise<boolean>;
  /** Every sealed TOTP secret (active or pending), for re-encryption under a new key. */
  listSealedTotpSecrets(): Promise<{ userId: number; secretEnc: string | null; pendingSecretEnc: string | null }[]>;
  /** Replaces one sealed secret if it is still `from` (a conditional UPDATE); true when replaced. */
  swapSealedTotpSecret(input: { userId: number; pending: boolean; from: string; to: string }): Promise<boolean>;

  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface AuditEventRecord {
  type: string;
  userId: number;
  at: number;
  ip: string | null;
  userAgent: string | null;
  details?: Record<string, string | number | boolean | null> | undefined;
}

// Mail codes and email (issue 4)

/** What a mailed code is for; each is also the name of the mail template that carries it. */
export type MailCodePurpose = "email-otp-setup" | "email-otp-challenge" | "password-reset" | "email-transfer";

/** One generation of a code: `id` changes with every send, so a replaced code can no longer be spent. */
export interface MailCodeKey {
  subject: string;
  purpose: MailCodePurpose;
  id: string;
}

export interface NewMailCode extends MailCodeKey {
  /**
   * Null for a code that can never be spent: a reset to an address no account has, or the unmailed
   * code that paces a transfer to an address in use.
   */
  userId: number | null;
  /** The address the code was mailed to. */
  target: string;
  origin: string | null;
  language: string | null;
  /** HMAC-SHA-256 of the code (core/otp/codes.ts) under keyring.macKey("mail-code", kid). */
  codeHash: string;
  kid: string;
  createdAt: number;
  expiresAt: number;
}

export interface MailCodeRecord extends NewMailCode {
  tries: number;
  consumedAt: number | null;
}

export type IssueMailCodeResult = { issued: true } | { issued: false; lastSentAt: number };
