import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createArgon2Hasher } from "../src/core/password/hasher.js";
import { bearer, createTestApp, type TestApp, testDialects } from "./support/harness.js";
import { enrolTotp } from "./two-factor/support.js";

const PASSWORD = "Correct7Horse";

describe.each(testDialects())("authentication on $name", (dialect) => {
  let t: TestApp;
  let userId: number;

  beforeEach(async () => {
    t = await createTestApp(dialect);
    userId = await t.createUser("Alice@Example.com");
  });
  afterEach(async () => {
    await t.close();
  });

  async function login(username = "alice@example.com", password = PASSWORD) {
    return t.app.inject({ method: "POST", url: "/auth/login", payload: { username, password } });
  }
  async function refreshToken(): Promise<string> {
    const res = await login();
    expect(res.statusCode).toBe(200);
    return res.body;
  }
  async function accessToken(refresh: string): Promise<string> {
    const res = await t.app.inject({ method: "GET", url: "/auth/accesstoken", headers: bearer(refresh) });
    expect(res.statusCode).toBe(200);
    return res.body;
  }

  it("logs in with the email as username, case-insensitively, answering a bare text token", async () => {
    const res = await login("ALICE@example.COM");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain/);
    expect(res.body.split(".")).toHaveLength(3);
    const validate = await t.app.inject({
      method: "GET",
      url: "/auth/refreshtoken/validate",
      headers: bearer(res.body),
    });
    expect(validate.statusCode).toBe(200);
    expect(validate.json()).toEqual({ userId });
  });

  it("answers a wrong password and an unknown user identically", async () => {
    const wrong = await login("alice@example.com", "Wrong7Horse");
    const unknown = await login("nobody@example.com", "Wrong7Horse");
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ statusCode: 401, error: "Unauthorized", message: "PASSWORD_INCORRECT" });
    expect(unknown.statusCode).toBe(wrong.statusCode);
    expect(unknown.body).toBe(wrong.body);
    expect(Object.keys(unknown.headers).sort()).toEqual(Object.keys(wrong.headers).sort());
  });

  it("checks an unknown user against a hash, like a known one", async () => {
    let verifications = 0;
    const original = t.deps.flow.hasher.verify;
    t.deps.flow.hasher = {
      ...t.deps.flow.hasher,
      verify: (...args) => {
        verifications++;
        return original(...args);
      },
    };
    await login("nobody@example.com", "Wrong7Horse");
    await login("alice@example.com", "Wrong7Horse");
    expect(verifications).toBe(2);
  });

  it("re-hashes a stored password made with other argon2id parameters at the next login", async () => {
    const weaker = createArgon2Hasher({ memoryKib: 512, iterations: 1, parallelism: 1 });
    const id = await t.deps.store.createUser({
      email: "old@example.com",
      passwordHash: await weaker.hash(PASSWORD),
      createdAt: t.clock.now(),
    });
    expect((await login("old@example.com")).statusCode).toBe(200);
    const stored = (await t.deps.store.findUserById(id))?.passwordHash ?? "";
    expect(t.deps.hasher.needsRehash(stored)).toBe(false);
    expect(stored).not.toContain("m=512,");
    expect((await login("old@example.com")).statusCode).toBe(200);
  });

  it("answers NO_PASSWORD_INFO for an account without a password", async () => {
    await t.createUser("nopass@example.com", null);
    const res = await login("nopass@example.com", "Whatever7A");
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ statusCode: 500, error: "Internal server error", message: "NO_PASSWORD_INFO" });
  });

  it("gives an access token that validates to the user id", async () => {
    const access = await accessToken(await refreshToken());
    const res = await t.app.inject({ method: "GET", url: "/auth/accesstoken/validate", headers: bearer(access) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ userId });
  });

  it("refuses missing, malformed, wrongly typed and foreign tokens", async () => {
    const refresh = await refreshToken();
    const access = await accessToken(refresh);
    const cases: [Record<string, string>, string, number, string][] = [
      [{}, "/auth/accesstoken/validate", 401, "NO_TOKEN_PROVIDED"],
      [bearer("abc.def.ghi"), "/auth/accesstoken/validate", 401, "INVALID_TOKEN"],
      [{ authorization: "Basic Zm9vOmJhcg==" }, "/auth/accesstoken/validate", 401, "INVALID_TOKEN"],
      [bearer(refresh), "/auth/accesstoken/validate", 401, "WRONG_TOKEN_TYPE"],
      [bearer(access), "/auth/accesstoken", 401, "WRONG_TOKEN_TYPE"],
      [bearer(access), "/auth/refreshtoken/validate", 401, "WRONG_TOKEN_TYPE"],
      [bearer(`${access.slice(0, -4)}AAAA`), "/auth/accesstoken/validate", 401, "INVALID_TOKEN"],
    ];
    for (const [headers, url, status, message] of cases) {
      const res = await t.app.inject({ method: "GET", url, headers });
      expect({ url, status: res.statusCode, message: res.json().message }).toEqual({ url, status, message });
    }
  });

  it("rotates refresh tokens: the new one works, the old one is reuse after the grace", async () => {
    const first = await refreshToken();
    const rotated = await t.app.inject({ method: "GET", url: "/auth/refreshtoken", headers: bearer(first) });
    expect(rotated.statusCode).toBe(200);
    const second = rotated.body;
    expect(second).not.toBe(first);

    // Within the 10 s grace the old token gets the successor its rotation returned (a concurrent
    // client), never a chain of its own.
    t.clock.advanceSeconds(10);
    const graced = await t.app.inject({ method: "GET", url: "/auth/refreshtoken", headers: bearer(first) });
    expect(graced.statusCode).toBe(200);
    expect(graced.body).toBe(second);

    // After the grace it is reuse: the whole session is revoked.
    t.clock.advanceSeconds(1);
    const reused = await t.app.inject({ method: "GET", url: "/auth/refreshtoken", headers: bearer(first) });
    expect(reused.statusCode).toBe(401);
    expect(reused.json().message).toBe("REFRESH_TOKEN_REUSED");
    for (const token of [second, graced.body]) {
      const res = await t.app.inject({ method: "GET", url: "/auth/accesstoken", headers: bearer(token) });
      expect(res.json().message).toBe("TOKEN_REVOKED");
    }
  });

  it("lets a copy presented within the grace fork no second chain: reuse is still detected", async () => {
    const first = await refreshToken();
    const refresh = (token: string) =>
      t.app.inject({ method: "GET", url: "/auth/refreshtoken", headers: bearer(token) });
    const owner = (await refresh(first)).body;
    t.clock.advanceSeconds(5);
    // A thief with a copy of the first token, within the grace: the owner's own successor.
    const stolen = await refresh(first);
    expect(stolen.body).toBe(owner);
    // The owner rotates on; the thief's copy of that successor is then reuse once its grace is over.
    const ownerNext = (await refresh(owner)).body;
    t.clock.advanceSeconds(11);
    expect((await refresh(stolen.body)).json().message).toBe("REFRESH_TOKEN_REUSED");
    expect((await refresh(ownerNext)).json().message).toBe("TOKEN_REVOKED");
    const rows = await t.db.selectFrom("refresh_tokens").select("jti").execute();
    expect(rows).toHaveLength(3);
  });

  it("gives simultaneous refreshes of one token the same successor (one live chain, §2)", async () => {
    const first = await refreshToken();
    const answers = await Promise.all(
      Array.from({ length: 4 }, () =>
        t.app.inject({ method: "GET", url: "/auth/refreshtoken", headers: bearer(first) }),
      ),
    );
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 200]);
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    const res = await t.app.inject({
      method: "GET",
      url: "/auth/refreshtoken/validate",
      headers: bearer(answers[0]?.body ?? ""),
    });
    expect(res.statusCode).toBe(200);
  });

  it("logout revokes the session: every token kind of it is refused, a second logout too", async () => {
    const refresh = await refreshToken();
    const access = await accessToken(refresh);
    const other = await refreshToken();
    const out = await t.app.inject({ method: "POST", url: "/auth/logout", headers: bearer(refresh) });
    expect(out.statusCode).toBe(204);
    expect(out.body).toBe("");
    const checks = [
      ["/auth/accesstoken/validate", access],
      ["/auth/refreshtoken/validate", refresh],
      ["/auth/accesstoken", refresh],
      ["/auth/refreshtoken", refresh],
    ] as const;
    for (const [url, token] of checks) {
      const res = await t.app.inject({ method: "GET", url, headers: bearer(token) });
      expect({ url, message: res.json().message }).toEqual({ url, message: "TOKEN_REVOKED" });
    }
    const again = await t.app.inject({ method: "POST", url: "/auth/logout", headers: bearer(refresh) });
    expect(again.statusCode).toBe(401);
    expect(again.json().message).toBe("TOKEN_REVOKED");
    // Another session of the same user is untouched.
    const res = await t.app.inject({ method: "GET", url: "/auth/refreshtoken/validate", headers: bearer(other) });
    expect(res.statusCode).toBe(200);
  });

  it("expires each token kind on time", async () => {
    const refresh = await refreshToken();
    const access = await accessToken(refresh);
    t.clock.advanceSeconds(299);
    let res = await t.app.inject({ method: "GET", url: "/auth/accesstoken/validate", headers: bearer(access) });
    expect(res.statusCode).toBe(200);
    t.clock.advanceSeconds(1);
    res = await t.app.inject({ method: "GET", url: "/auth/accesstoken/validate", headers: bearer(access) });
    expect(res.json().message).toBe("TOKEN_EXPIRED");

    t.clock.advanceSeconds(14 * 86_400 - 301);
    res = await t.app.inject({ method: "GET", url: "/auth/refreshtoken/validate", headers: bearer(refresh) });
    expect(res.statusCode).toBe(200);
    t.clock.advanceSeconds(1);
    res = await t.app.inject({ method: "GET", url: "/auth/refreshtoken/validate", headers: bearer(refresh) });
    expect(res.json().message).toBe("TOKEN_EXPIRED");
  });

  it("keeps the session's absolute end through rotation", async () => {
    let token = await refreshToken();
    for (let day = 0; day < 14; day++) {
      t.clock.advanceSeconds(86_400);
      const res = await t.app.inject({ method: "GET", url: "/auth/refreshtoken", headers: bearer(token) });
      if (day < 13) {
        expect(res.statusCode).toBe(200);
        token = res.body;
      } else {
        expect(res.json().message).toBe("TOKEN_EXPIRED");
      }
    }
  });

  it("sets HttpOnly Secure SameSite=Strict cookies on ?cookie=true and reads them back", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/auth/login?cookie=true",
      payload: { username: "alice@example.com", password: PASSWORD },
    });
    expect(res.statusCode).toBe(200);
    const cookie = String(res.headers["set-cookie"]);
    expect(cookie).toMatch(/^refreshToken=/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Secure/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const access = await t.app.inject({
      method: "GET",
      url: "/auth/accesstoken?cookie=true",
      cookies: { refreshToken: res.body },
    });
    expect(access.statusCode).toBe(200);
    expect(String(access.headers["set-cookie"])).toMatch(/^accessToken=/);
    const validate = await t.app.inject({
      method: "GET",
      url: "/auth/accesstoken/validate",
      cookies: { accessToken: access.body },
    });
    expect(validate.json()).toEqual({ userId });
    // An endpoint reads only the cookie of the kind it accepts.
    const wrongCookie = await t.app.inject({
      method: "GET",
      url: "/auth/accesstoken/validate",
      cookies: { refreshToken: res.body },
    });
    expect(wrongCookie.json().message).toBe("NO_TOKEN_PROVIDED");
  });

  it("scopes the refresh cookie to /auth; access and partial cookies stay at /", async () => {
    const attributes = (res: { cookies: Array<Record<string, unknown>> }) =>
      res.cookies.map(({ name, path, httpOnly, secure, sameSite }) => ({ name, path, httpOnly, secure, sameSite }));
    const strict = { httpOnly: true, secure: true, sameSite: "Strict" };
    const login = await t.app.inject({
      method: "POST",
      url: "/auth/login?cookie=true",
      payload: { username: "alice@example.com", password: PASSWORD },
    });
    expect(attributes(login)).toEqual([{ name: "refreshToken", path: "/auth", ...strict }]);
    const rotated = await t.app.inject({
      method: "GET",
      url: "/auth/refreshtoken?cookie=true",
      cookies: { refreshToken: login.body },
    });
    expect(attributes(rotated)).toEqual([{ name: "refreshToken", path: "/auth", ...strict }]);
    const access = await t.app.inject({
      method: "GET",
      url: "/auth/accesstoken?cookie=true",
      cookies: { refreshToken: rotated.body },
    });
    expect(attributes(access)).toEqual([{ name: "accessToken", path: "/", ...strict }]);
    await enrolTotp(t, "bob@example.com");
    const partial = await t.app.inject({
      method: "POST",
      url: "/auth/login?cookie=true",
      payload: { username: "bob@example.com", password: PASSWORD },
    });
    expect(attributes(partial)).toEqual([{ name: "partialToken", path: "/", ...strict }]);
  });

  it("clears every token cookie on logout (Max-Age=0), including a refresh cookie left at Path=/", async () => {
    const login = await t.app.inject({
      method: "POST",
      url: "/auth/login?cookie=true",
      payload: { username: "alice@example.com", password: PASSWORD },
    });
    const logout = await t.app.inject({ method: "POST", url: "/auth/logout", cookies: { refreshToken: login.body } });
    expect(logout.statusCode).toBe(204);
    const cleared = logout.cookies
      .map(({ name, value, path, maxAge, httpOnly, secure, sameSite }) => ({
        name,
        value,
        path,
        maxAge,
        httpOnly,
        secure,
        sameSite,
      }))
      .sort((a, b) => `${a.name} ${a.path}`.localeCompare(`${b.name} ${b.path}`));
    const gone = { value: "", maxAge: 0, httpOnly: true, secure: true, sameSite: "Strict" };
    expect(cleared).toEqual([
      { name: "accessToken", path: "/", ...gone },
      { name: "partialToken", path: "/", ...gone },
      { name: "refreshToken", path: "/", ...gone },
      { name: "refreshToken", path: "/auth", ...gone },
    ]);
    // A logout with the header clears them too; a refused one changes nothing.
    const second = await refreshToken();
    const byHeader = await t.app.inject({ method: "POST", url: "/auth/logout", headers: bearer(second) });
    expect(byHeader.statusCode).toBe(204);
    expect(byHeader.cookies).toHaveLength(4);
    const refused = await t.app.inject({ method: "POST", url: "/auth/logout", headers: bearer(second) });
    expect(refused.json().message).toBe("TOKEN_REVOKED");
    expect(refused.headers["set-cookie"]).toBeUndefined();
  });

  it("serves the JWKS and the discovery document", async () => {
    const jwks = (await t.app.inject({ method: "GET", url: "/.well-known/jwks.json" })).json();
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" });
    expect(jwks.keys[0].d).toBeUndefined();
    const discovery = (await t.app.inject({ method: "GET", url: "/.well-known/openid-configuration" })).json();
    expect(discovery).toMatchObject({
      issuer: "http://latchkey.test",
      jwks_uri: "http://latchkey.test/.well-known/jwks.json",
    });
  });
});
