import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "../support/harness.js";
import { expectNoContent, get, post, tokensOf } from "../support/http.js";
import {
  auditTrail,
  challengeStored,
  enrolPasskey,
  passkeyLogin,
  passkeyRows,
  RP_ID,
  sessionCount,
  signInOptions,
} from "./support.js";

describe.each(testDialects())("sign-in with a passkey, without a password, on $name", (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect);
  });
  afterEach(async () => {
    await t.close();
  });

  it("options list no passkey and require user verification; the login opens a full session", async () => {
    const alice = await enrolPasskey(t);
    t.clock.advanceSeconds(90);
    const options = await signInOptions(t);
    expect(options.rpId).toBe(RP_ID);
    expect(options.userVerification).toBe("required");
    expect(options.allowCredentials ?? []).toEqual([]);
    expect(options.timeout).toBe(300_000);
    expect(Buffer.from(options.challenge, "base64url")).toHaveLength(32);
    expect(await challengeStored(t, options)).toBe(true);

    const sessionsBefore = await sessionCount(t, alice.userId);
    const credential = alice.authenticator.assert(options);
    const tokens = tokensOf(await passkeyLogin(t, credential));
    expect(await challengeStored(t, options)).toBe(false);
    expect(await sessionCount(t, alice.userId)).toBe(sessionsBefore + 1);
    expect((await get(t, "/auth/refreshtoken/validate", tokens.refreshToken)).json()).toEqual({ userId: alice.userId });
    expect((await get(t, "/auth/accesstoken/validate", tokens.accessToken)).json()).toEqual({ userId: alice.userId });
    // The counter moved on and the use is recorded.
    const usedAt = t.clock.now();
    expect(await passkeyRows(t)).toEqual([
      { id: alice.passkeyId, user_id: alice.userId, counter: 1, name: "Laptop", last_used_at: usedAt },
    ]);
    const [listed] = (await get(t, "/user/2fa/passkeys", tokens.accessToken)).json().passkeys;
    expect(listed.lastUsedAt).toBe(new Date(usedAt).toISOString());
    expect((await auditTrail(t, alice.userId)).at(-1)).toEqual({
      type: "login.succeeded",
      details: { method: "passkey" },
    });
    // The sign-in's sudo token opens the sensitive calls.
    expect((await post(t, "/user/2fa/recovery-code/reset", tokens.sudoToken, {})).statusCode).toBe(200);
  });

  it("?cookie=true also sets the refresh and access cookies, which then work", async () => {
    const alice = await enrolPasskey(t);
    const res = await passkeyLogin(t, alice.authenticator.assert(await signInOptions(t)), "?cookie=true");
    const tokens = tokensOf(res);
    const cookies = Object.fromEntries(res.cookies.map((c) => [c.name, c]));
    expect(Object.keys(cookies).sort()).toEqual(["accessToken", "refreshToken"]);
    expect(cookies.refreshToken).toMatchObject({ value: tokens.refreshToken, httpOnly: true, secure: true });
    expect(cookies.accessToken).toMatchObject({ value: tokens.accessToken, httpOnly: true, secure: true });
    const validate = await t.app.inject({
      method: "GET",
      url: "/auth/accesstoken/validate",
      cookies: { accessToken: tokens.accessToken },
    });
    expect(validate.json()).toEqual({ userId: alice.userId });
    // Without the flag, no cookie.
    const plain = await passkeyLogin(t, alice.authenticator.assert(await signInOptions(t)));
    expect(plain.statusCode).toBe(200);
    expect(plain.headers["set-cookie"]).toBeUndefined();
  });

  it("picks the account from the credential: two users, two authenticators, each its own session", async () => {
    const alice = await enrolPasskey(t, "alice@example.com");
    const bob = await enrolPasskey(t, "bob@example.com");
    const bobs = tokensOf(await passkeyLogin(t, bob.authenticator.assert(await signInOptions(t))));
    const alices = tokensOf(await passkeyLogin(t, alice.authenticator.assert(await signInOptions(t))));
    expect((await get(t, "/auth/accesstoken/validate", bobs.accessToken)).json()).toEqual({ userId: bob.userId });
    expect((await get(t, "/auth/accesstoken/validate", alices.accessToken)).json()).toEqual({ userId: alice.userId });
  });

  it("an authenticator that keeps no counter (always 0) signs in again and again", async () => {
    const alice = await enrolPasskey(t);
    for (let i = 0; i < 3; i++) {
      const res = await passkeyLogin(t, alice.authenticator.assert(await signInOptions(t), { counter: 0 }));
      expect(res.statusCode, res.body).toBe(200);
    }
    expect((await passkeyRows(t))[0]?.counter).toBe(0);
  });

  it("a challenge is good for just under 5 minutes: at 4:59 the sign-in works", async () => {
    const alice = await enrolPasskey(t);
    const options = await signInOptions(t);
    t.clock.advanceSeconds(299);
    tokensOf(await passkeyLogin(t, alice.authenticator.assert(options)));
  });

  it("the sign-in's session ends like any other: logout revokes it", async () => {
    const alice = await enrolPasskey(t);
    const tokens = tokensOf(await passkeyLogin(t, alice.authenticator.assert(await signInOptions(t))));
    expectNoContent(await post(t, "/auth/logout", tokens.refreshToken));
    expect((await get(t, "/auth/refreshtoken/validate", tokens.refreshToken)).statusCode).toBe(401);
  });
});
