import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "./support/harness.js";

/**
 * The per-address limit stands in front of the unauthenticated endpoints only (§4). The other routes
 * do not carry its hook at all: they answer without the limit's headers and are never refused by it.
 */
describe("rate-limit scope", () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(
      { name: "sqlite", url: "sqlite::memory:" },
      { env: { LATCHKEY_RATE_LIMIT_PER_MINUTE: "2" } },
    );
  });
  afterEach(async () => {
    await t.close();
  });

  it("counts the public endpoints and leaves the others alone", async () => {
    const remoteAddress = "10.9.8.7";
    const login = () =>
      t.app.inject({
        method: "POST",
        url: "/auth/login",
        remoteAddress,
        payload: { username: "nobody@example.com", password: "Wrong7Horse" },
      });
    const first = await login();
    expect(first.headers["x-ratelimit-limit"]).toBe("2");
    await login();
    expect((await login()).statusCode).toBe(429);
    for (const [method, url] of [
      ["GET", "/auth/accesstoken/validate"],
      ["GET", "/auth/accesstoken"],
      ["GET", "/user/2fa"],
      ["GET", "/health/live"],
    ] as const) {
      for (let i = 0; i < 3; i++) {
        const res = await t.app.inject({ method, url, remoteAddress });
        expect(res.statusCode, url).not.toBe(429);
        expect(res.headers["x-ratelimit-limit"], url).toBeUndefined();
      }
    }
  });
});
