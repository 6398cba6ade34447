import { generateKeyPairSync } from "node:crypto";
import { SignJWT } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "./support/harness.js";
import { get } from "./support/http.js";
import { snapshot, tableNames } from "./support/snapshot.js";

describe.each(testDialects())("bad input on $name", (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect);
    await t.createUser("alice@example.com");
  });
  afterEach(async () => {
    await t.close();
  });

  it("snapshots every table of the schema, so that a write anywhere shows", async () => {
    expect(await tableNames(t)).toEqual(
      expect.arrayContaining([
        "audit_events",
        "mail_codes",
        "recovery_codes",
        "refresh_tokens",
        "sessions",
        "signing_keys",
        "spent_partial_tokens",
        "throttles",
        "user_email_otp",
        "user_totp",
        "users",
      ]),
    );
    const before = await snapshot(t);
    await t.db.insertInto("spent_partial_tokens").values({ jti: "j", user_id: 1, expires_at: 1 }).execute();
    expect(await snapshot(t)).not.toBe(before);
  });

  const login = (payload: string, contentType = "application/json", headers: Record<string, string> = {}) =>
    t.app.inject({ method: "POST", url: "/auth/login", payload, headers: { "content-type": contentType, ...headers } });

  const bodies: [string, string, string][] = [
    ["malformed JSON", '{"username":', "MALFORMED_JSON"],
    ["an empty body", "", "MALFORMED_JSON"],
    ["a JSON array", "[]", "body must be object"],
    ["a missing field", '{"username":"alice@example.com"}', "body must have required property 'password'"],
    ["an extra field", '{"username":"a","password":"b","admin":true}', "body must NOT have additional properties"],
    [
      "an over-long username",
      JSON.stringify({ username: "a".repeat(257), password: "x" }),
      "body/username must NOT have more than 256 characters",
    ],
    [
      "an over-long password",
      JSON.stringify({ username: "a", password: "x".repeat(257) }),
      "body/password must NOT have more than 256 characters",
    ],
    ["a number for a string", '{"username":{"$gt":""},"password":"x"}', "body/username must be string"],
  ];

  for (const [what, payload, message] of bodies) {
    it(`answers 400 for ${what} and changes nothing`, async () => {
      const before = await snapshot(t);
      const res = await login(payload);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ statusCode: 400, error: "Bad Request", message });
      expect(await snapshot(t)).toBe(before);
    });
  }

  it("answers 400 UNSUPPORTED_CONTENT_TYPE for a non-JSON body", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const res = await login("username=a&password=b", type);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ statusCode: 400, error: "Bad Request", message: "UNSUPPORTED_CONTENT_TYPE" });
    }
  });

  it("answers 400 BODY_TOO_LARGE past the body limit", async () => {
    const res = await login(JSON.stringify({ username: "a", password: "x".repeat(70_000) }));
    expect(res.json()).toEqual({ statusCode: 400, error: "Bad Request", message: "BODY_TOO_LARGE" });
  });

  it("answers 404 in the envelope for an unknown route", async () => {
    const res = await get(t, "/auth/nothing");
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ statusCode: 404, error: "Not Found", message: "ROUTE_NOT_FOUND" });
  });

  it("answers 400 INVALID_REQUEST in the envelope for a path that is not valid percent-encoding or too long", async () => {
    const before = await snapshot(t);
    for (const [method, url] of [
      ["GET", "/auth/accesstoken/%E0%A4%A"],
      ["DELETE", "/user/sessions/%E0%A4%A"],
      ["DELETE", `/user/sessions/${"x".repeat(1401)}`],
    ] as const) {
      const res = await t.app.inject({ method, url });
      expect({ url, status: res.statusCode, body: res.json() }).toEqual({
        url,
        status: 400,
        body: { statusCode: 400, error: "Bad Request", message: "INVALID_REQUEST" },
      });
    }
    expect(await snapshot(t)).toBe(before);
  });

  it("answers 400 INVALID_REQUEST for a NUL character anywhere in a request, on the API and the pages, changing nothing", async () => {
    const before = await snapshot(t);
    const signedIn = await login(JSON.stringify({ username: "alice@example.com", password: "Correct7Horse" }));
    const access = (await get(t, "/auth/accesstoken", signedIn.body)).body;
    const afterLogin = await snapshot(t);
    expect(afterLogin).not.toBe(before);
    const json = { "content-type": "application/json" };
    for (const request of [
      {
        method: "POST",
        url: "/auth/login",
        payload: '{"username":"alice@example.com\\u0000","password":"Correct7Horse"}',
        headers: json,
      },
      {
        method: "POST",
        url: "/auth/login",
        payload: '{"username":"alice@example.com","password":"Correct7Horse\\u0000"}',
        headers: json,
      },
      { method: "POST", url: "/user/password/reset/send", payload: '{"email":"a\\u0000@example.com"}', headers: json },
      { method: "DELETE", url: "/user/sessions/%00", headers: { authorization: `Bearer ${access}` } },
      { method: "GET", url: "/auth/accesstoken/validate?x=%00", headers: { authorization: `Bearer ${access}` } },
    ] as const) {
      const res = await t.app.inject(request);
      expect({ url: request.url, status: res.statusCode, body: res.json() }).toEqual({
        url: request.url,
        status: 400,
        body: { statusCode: 400, error: "Bad Request", message: "INVALID_REQUEST" },
      });
    }
    const page = await t.app.inject({
      method: "POST",
      url: "/login",
      payload: "email=alice%40example.com%00&password=Correct7Horse",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
    });
    expect(page.statusCode).toBe(400);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(await snapshot(t)).toBe(afterLogin);
  });

  it("answers 400 for a cookie flag that is not a boolean", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/auth/login?cookie=maybe",
      payload: { username: "alice@example.com", password: "Correct7Horse" },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toBe("querystring/cookie must be boolean");
  });

  it("refuses a 10 kB Authorization header as an invalid token, without a 500", async () => {
    const before = await snapshot(t);
    const huge = `Bearer ${"a".repeat(10_240)}`;
    for (const url of ["/auth/accesstoken/validate", "/auth/accesstoken", "/auth/refreshtoken"]) {
      const res = await t.app.inject({ method: "GET", url, headers: { authorization: huge } });
      expect(res.statusCode).toBe(401);
      expect(res.json().message).toBe("INVALID_TOKEN");
    }
    expect(await snapshot(t)).toBe(before);
  });

  it("refuses a token signed by another key, even with our kid", async () => {
    const refresh = (await login(JSON.stringify({ username: "alice@example.com", password: "Correct7Horse" }))).body;
    const [header] = refresh.split(".");
    const kid = JSON.parse(Buffer.from(header ?? "", "base64url").toString()).kid as string;
    const { privateKey } = generateKeyPairSync("ed25519");
    const forged = await new SignJWT({ typ: "access", sid: "x" })
      .setProtectedHeader({ alg: "EdDSA", kid })
      .setIssuer("http://latchkey.test")
      .setSubject("1")
      .setJti("j")
      .setIssuedAt(Math.floor(t.clock.now() / 1000))
      .setExpirationTime(Math.floor(t.clock.now() / 1000) + 300)
      .sign(privateKey);
    const before = await snapshot(t);
    const res = await get(t, "/auth/accesstoken/validate", forged);
    expect(res.statusCode).toBe(401);
    expect(res.json().message).toBe("INVALID_TOKEN");
    expect(await snapshot(t)).toBe(before);
  });

  it("refuses alg none and an HMAC token keyed with the public key", async () => {
    const refresh = (await login(JSON.stringify({ username: "alice@example.com", password: "Correct7Horse" }))).body;
    const [header, payload] = refresh.split(".") as [string, string, string];
    const kid = JSON.parse(Buffer.from(header, "base64url").toString()).kid as string;
    const noneHeader = Buffer.from(JSON.stringify({ alg: "none", kid, typ: "JWT" })).toString("base64url");
    const jwks = (await get(t, "/.well-known/jwks.json")).json();
    const hmacKey = new TextEncoder().encode(jwks.keys[0].x);
    const hsToken = await new SignJWT(JSON.parse(Buffer.from(payload, "base64url").toString()))
      .setProtectedHeader({ alg: "HS256", kid })
      .sign(hmacKey);
    for (const token of [`${noneHeader}.${payload}.`, `${noneHeader}.${payload}`, hsToken]) {
      const res = await get(t, "/auth/refreshtoken/validate", token);
      expect(res.statusCode).toBe(401);
      expect(res.json().message).toBe("INVALID_TOKEN");
    }
  });
});
