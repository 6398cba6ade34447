import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "./support/harness.js";
import { accessFor, attemptLogin, bearer, call, get, login, PASSWORD, post } from "./support/http.js";
import { codeAt, enrolTotp } from "./two-factor/support.js";

const ADMIN_TOKEN = "admin-token-0123456789abcdefghijklmnopqrstuvwxyz";

describe.each(testDialects())("admin API on $name", (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect, { env: { LATCHKEY_ADMIN_TOKEN: ADMIN_TOKEN } });
  });
  afterEach(async () => {
    await t.close();
  });

  const admin = (method: "GET" | "POST" | "DELETE", url: string, payload?: object) =>
    call(t, method, url, ADMIN_TOKEN, payload);

  async function usersInDb(): Promise<number> {
    return (await t.deps.store.listUsers({ offset: 0, limit: 500 })).total;
  }

  it("refuses calls without, or with a wrong or nearly right token, alike, changing nothing", async () => {
    const nearMiss = `${ADMIN_TOKEN.slice(0, -1)}X`;
    const answers = [];
    for (const headers of [{}, bearer("wrong"), bearer(nearMiss), { authorization: `Basic ${ADMIN_TOKEN}` }]) {
      const res = await t.app.inject({
        method: "POST",
        url: "/admin/users",
        headers,
        payload: { email: "x@example.com" },
      });
      answers.push([res.statusCode, res.body]);
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(answers[0]).toEqual([
      401,
      JSON.stringify({ statusCode: 401, error: "Unauthorized", message: "ADMIN_TOKEN_INVALID" }),
    ]);
    expect(await usersInDb()).toBe(0);
  });

  it("creates users: 201, 409 for a taken address, 400 for a weak password", async () => {
    const created = await admin("POST", "/admin/users", { email: "alice@example.com", password: PASSWORD });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({ userId: 1 });
    expect((await login(t, "alice@example.com")).length).toBeGreaterThan(0);
    const taken = await admin("POST", "/admin/users", { email: "ALICE@example.com" });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().message).toBe("EMAIL_ALREADY_IN_USE");
    const weak = await admin("POST", "/admin/users", { email: "bob@example.com", password: "password" });
    expect(weak.statusCode).toBe(400);
    expect(await usersInDb()).toBe(1);
  });

  it("lists users newest first with paging and an email filter; refuses paging out of range", async () => {
    for (const email of ["a@one.test", "b@two.test", "c@one.test"]) await t.createUser(email);
    const page = await admin("GET", "/admin/users?limit=2");
    expect(page.json().total).toBe(3);
    expect(page.json().users.map((u: { email: string }) => u.email)).toEqual(["c@one.test", "b@two.test"]);
    expect(page.json().users[0]).toMatchObject({ userId: 3, disabled: false });
    const filtered = await admin("GET", "/admin/users?email=one.test&offset=1");
    expect(filtered.json()).toMatchObject({ total: 2, users: [{ email: "a@one.test" }] });
    for (const query of ["limit=0", "limit=501", "offset=-1", "limit=abc", "extra=1"]) {
      const res = await admin("GET", `/admin/users?${query}`);
      expect({ query, status: res.statusCode }).toEqual({ query, status: 400 });
    }
  });

  it("shows one user with 2FA state and live sessions; 404 for an unknown one", async () => {
    const enrolled = await enrolTotp(t);
    const res = await admin("GET", `/admin/users/${enrolled.userId}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      userId: enrolled.userId,
      email: "alice@example.com",
      disabled: false,
      sessions: 1,
      twoFactor: { enabled: true, totp: {}, recoveryCodes: { remaining: 10 } },
    });
    const missing = await admin("GET", "/admin/users/999");
    expect(missing.statusCode).toBe(404);
    expect(missing.json().message).toBe("USER_NOT_FOUND");
    expect((await admin("GET", "/admin/users/abc")).statusCode).toBe(400);
  });

  it("disables a user: no login, no refresh, no token; enabling restores it", async () => {
    const userId = await t.createUser("alice@example.com");
    const refresh = await login(t, "alice@example.com");
    const access = await accessFor(t, refresh);
    expect((await admin("POST", `/admin/users/${userId}/disable`)).statusCode).toBe(204);
    const attempt = await attemptLogin(t, "alice@example.com");
    expect(attempt.json().message).toBe("ACCOUNT_DISABLED");
    for (const [url, token] of [
      ["/auth/accesstoken", refresh],
      ["/auth/refreshtoken", refresh],
      ["/auth/accesstoken/validate", access],
    ] as const) {
      const res = await get(t, url, token);
      expect({ url, message: res.json().message }).toEqual({ url, message: "ACCOUNT_DISABLED" });
    }
    expect((await admin("POST", `/admin/users/${userId}/enable`)).statusCode).toBe(204);
    const validate = await get(t, "/auth/accesstoken/validate", access);
    expect(validate.json()).toEqual({ userId });
    expect((await admin("POST", "/admin/users/999/disable")).statusCode).toBe(404);
  });

  it("revokes every session of a user", async () => {
    const userId = await t.createUser("alice@example.com");
    const first = await login(t, "alice@example.com");
    const second = await login(t, "alice@example.com");
    expect((await admin("POST", `/admin/users/${userId}/sessions/revoke`)).statusCode).toBe(204);
    for (const token of [first, second]) {
      const res = await get(t, "/auth/refreshtoken/validate", token);
      expect(res.json().message).toBe("TOKEN_REVOKED");
    }
  });

  it("resets 2FA: login no longer asks for a second factor, old codes are gone", async () => {
    const enrolled = await enrolTotp(t);
    const partial = await login(t, "alice@example.com");
    const before = await get(t, "/auth/accesstoken", partial);
    expect(before.json().message).toBe("2FA_REQUIRED_PARTIAL_TOKEN");
    expect((await admin("POST", `/admin/users/${enrolled.userId}/2fa/reset`)).statusCode).toBe(204);
    const refresh = await login(t, "alice@example.com");
    const after = await get(t, "/auth/accesstoken", refresh);
    expect(after.statusCode).toBe(200);
    const state = await get(t, "/user/2fa", after.body);
    expect(state.json()).toEqual({ enabled: false });
    const totp = await post(t, "/user/2fa/totp/authenticate", after.body, {
      totp: codeAt(enrolled.totp, t.clock.now()),
    });
    expect(totp.json().message).toBe("TOTP_UNINITIALIZED");
  });

  it("keeps an audit trail with address and user agent, newest first, paged", async () => {
    const userId = await t.createUser("alice@example.com");
    for (const password of ["Wrong7Horse", PASSWORD]) {
      await t.app.inject({
        method: "POST",
        url: "/auth/login",
        remoteAddress: "192.0.2.7",
        headers: { "user-agent": "audit-test/1.0" },
        payload: { username: "alice@example.com", password },
      });
    }
    const res = await admin("GET", `/admin/users/${userId}/events?limit=1`);
    expect(res.statusCode).toBe(200);
    expect(res.json().total).toBe(2);
    expect(res.json().events).toEqual([
      {
        type: "login.succeeded",
        at: new Date(t.clock.now()).toISOString(),
        ip: "192.0.2.7",
        userAgent: "audit-test/1.0",
        details: {},
      },
    ]);
    const older = await admin("GET", `/admin/users/${userId}/events?offset=1`);
    expect(older.json().events[0]).toMatchObject({ type: "login.failed", details: { reason: "password" } });
  });

  it("deletes a user with everything it owns", async () => {
    const enrolled = await enrolTotp(t);
    expect((await admin("DELETE", `/admin/users/${enrolled.userId}`)).statusCode).toBe(204);
    expect((await admin("GET", `/admin/users/${enrolled.userId}`)).statusCode).toBe(404);
    expect((await admin("DELETE", `/admin/users/${enrolled.userId}`)).statusCode).toBe(404);
    const res = await get(t, "/auth/refreshtoken/validate", enrolled.refresh);
    expect(res.statusCode).toBe(401);
  });
});

describe("admin API switched off", () => {
  it("answers 404 when LATCHKEY_ADMIN_TOKEN is unset", async () => {
    const [dialect] = testDialects();
    if (!dialect) throw new Error("no dialect");
    const t = await createTestApp(dialect);
    try {
      const res = await get(t, "/admin/users", ADMIN_TOKEN);
      expect(res.statusCode).toBe(404);
    } finally {
      await t.close();
    }
  });
});
