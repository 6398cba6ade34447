import type { AuditEventRecord } from "./admin.js";
import type { MailCodeCheck, MailCodeSpend } from "./mail-codes.js";
import type { NewSession } from "./sessions.js";
import type { ThrottleKey } from "./throttles.js";

/** Users: accounts by email or id, and their passwords. */

export interface UserRecord {
  id: number;
  email: string;
  passwordHash: string | null;
  disabledAt: number | null;
  createdAt: number;
  /** Moves on whenever every session of the user is revoked; a partial token is good only under its own. */
  tokenGeneration: number;
}

export interface NewUser {
  email: string;
  passwordHash: string | null;
  createdAt: number;
}

export interface UserQuery {
  emailContains?: string;
  offset: number;
  limit: number;
}

export interface UserPage {
  users: UserRecord[];
  total: number;
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
  code: MailCodeCheck;
  clearThrottle: ThrottleKey;
}

/**
 * An invitation accepted: its code spent, the first password set (only where the account has none),
 * the session opened with its first refresh token and `events` recorded.
 */
export interface InvitationAcceptance {
  code: MailCodeCheck;
  userId: number;
  passwordHash: string;
  now: number;
  session: NewSession;
  refreshJti: string;
  events: AuditEventRecord[];
}

/** A confirmed sign-up: the code is spent and the account made, with its `user.created` event. */
export interface SignupCompletion {
  code: MailCodeSpend;
  user: NewUser & { passwordHash: string };
  /** Recorded with the new account's id. */
  event: Omit<AuditEventRecord, "userId">;
}

export type SignupCompletionResult = { outcome: "created"; userId: number } | { outcome: "invalid" | "taken" };

export class EmailTakenError extends Error {
  constructor() {
    super("email already in use");
    this.name = "EmailTakenError";
  }
}

export interface UserStore {
  /** Throws EmailTakenError when the lower-cased email exists (a unique index decides). */
  createUser(input: NewUser): Promise<number>;
  findUserByEmail(email: string): Promise<UserRecord | undefined>;
  findUserById(id: number): Promise<UserRecord | undefined>;
  listUsers(query: UserQuery): Promise<UserPage>;
  deleteUser(id: number): Promise<boolean>;
  setPasswordHash(userId: number, passwordHash: string): Promise<void>;
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
  /**
   * Spends the invitation's code (as consumeMailCode), sets the password by
   * UPDATE … WHERE id AND password_hash IS NULL, opens the session and records the events, in one
   * transaction. Sessions and the token generation are left as they are. False, with nothing
   * changed, when the code was not spent by this caller or the account has a password already.
   */
  acceptInvitation(acceptance: InvitationAcceptance): Promise<boolean>;
  /**
   * Spends the sign-up code (as consumeMailCode), creates the account and records `event`, in one
   * transaction. "invalid" when the code was not spent by this caller; "taken" when the unique index
   * on the lower-cased email refuses the address (rolled back: the code stays unspent). Of concurrent
   * completions for one address at most one creates an account.
   */
  createUserWithMailCode(completion: SignupCompletion): Promise<SignupCompletionResult>;
}
