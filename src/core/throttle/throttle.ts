/**
 * Guess throttling (§4): the first `freeFailures` consecutive failures are free; after the n-th
 * failure (n ≥ freeFailures) the next attempt waits min(2^(n - freeFailures), maxWaitSeconds) s.
 *
 * The decision is pure. The caller claims an attempt *before* checking the secret, by writing
 * `next` with a compare-and-swap on the previous state: the attempt is counted as a failure up
 * front, so a burst of parallel guesses can never run more checks than the budget allows. A success
 * then resets the state.
 */
export interface ThrottleRule {
  freeFailures: number;
  maxWaitSeconds: number;
}

export interface ThrottleState {
  failures: number;
  /** Milliseconds since the epoch before which no attempt is allowed. */
  nextAllowedAt: number;
}

export const FRESH_THROTTLE: ThrottleState = { failures: 0, nextAllowedAt: 0 };

export type ThrottleDecision = { allowed: true; next: ThrottleState } | { allowed: false; retryAfterSeconds: number };

/** Seconds to wait after `failures` consecutive failures. */
export function waitAfterFailures(failures: number, rule: ThrottleRule): number {
  if (failures < rule.freeFailures) return 0;
  const exponent = failures - rule.freeFailures;
  // 2^exponent overflows nothing below 2^1023, but cap the exponent so the comparison stays cheap.
  if (exponent >= 31) return rule.maxWaitSeconds;
  return Math.min(2 ** exponent, rule.maxWaitSeconds);
}

/** Whole seconds until `state` allows an attempt at `nowMs`, rounded up; 0 if now. */
export function secondsUntilAllowed(state: ThrottleState, nowMs: number): number {
  return Math.max(0, Math.ceil((state.nextAllowedAt - nowMs) / 1000));
}

/** Decide whether an attempt may run now and, if so, the state that counts it as a failure. */
export function claimAttempt(state: ThrottleState, rule: ThrottleRule, nowMs: number): ThrottleDecision {
  const waitSeconds = secondsUntilAllowed(state, nowMs);
  if (waitSeconds > 0) return { allowed: false, retryAfterSeconds: waitSeconds };
  const failures = state.failures + 1;
  return { allowed: true, next: { failures, nextAllowedAt: nowMs + waitAfterFailures(failures, rule) * 1000 } };
}
