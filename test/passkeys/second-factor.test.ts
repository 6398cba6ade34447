import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "../support/harness.js";
import { del, expectError, expectNoContent, get, login, post, sessionIdOf, tokensOf } from "../support/http.js";
import { enrolTotp } from "../two-factor/support.js";
import {
  auditTrail,
  authenticate,
  challengeStored,
  enrolPasskey,
  passkeyRows,
  RP_ID,
  secondFactorOptions,
  sessionCount,
} from "./support.js";

describe.each(testDialects())("a passkey as the second factor on $name", (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect);
  });
  afterEach(async () => {
    await t.close();
  });

  it("finishes a password login: partial token → challenge → authenticate → the three tokens", async () => {
    const alice = await enrolPasskey(t);
    t.clock.advanceSeconds(60);
    const partial = await login(t, "alice@example.com");
    expect((await get(t, "/user/2fa", partial)).json().passkeys).toMatchObject({ count: 1 });

    const options = await secondFactorOptions(t, partial);
    const spare = await secondFactorOptions(t, partial);
    expect(options.rpId).toBe(RP_ID);
    expect(options.userVerification).toBe("preferred");
    expect(options.allowCredentials).toEqual([{ id: alice.passkeyId, type: "public-key", transports: ["internal"] }]);
    const sessionsBefore = await sessionCount(t, alice.userId);

    const tokens = tokensOf(await authenticate(t, partial, alice.authenticator.assert(options)));
    expect(await challengeStored(t, options)).toBe(false);
    expect(await sessionCount(t, alice.userId)).toBe(sessionsBefore + 1);
    expect((await get(t, "/auth/refreshtoken/validate", tokens.refreshToken)).json()).toEqual({ userId: alice.userId });
    expect(sessionIdOf(tokens.accessToken)).toBe(sessionIdOf(tokens.sudoToken));
    expect(await passkeyRows(t)).toEqual([
      { id: alice.passkeyId, user_id: alice.userId, counter: 1, name: "Laptop", last_used_at: t.clock.now() },
    ]);
    expect((await auditTrail(t, alice.userId)).at(-1)).toEqual({
      type: "second_factor.succeeded",
      details: { method: "passkey" },
    });
    // The partial token makes one session only: with another live challenge it is refused, and that
    // challenge is not looked at.
    expectError(await authenticate(t, partial, alice.authenticator.assert(spare)), 401, "TOKEN_REVOKED");
    expect(await challengeStored(t, spare)).toBe(true);
    expect(await sessionCount(t, alice.userId)).toBe(sessionsBefore + 1);
  });

  it("does without user verification as a second factor (the password was the other factor)", async () => {
    const alice = await enrolPasskey(t);
    const partial = await login(t, "alice@example.com");
    const options = await secondFactorOptions(t, partial);
    tokensOf(await authenticate(t, partial, alice.authenticator.assert(options, { userVerified: false })));
  });

  it("step-up with an access token gives a new sudo token in the same session", async () => {
    const alice = await enrolPasskey(t);
    const partial = await login(t, "alice@example.com");
    const first = tokensOf(
      await authenticate(t, partial, alice.authenticator.assert(await secondFactorOptions(t, partial))),
    );
    // The sudo token runs out; the access token alone cannot delete.
    t.clock.advanceSeconds(301);
    const access = await get(t, "/auth/accesstoken", first.refreshToken);
    expect(access.statusCode).toBe(200);
    expectError(await del(t, `/user/2fa/passkeys/${alice.passkeyId}`, access.body), 403, "SUDO_TOKEN_REQUIRED");

    const sessions = await sessionCount(t, alice.userId);
    const stepUp = tokensOf(
      await authenticate(t, access.body, alice.authenticator.assert(await secondFactorOptions(t, access.body))),
    );
    expect(sessionIdOf(stepUp.sudoToken)).toBe(sessionIdOf(first.accessToken));
    expect(await sessionCount(t, alice.userId)).toBe(sessions);
    expectNoContent(await del(t, `/user/2fa/passkeys/${alice.passkeyId}`, stepUp.sudoToken));
  });

  it("an account without passkeys gets 409 PASSKEYS_UNINITIALIZED for a challenge, and no challenge is stored", async () => {
    await enrolTotp(t);
    const partial = await login(t, "alice@example.com");
    expectError(await post(t, "/user/2fa/passkey/challenge", partial, {}), 409, "PASSKEYS_UNINITIALIZED");
    expect(await t.db.selectFrom("webauthn_challenges").selectAll().execute()).toEqual([]);
  });

  it("needs a token: none is 401 NO_TOKEN_PROVIDED, a refresh token 401 WRONG_TOKEN_TYPE", async () => {
    const alice = await enrolPasskey(t);
    expectError(await post(t, "/user/2fa/passkey/challenge", undefined, {}), 401, "NO_TOKEN_PROVIDED");
    expectError(await post(t, "/user/2fa/passkey/challenge", alice.refresh, {}), 401, "WRONG_TOKEN_TYPE");
    const partial = await login(t, "alice@example.com");
    const credential = alice.authenticator.assert(await secondFactorOptions(t, partial));
    expectError(await authenticate(t, alice.refresh, credential), 401, "WRONG_TOKEN_TYPE");
  });
});
