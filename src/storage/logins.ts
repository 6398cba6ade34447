import type { ThrottleState } from "../core/throttle/throttle.js";
import type { AuditEventRecord } from "./admin.js";
import type { NewSession } from "./sessions.js";
import type { ThrottleKey } from "./throttles.js";
import type { UserRecord } from "./users.js";

/**
 * Password logins: the two steps around the password hash, each as few statements as it can be,
 * since every login pays them (the account and the throttle before, the session after).
 */

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
  throttle: ThrottleKey;
  session: NewSession;
  refreshJti: string;
  event: AuditEventRecord;
}

export interface LoginStore {
  /**
   * See PasswordLoginStart. On PostgreSQL one statement (one round trip before the hash instead of
   * two); on SQLite the read and then the insert.
   */
  startPasswordLogin(start: PasswordLoginStart): Promise<PasswordLoginStarted>;
  /**
   * After a correct password, in one transaction: clears the password throttle and, unless a second
   * factor is active, opens the session with its first refresh token and records `event` in the
   * audit trail. False when a second factor is active: then only the throttle was cleared.
   */
  openSessionAfterPassword(end: PasswordLoginEnd): Promise<boolean>;
}
