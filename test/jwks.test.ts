import { createPublicKey, verify } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "./support/harness.js";
import { accessFor, get, kidOf, login } from "./support/http.js";

describe.each(testDialects())("JWKS on $name", (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect);
    await t.createUser("alice@example.com");
  });
  afterEach(async () => {
    await t.close();
  });

  const accessToken = async () => accessFor(t, await login(t, "alice@example.com"));

  it("verifies an access token with plain node:crypto and the published key", async () => {
    const token = await accessToken();
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const head = JSON.parse(Buffer.from(header, "base64url").toString());
    expect(head).toMatchObject({ alg: "EdDSA", typ: "JWT" });
    const jwks = (await get(t, "/.well-known/jwks.json")).json();
    const jwk = jwks.keys.find((k: { kid: string }) => k.kid === head.kid);
    const key = createPublicKey({ key: jwk, format: "jwk" });
    const data = Buffer.from(`${header}.${payload}`);
    expect(verify(null, data, key, Buffer.from(signature, "base64url"))).toBe(true);
    expect(verify(null, Buffer.from(`${header}.${payload}x`), key, Buffer.from(signature, "base64url"))).toBe(false);
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    expect(claims).toMatchObject({ iss: "http://latchkey.test", typ: "access", sub: "1" });
    expect(claims.exp - claims.iat).toBe(300);
    expect(typeof claims.sid).toBe("string");
    expect(typeof claims.jti).toBe("string");
  });

  it("keeps verifying tokens of a rotated key while the new key signs", async () => {
    const oldKid = t.deps.keys.active().kid;
    const { kid: newKid, activatesAt } = await t.deps.keys.rotate();
    expect(newKid).not.toBe(oldKid);
    // Published at once, signing only once every node and every cached JWKS knows it (§2).
    t.clock.set(activatesAt - 1);
    const before = await accessToken();
    expect(kidOf(before)).toBe(oldKid);
    t.clock.set(activatesAt);
    const after = await accessToken();
    expect(kidOf(after)).toBe(newKid);
    for (const token of [before, after]) {
      const res = await get(t, "/auth/accesstoken/validate", token);
      expect(res.statusCode).toBe(200);
    }
    const jwks = (await get(t, "/.well-known/jwks.json")).json();
    expect(jwks.keys.map((k: { kid: string }) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    // Once the old key's tokens have all expired, it can be dropped.
    t.clock.advanceSeconds(15 * 86_400);
    expect(await t.deps.keys.prune(14 * 86_400)).toBe(1);
    expect(t.deps.keys.jwks().keys.map((k) => k.kid)).toEqual([newKid]);
  });
});
