import { createServer } from "node:net";
import { generateKeyPair, SignJWT } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { accessFor, login, post, signIn } from "../../../test/support/http.js";
import { authenticateTotp, codeAt, enrolTotp } from "../../../test/two-factor/support.js";
import { createVerifier, type VerifierOptions, VerifyError, type VerifyErrorCode } from "../src/index.js";
import { countingFetch, decode, ISSUER, type Service, startService } from "./support.js";

async function refusal(promise: Promise<unknown>): Promise<VerifyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VerifyError);
  return error as VerifyError;
}

async function expectRefused(promise: Promise<unknown>, code: VerifyErrorCode): Promise<void> {
  const error = await refusal(promise);
  expect(error.code).toBe(code);
  expect(error.status).toBe(code === "JWKS_UNAVAILABLE" || code === "SERVICE_UNAVAILABLE" ? 503 : 401);
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("createVerifier against the real service", () => {
  let service: Service;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeEach(async () => {
    process.on("unhandledRejection", onUnhandled);
    service = await startService();
    await service.t.createUser("alice@example.com");
  });
  afterEach(async () => {
    await service.close();
    process.off("unhandledRejection", onUnhandled);
    expect(unhandled).toEqual([]);
    unhandled.length = 0;
  });

  function verifier(options: Partial<VerifierOptions> = {}) {
    return createVerifier({ issuer: ISSUER, url: service.url, clock: service.t.clock, ...options });
  }

  it("accepts an access token from a real login, with its claims typed", async () => {
    const { t } = service;
    const { access } = await signIn(t, "alice@example.com");
    const claims = await verifier().verify(access);
    const raw = decode(access).claims;
    expect(claims).toEqual({
      userId: Number(raw.sub),
      sub: raw.sub,
      sid: raw.sid,
      jti: raw.jti,
      iat: Math.floor(t.clock.now() / 1000),
      exp: Math.floor(t.clock.now() / 1000) + 300,
      iss: ISSUER,
      typ: "access",
    });
    expect(claims.userId).toBeGreaterThan(0);
    expect((await verifier().verifyAuthorization(`Bearer ${access}`)).sid).toBe(raw.sid);
  });

  it("accepts tokens of a rotated key after one more key set fetch, and those of the old key still", async () => {
    const { t } = service;
    const counted = countingFetch();
    // No cooldown: the manual clock moves, the cooldown counts real time, and this test takes milliseconds.
    const v = verifier({ fetch: counted.fetch, cooldownDuration: 0 });
    const refresh = await login(t, "alice@example.com");
    const before = await accessFor(t, refresh);
    await v.verify(before);
    expect(counted.jwksFetches()).toBe(1);
    const oldKid = decode(before).header.kid;

    // What `latchkey keys rotate` runs: a key published now, signing from activatesAt.
    const { kid: newKid, activatesAt } = await t.deps.keys.rotate();
    t.clock.set(activatesAt - 1000);
    const lastOfOldKey = await accessFor(t, refresh);
    expect(decode(lastOfOldKey).header.kid).toBe(oldKid);
    t.clock.set(activatesAt);
    const fresh = await accessFor(t, refresh);
    expect(decode(fresh).header.kid).toBe(newKid);

    // Verified concurrently: one fetch for the new kid, shared.
    const results = await Promise.all([fresh, fresh, fresh, lastOfOldKey].map((token) => v.verify(token)));
    expect(results.map((c) => c.typ)).toEqual(["access", "access", "access", "access"]);
    expect(counted.jwksFetches()).toBe(2);
    await v.verify(fresh);
    await v.verify(lastOfOldKey);
    expect(counted.jwksFetches()).toBe(2);
  });

  it("fetches the key set again for an unknown kid at most once per cooldown", async () => {
    const counted = countingFetch();
    const v = verifier({ fetch: counted.fetch });
    const { access } = await signIn(service.t, "alice@example.com");
    await v.verify(access);
    const { privateKey } = await generateKeyPair("EdDSA");
    for (const kid of ["a", "b", "c"]) {
      const forged = await new SignJWT({ ...decode(access).claims })
        .setProtectedHeader({ alg: "EdDSA", kid, typ: "JWT" })
        .sign(privateKey);
      await expectRefused(v.verify(forged), "INVALID_TOKEN");
    }
    expect(counted.jwksFetches()).toBe(1);
  });

  it("rejects a token signed with another key under the real kid", async () => {
    const { access } = await signIn(service.t, "alice@example.com");
    const { header, claims } = decode(access);
    const { privateKey } = await generateKeyPair("EdDSA");
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: "EdDSA", kid: String(header.kid), typ: "JWT" })
      .sign(privateKey);
    await expectRefused(verifier().verify(forged), "INVALID_TOKEN");
    // The same claims, the real signature: accepted, so the refusal was the signature's.
    await expect(verifier().verify(access)).resolves.toMatchObject({ typ: "access" });
  });

  it("rejects an expired token, within the clock tolerance accepts it", async () => {
    const { t } = service;
    const { access } = await signIn(t, "alice@example.com");
    t.clock.advanceSeconds(301);
    await expectRefused(verifier().verify(access), "TOKEN_EXPIRED");
    await expect(verifier({ clockTolerance: 60 }).verify(access)).resolves.toMatchObject({ typ: "access" });
    t.clock.advanceSeconds(60);
    await expectRefused(verifier({ clockTolerance: 60 }).verify(access), "TOKEN_EXPIRED");
  });

  it("rejects refresh, sudo and partial tokens as the wrong kind", async () => {
    const { t } = service;
    const enrolled = await enrolTotp(t, "bob@example.com");
    const partial = await login(t, "bob@example.com");
    const res = await authenticateTotp(t, partial, codeAt(enrolled.totp, t.clock.now()));
    expect(res.statusCode, res.body).toBe(200);
    const { accessToken, refreshToken, sudoToken } = res.json();
    const v = verifier();
    await expectRefused(v.verify(refreshToken), "WRONG_TOKEN_TYPE");
    await expectRefused(v.verify(sudoToken), "WRONG_TOKEN_TYPE");
    const anotherPartial = await login(t, "bob@example.com");
    await expectRefused(v.verify(anotherPartial), "WRONG_TOKEN_TYPE");
    await expect(v.verify(accessToken)).resolves.toMatchObject({ userId: enrolled.userId });
  });

  it("sees a logout at once online; offline the token stays good until it expires", async () => {
    const { t } = service;
    const { refresh, access } = await signIn(t, "alice@example.com");
    const online = verifier({ online: true });
    const offline = verifier();
    await expect(online.verify(access)).resolves.toMatchObject({ typ: "access" });
    expect((await post(t, "/auth/logout", refresh)).statusCode).toBe(204);
    await expectRefused(online.verify(access), "TOKEN_REVOKED");
    await expectRefused(offline.verify(access, { online: true }), "TOKEN_REVOKED");
    // Offline, nothing tells the verifier of the logout: the token is good until its exp.
    await expect(offline.verify(access)).resolves.toMatchObject({ typ: "access" });
    t.clock.advanceSeconds(301);
    await expectRefused(offline.verify(access), "TOKEN_EXPIRED");
  });

  it("refuses what is not a token with typed errors", async () => {
    const v = verifier();
    await expectRefused(v.verify("not a jwt"), "INVALID_TOKEN");
    await expectRefused(v.verify("a.b.c"), "INVALID_TOKEN");
    await expectRefused(v.verify("eyJhbGciOiJub25lIn0.e30."), "INVALID_TOKEN");
    await expectRefused(v.verify(`${"a".repeat(5000)}.b.c`), "INVALID_TOKEN");
    await expectRefused(v.verify(""), "NO_TOKEN_PROVIDED");
    await expectRefused(v.verifyAuthorization(undefined), "NO_TOKEN_PROVIDED");
    await expectRefused(v.verifyAuthorization(""), "NO_TOKEN_PROVIDED");
    for (const header of ["Basic YWxpY2U6cHc=", "Bearer", "Bearer ", "Bearer a b", "bearer\u0000x", "Token abc"]) {
      await expectRefused(v.verifyAuthorization(header), "INVALID_TOKEN");
    }
    // A token of another issuer, signed by the real key, is not ours to accept.
    const other = createVerifier({ issuer: "http://elsewhere.test", url: service.url, clock: service.t.clock });
    const { access } = await signIn(service.t, "alice@example.com");
    await expectRefused(other.verify(access), "INVALID_TOKEN");
    await expectRefused(verifier({ audience: "billing" }).verify(access), "INVALID_TOKEN");
  });

  it("says JWKS_UNAVAILABLE when the key set cannot be had, and recovers when it can", async () => {
    const { access } = await signIn(service.t, "alice@example.com");
    const down = verifier({ url: `http://127.0.0.1:${await closedPort()}` });
    await expectRefused(down.verify(access), "JWKS_UNAVAILABLE");
    const notJson = verifier({ fetch: async () => new Response("<html>", { status: 200 }) });
    await expectRefused(notJson.verify(access), "JWKS_UNAVAILABLE");
    const failing = verifier({ fetch: async () => new Response("oops", { status: 502 }) });
    await expectRefused(failing.verify(access), "JWKS_UNAVAILABLE");
    const notAKeySet = verifier({ fetch: async () => Response.json({ keys: "none" }) });
    await expectRefused(notAKeySet.verify(access), "JWKS_UNAVAILABLE");

    let up = false;
    const flaky = verifier({
      fetch: (input, init) => (up ? fetch(input, init) : Promise.reject(new TypeError("down"))),
    });
    await expectRefused(flaky.verify(access), "JWKS_UNAVAILABLE");
    up = true;
    await expect(flaky.verify(access)).resolves.toMatchObject({ typ: "access" });
  });

  it("says SERVICE_UNAVAILABLE when the online check gets no answer it can read", async () => {
    const { access } = await signIn(service.t, "alice@example.com");
    const keysOnly = (answer: () => Promise<Response>): typeof fetch => {
      return (input, init) => (String(input).endsWith("/jwks.json") ? fetch(input, init) : answer());
    };
    const cases: Array<() => Promise<Response>> = [
      () => Promise.reject(new TypeError("fetch failed")),
      async () => new Response("Bad gateway", { status: 502 }),
      async () => new Response("<html>", { status: 200 }),
      async () =>
        Response.json({ statusCode: 429, error: "Too many requests", message: "X", retryAfter: 1 }, { status: 429 }),
    ];
    for (const answer of cases) {
      await expectRefused(verifier({ online: true, fetch: keysOnly(answer) }).verify(access), "SERVICE_UNAVAILABLE");
    }
    // The online answer must be about the token's own user.
    const otherUser = keysOnly(async () => Response.json({ userId: 999 }));
    await expectRefused(verifier({ online: true, fetch: otherUser }).verify(access), "INVALID_TOKEN");
  });
});
