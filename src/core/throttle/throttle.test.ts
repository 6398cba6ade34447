import { describe, expect, it } from "vitest";
import { claimAttempt, FRESH_THROTTLE, type ThrottleState, waitAfterFailures } from "./throttle.js";

const rule = { freeFailures: 5, maxWaitSeconds: 3600 };

describe("throttle", () => {
  it("lets five failures through freely, then doubles the wait up to the cap", () => {
    expect([1, 2, 3, 4].map((n) => waitAfterFailures(n, rule))).toEqual([0, 0, 0, 0]);
    expect([5, 6, 7, 8].map((n) => waitAfterFailures(n, rule))).toEqual([1, 2, 4, 8]);
    expect(waitAfterFailures(16, rule)).toBe(2048);
    expect(waitAfterFailures(17, rule)).toBe(3600);
    expect(waitAfterFailures(1000, rule)).toBe(3600);
  });

  it("refuses while waiting, with the wait rounded up, and counts nothing", () => {
    const state: ThrottleState = { failures: 6, nextAllowedAt: 10_500 };
    expect(claimAttempt(state, rule, 10_000)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(claimAttempt(state, rule, 8_400)).toEqual({ allowed: false, retryAfterSeconds: 3 });
  });

  it("counts a claimed attempt as a failure up front", () => {
    let state = FRESH_THROTTLE;
    for (let n = 1; n <= 5; n++) {
      const decision = claimAttempt(state, rule, 0);
      if (!decision.allowed) throw new Error("refused too early");
      state = decision.next;
    }
    expect(state).toEqual({ failures: 5, nextAllowedAt: 1000 });
    expect(claimAttempt(state, rule, 999)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(claimAttempt(state, rule, 1000)).toEqual({ allowed: true, next: { failures: 6, nextAllowedAt: 3000 } });
  });
});
