import type { Clock } from "../../platform/clock.js";
import type { MailCodePurpose, Store, UserRecord } from "../../storage/store.js";
import { AppError, type ErrorCode } from "../errors.js";
import {
  claimAttempt,
  FRESH_THROTTLE,
  secondsUntilAllowed,
  type ThrottleRule,
  type ThrottleState,
} from "./throttle.js";

/** Mailed codes are counted per purpose, across sends (§4): a new code does not reset the count. */
export type MailCodeGuessKind = `otp:${MailCodePurpose}`;

export type GuessKind = "password" | "totp" | "recovery" | MailCodeGuessKind;

const REFUSAL: Record<GuessKind, ErrorCode> = {
  password: "TOO_MANY_FAILED_PASSWORD_CHECKS",
  totp: "TOO_MANY_TOTP_CHECKS",
  recovery: "TOO_MANY_RECOVERY_CODE_CHECKS",
  "otp:email-otp-setup": "TOO_MANY_OTP_CHECKS",
  "otp:email-otp-challenge": "TOO_MANY_OTP_CHECKS",
  "otp:password-reset": "TOO_MANY_OTP_CHECKS",
  "otp:email-transfer": "TOO_MANY_OTP_CHECKS",
  "otp:invitation": "TOO_MANY_OTP_CHECKS",
  "otp:signup": "TOO_MANY_OTP_CHECKS",
};

/** A known account's throttles are its own: `user:<id>` (also written in SQL by the login's start). */
const USER_SUBJECT_PREFIX = "user:";

/**
 * Enough for every contender of a burst to win once; each lost round after the first (which assumes
 * there is no count yet) means another caller won.
 */
const MAX_SWAP_ROUNDS = 200;

/**
 * Guess throttles kept in the database, so every node shares them (§4). `claim` counts the attempt
 * before the secret is checked (one compare-and-swap decides), `succeed` clears the count.
 */
export class GuessThrottle {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly rule: ThrottleRule,
  ) {}

  /** Throws the kind's 429 with retryAfter when the subject must wait; otherwise counts one attempt. */
  claim(subject: string, kind: GuessKind): Promise<void> {
    return this.claimFrom(0, subject, kind);
  }

  /**
   * The start of a password login: the account with `email`, and one guess counted on its password
   * throttle (on `unknownSubject`'s when no account has the email), as `claim` counts it. The first
   * round, the insert against "no count", goes to the database with the read in one round trip.
   */
  async claimPasswordLogin(
    email: string,
    unknownSubject: string,
  ): Promise<{ user: UserRecord | undefined; subject: string }> {
    const next = this.decide(undefined, "password");
    const { user, subject, claimed } = await this.store.startPasswordLogin({
      email,
      userSubjectPrefix: USER_SUBJECT_PREFIX,
      unknownSubject,
      kind: "password",
      next,
    });
    if (!claimed) await this.claimFrom(1, subject, "password");
    return { user, subject };
  }

  private async claimFrom(firstRound: number, subject: string, kind: GuessKind): Promise<void> {
    for (let round = firstRound; round < MAX_SWAP_ROUNDS; round++) {
      // Most subjects have no count (a success cleared it): the first round swaps against "no row"
      // without reading it, and only a lost swap pays for the read. The swap decides either way.
      const stored = round === 0 ? undefined : await this.store.getThrottle(subject, kind);
      if (await this.store.swapThrottle(subject, kind, stored, this.decide(stored, kind))) return;
    }
    // Contention beyond any honest load: refuse rather than run an uncounted check.
    throw new AppError(REFUSAL[kind], { retryAfterSeconds: 1 });
  }

  /** The state one more attempt leaves, or the kind's 429 when the subject must wait. */
  private decide(stored: ThrottleState | undefined, kind: GuessKind): ThrottleState {
    const decision = claimAttempt(stored ?? FRESH_THROTTLE, this.rule, this.clock.now());
    if (!decision.allowed) {
      throw new AppError(REFUSAL[kind], { retryAfterSeconds: decision.retryAfterSeconds });
    }
    return decision.next;
  }

  succeed(subject: string, kind: GuessKind): Promise<void> {
    return this.store.resetThrottle(subject, kind);
  }

  /** Whole seconds until the next attempt is allowed (the `next-guess` endpoints), 0 if now. */
  async secondsToWait(subject: string, kind: GuessKind): Promise<number> {
    const stored = await this.store.getThrottle(subject, kind);
    return stored ? secondsUntilAllowed(stored, this.clock.now()) : 0;
  }
}

export function userSubject(userId: number): string {
  return `${USER_SUBJECT_PREFIX}${userId}`;
}
