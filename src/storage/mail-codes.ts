/**
 * Mail codes: a mailed code is one row per (subject, purpose): a new send replaces the previous
 * code, and the row's created_at is the resend throttle's clock. Checking a code is two conditional
 * UPDATEs: `claimMailCodeTry` counts the try before the hash is compared, `consumeMailCode` spends it.
 */

/**
 * What a mailed code is for; each is also the name of the mail template that carries it, but for
 * `signup`, whose code goes out in `signup-confirm`.
 */
export type MailCodePurpose =
  | "email-otp-setup"
  | "email-otp-challenge"
  | "password-reset"
  | "email-transfer"
  | "invitation"
  | "signup";

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
  /**
   * A sign-up's chosen password (argon2id), kept with its code until the code is spent or replaced:
   * the row is the pending sign-up. Null for every other purpose, and for the unmailed code that
   * paces a sign-up with an address an account already has (such a code can never be spent).
   */
  passwordHash?: string | null;
}

export interface MailCodeRecord extends NewMailCode {
  passwordHash: string | null;
  tries: number;
  consumedAt: number | null;
}

export type IssueMailCodeResult = { issued: true } | { issued: false; lastSentAt: number };

/** A try at the live code of a purpose, counted only while fewer than `maxTries` were. */
export interface MailCodeTry {
  subject: string;
  purpose: MailCodePurpose;
  now: number;
  maxTries: number;
}

/** The code of generation `key` whose hash a caller checked; spent only with at most `maxTries` tries. */
export interface MailCodeCheck {
  key: MailCodeKey;
  codeHash: string;
  maxTries: number;
}

export interface MailCodeSpend extends MailCodeCheck {
  now: number;
}

/** A login email moved to `newEmail` with the code mailed there. */
export interface EmailChange extends MailCodeSpend {
  userId: number;
  newEmail: string;
}

export type EmailChangeResult = "changed" | "invalid" | "taken";

/** A live code: not spent, not expired, tries left. */
export interface LiveMailCode {
  userId: number | null;
  expiresAt: number;
}

export interface MailCodeStore {
  /**
   * Stores `code`, replacing the subject's previous code of the purpose, in one statement:
   * INSERT … ON CONFLICT (subject, purpose) DO UPDATE … WHERE created_at <= :sentBefore. So of two
   * concurrent sends inside the resend window exactly one is stored. When the window is not over,
   * nothing changes and the last send's time is returned. Rows of every subject that are both
   * expired and sent at or before `staleBefore` (the end of the usual resend window) are deleted on the way.
   */
  issueMailCode(code: NewMailCode, sentBefore: number, staleBefore: number): Promise<IssueMailCodeResult>;
  /** Deletes the code if it is still the generation `key.id` (an undelivered send leaves no code behind). */
  withdrawMailCode(key: MailCodeKey): Promise<void>;
  /** The subject's live code of the purpose (unspent, unexpired, fewer than `maxTries` tries), if any. Reads only. */
  liveMailCode(
    subject: string,
    purpose: MailCodePurpose,
    now: number,
    maxTries: number,
  ): Promise<LiveMailCode | undefined>;
  /** When the current code of the purpose was sent (the resend clock), or undefined. */
  mailCodeSentAt(subject: string, purpose: MailCodePurpose): Promise<number | undefined>;
  /**
   * Counts one try and returns the live code, in one statement: UPDATE … SET tries = tries + 1
   * WHERE subject AND purpose AND consumed_at IS NULL AND expires_at > :now AND tries < :maxTries
   * RETURNING …. Undefined when there is no live code; a burst of guesses gets at most maxTries rows.
   */
  claimMailCodeTry(attempt: MailCodeTry): Promise<MailCodeRecord | undefined>;
  /**
   * Spends the code: UPDATE … SET consumed_at = :now WHERE the generation and hash match AND
   * consumed_at IS NULL AND expires_at > :now AND tries <= :maxTries. True only for the one caller
   * whose UPDATE changed the row.
   */
  consumeMailCode(spend: MailCodeSpend): Promise<boolean>;
  /**
   * Spends the code and sets the user's login email in one transaction. "taken" when the unique
   * index on the lower-cased email refuses the address (the transaction rolls back: the code stays
   * unspent); "invalid" when the code was not spent by this caller.
   */
  changeEmailWithMailCode(change: EmailChange): Promise<EmailChangeResult>;
}
