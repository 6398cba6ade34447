import { afterEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "./support/harness.js";

const ADMIN = "a".repeat(40);

/**
 * The client address (per-address limit, audit trail) comes from X-Forwarded-For only as far as the
 * hops LATCHKEY_TRUST_PROXY names (§4): whatever a client writes to the left of them is ignored.
 */
describe.each(testDialects())("client address behind proxies on $name", (dialect) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const start = async (env: Record<string, string>) => {
    t = await createTestApp(dialect, { env: { LATCHKEY_ADMIN_TOKEN: ADMIN, ...env } });
    await t.createUser("alice@example.com");
    return t;
  };
  const login = (app: TestApp, remoteAddress: string, forwardedFor: string | undefined, password = "Correct7Horse") =>
    app.app.inject({
      method: "POST",
      url: "/auth/login",
      remoteAddress,
      headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor },
      payload: { username: "alice@example.com", password },
    });
  /** The addresses the audit trail recorded for alice's logins, oldest first. */
  const recorded = async (app: TestApp) => {
    const res = await app.app.inject({
      method: "GET",
      url: "/admin/users/1/events?limit=50",
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(res.statusCode).toBe(200);
    const events: { type: string; ip: string | null }[] = res.json().events;
    return events
      .filter((e) => e.type === "login.succeeded")
      .map((e) => e.ip)
      .reverse();
  };

  it("takes the address the listed proxy saw, and ignores the header from anyone else", async () => {
    const app = await start({ LATCHKEY_TRUST_PROXY: "10.0.0.0/8,192.0.2.1" });
    expect((await login(app, "10.1.2.3", "6.6.6.6, 203.0.113.7")).statusCode).toBe(200);
    // Two listed proxies in a row: the address before both.
    expect((await login(app, "10.1.2.3", "6.6.6.6, 203.0.113.8, 192.0.2.1")).statusCode).toBe(200);
    // A client talking to the node directly cannot name an address.
    expect((await login(app, "198.51.100.9", "203.0.113.7")).statusCode).toBe(200);
    expect(await recorded(app)).toEqual(["203.0.113.7", "203.0.113.8", "198.51.100.9"]);
  });

  it("with a hop count, an extra leftmost X-Forwarded-For entry does not dodge the per-address limit", async () => {
    const app = await start({
      LATCHKEY_TRUST_PROXY: "1",
      LATCHKEY_RATE_LIMIT_PER_MINUTE: "2",
      LATCHKEY_THROTTLE_FREE_FAILURES: "100",
    });
    const proxy = "10.0.0.1";
    for (const forged of ["6.6.6.1", "6.6.6.2"]) {
      expect((await login(app, proxy, `${forged}, 203.0.113.9`, "Wrong7Horse")).statusCode).toBe(401);
    }
    const refused = await login(app, proxy, "6.6.6.3, 203.0.113.9", "Wrong7Horse");
    expect(refused.statusCode).toBe(429);
    expect(refused.json().message).toBe("TOO_MANY_REQUESTS");
    // Another client behind the same proxy has its own count, and is recorded under its own address.
    expect((await login(app, proxy, "6.6.6.1, 203.0.113.10")).statusCode).toBe(200);
    expect(await recorded(app)).toEqual(["203.0.113.10"]);
  });

  it("without LATCHKEY_TRUST_PROXY, X-Forwarded-For is ignored", async () => {
    const app = await start({});
    expect((await login(app, "198.51.100.4", "203.0.113.7")).statusCode).toBe(200);
    expect(await recorded(app)).toEqual(["198.51.100.4"]);
  });
});
