import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "./support/harness.js";

/** End to end through a real listening server and real HTTP. */
describe.each(testDialects())("HTTP server on $name", (dialect) => {
  let t: TestApp;
  let base: string;

  beforeEach(async () => {
    t = await createTestApp(dialect);
    await t.createUser("alice@example.com");
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await t.close();
  });

  it("runs login, access token, validation, rotation and logout over the wire", async () => {
    const login = await fetch(`${base}/auth/login?cookie=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice@example.com", password: "Correct7Horse" }),
    });
    expect(login.status).toBe(200);
    expect(login.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(login.headers.get("set-cookie")).toMatch(/refreshToken=.*HttpOnly.*Secure.*SameSite=Strict/i);
    const refresh = await login.text();

    const access = await fetch(`${base}/auth/accesstoken`, { headers: { authorization: `Bearer ${refresh}` } });
    expect(access.status).toBe(200);
    const validate = await fetch(`${base}/auth/accesstoken/validate`, {
      headers: { authorization: `Bearer ${await access.text()}` },
    });
    expect(await validate.json()).toEqual({ userId: 1 });

    const rotated = await fetch(`${base}/auth/refreshtoken`, { headers: { cookie: `refreshToken=${refresh}` } });
    expect(rotated.status).toBe(200);
    const next = await rotated.text();

    const logout = await fetch(`${base}/auth/logout`, { method: "POST", headers: { authorization: `Bearer ${next}` } });
    expect(logout.status).toBe(204);
    const after = await fetch(`${base}/auth/refreshtoken/validate`, { headers: { authorization: `Bearer ${next}` } });
    expect(after.status).toBe(401);
    expect(await after.json()).toEqual({ statusCode: 401, error: "Unauthorized", message: "TOKEN_REVOKED" });
  });

  it("answers throttled logins with a Retry-After header over the wire", async () => {
    const attempt = () =>
      fetch(`${base}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "alice@example.com", password: "Wrong7Horse" }),
      });
    for (let i = 0; i < 5; i++) expect((await attempt()).status).toBe(401);
    const refused = await attempt();
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(await refused.json()).toMatchObject({ message: "TOO_MANY_FAILED_PASSWORD_CHECKS", retryAfter: 1 });
  });

  it("refuses a malformed body over the wire with a 400 envelope", async () => {
    const res = await fetch(`${base}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{nope",
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ statusCode: 400, error: "Bad Request", message: "MALFORMED_JSON" });
  });
});
