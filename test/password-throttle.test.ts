import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects, testHasher } from "./support/harness.js";
import { attemptLogin } from "./support/http.js";

describe.each(testDialects())("password throttle on $name", (dialect) => {
  let t: TestApp;
  let checks: number;

  beforeEach(async () => {
    checks = 0;
    const counting = {
      ...testHasher,
      verify: (phc: string, password: string) => {
        checks++;
        return testHasher.verify(phc, password);
      },
    };
    t = await createTestApp(dialect, { hasher: counting });
    await t.createUser("alice@example.com");
  });
  afterEach(async () => {
    await t.close();
  });

  const attempt = (password: string, username = "alice@example.com") => attemptLogin(t, username, password);

  async function expectRefused(retryAfter: number) {
    const before = checks;
    const res = await attempt("Correct7Horse");
    expect(res.statusCode).toBe(429);
    expect(res.json()).toEqual({
      statusCode: 429,
      error: "Too many requests",
      message: "TOO_MANY_FAILED_PASSWORD_CHECKS",
      retryAfter,
    });
    expect(res.headers["retry-after"]).toBe(String(retryAfter));
    expect(checks).toBe(before); // a refused attempt checks nothing
  }

  it("lets 5 failures through, then waits 1, 2, 4 … s; refused attempts are not counted", async () => {
    for (let i = 0; i < 5; i++) expect((await attempt("Wrong7Horse")).statusCode).toBe(401);
    await expectRefused(1);
    await expectRefused(1); // not counted: the wait did not grow
    for (const wait of [1, 2, 4, 8]) {
      t.clock.advanceSeconds(wait);
      expect((await attempt("Wrong7Horse")).statusCode).toBe(401);
      await expectRefused(wait * 2);
    }
    t.clock.advanceSeconds(15);
    await expectRefused(1); // rounded up: 0.x s left
  });

  it("caps the wait at 3600 s", async () => {
    for (let n = 1; n <= 20; n++) {
      expect((await attempt("Wrong7Horse")).statusCode).toBe(401);
      t.clock.advanceSeconds(3600);
    }
    t.clock.advanceSeconds(-3600);
    await expectRefused(3600);
  });

  it("resets the count on success", async () => {
    for (let i = 0; i < 5; i++) await attempt("Wrong7Horse");
    t.clock.advanceSeconds(1);
    expect((await attempt("Correct7Horse")).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await attempt("Wrong7Horse")).statusCode).toBe(401);
    await expectRefused(1);
  });

  it("throttles an unknown username exactly like a known one", async () => {
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 7; i++) {
      known.push((await attempt("Wrong7Horse")).statusCode);
      unknown.push((await attempt("Wrong7Horse", "nobody@example.com")).statusCode);
    }
    expect(unknown).toEqual(known);
    expect(known).toEqual([401, 401, 401, 401, 401, 429, 429]);
  });

  it("never runs more checks than the budget under 20 parallel wrong logins", async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => attempt("Wrong7Horse")));
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    expect(checks).toBe(5);
  });
});
