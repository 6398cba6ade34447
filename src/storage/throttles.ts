import type { ThrottleState } from "../core/throttle/throttle.js";

/** Throttles: a count of guesses per subject and kind, changed only by compare-and-swap. */

/** Whose count (`user:<id>`, an address…) and of what (a password, a mailed code…). */
export interface ThrottleKey {
  subject: string;
  kind: string;
}

export interface ThrottleStore {
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
}
