import type { AuthenticationResponseJSON, PublicKeyCredentialRequestOptionsJSON } from "@simplewebauthn/server";
import type { LightMyRequestResponse } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "../support/harness.js";
import { call, del, expectError, expectNoContent, login, tokensOf } from "../support/http.js";
import { newSigningKey, type Tamper } from "../support/webauthn.js";
import {
  addPasskey,
  auditTrail,
  authenticate,
  CHALLENGE_TTL_MS,
  challengeStored,
  type Enrolled,
  enrolPasskey,
  newAuthenticator,
  passkeyLogin,
  passkeyRows,
  passkeySession,
  registrationOptions,
  secondFactorOptions,
  signInOptions,
  snapshotExcept,
  userHandleOf,
} from "./support.js";

const ADMIN_TOKEN = "admin-token-0123456789abcdefghijklmnopqrstuvwxyz";

/** One of the two assertion ceremonies: its options, and the answer posted back. */
interface Ceremony {
  name: "sign-in" | "second factor";
  start(): Promise<PublicKeyCredentialRequestOptionsJSON>;
  send(credential: AuthenticationResponseJSON | object): Promise<LightMyRequestResponse>;
  /** The audit event a verification failure records. */
  failure: string;
}

describe.each(testDialects())("passkey refusals on $name", (dialect) => {
  let t: TestApp;
  let alice: Enrolled;
  beforeEach(async () => {
    t = await createTestApp(dialect, { env: { LATCHKEY_ADMIN_TOKEN: ADMIN_TOKEN } });
    alice = await enrolPasskey(t);
  });
  afterEach(async () => {
    await t.close();
  });

  const ceremonies: Record<Ceremony["name"], () => Promise<Ceremony>> = {
    "sign-in": async () => ({
      name: "sign-in",
      start: () => signInOptions(t),
      send: (credential) => passkeyLogin(t, credential),
      failure: "login.failed",
    }),
    "second factor": async () => {
      const partial = await login(t, alice.email);
      return {
        name: "second factor",
        start: () => secondFactorOptions(t, partial),
        send: (credential) => authenticate(t, partial, credential),
        failure: "second_factor.failed",
      };
    },
  };

  /**
   * Sends what the authenticator answers (tampered), expects the refusal and that nothing changed
   * but the spent challenge and, where given, the audit event recorded last.
   */
  async function expectRefused(
    ceremony: Ceremony,
    tamper: Tamper,
    status: number,
    code: string,
    event?: { type: string; details: Record<string, unknown> },
    spends = true,
  ) {
    const options = await ceremony.start();
    const credential = alice.authenticator.assert(options, tamper);
    const before = await snapshotExcept(t, "webauthn_challenges", "audit_events");
    const trail = await auditTrail(t, alice.userId);
    expectError(await ceremony.send(credential), status, code);
    expect(await snapshotExcept(t, "webauthn_challenges", "audit_events")).toBe(before);
    // The challenge the options carried is spent, unless the answer named another one.
    expect(await challengeStored(t, options)).toBe(!spends);
    const after = await auditTrail(t, alice.userId);
    if (event) expect(after).toEqual([...trail, event]);
    else expect(after).toEqual(trail);
  }

  describe.each(["sign-in", "second factor"] as const)("%s", (which) => {
    let ceremony: Ceremony;
    beforeEach(async () => {
      ceremony = await ceremonies[which]();
    });
    const failed = (reason: string) => ({ type: ceremony.failure, details: { method: "passkey", reason } });

    it("an origin that is not the relying party's: 401 PASSKEY_INVALID", async () => {
      await expectRefused(ceremony, { origin: "https://evil.example" }, 401, "PASSKEY_INVALID", failed("verification"));
    });

    it("an origin on another port or scheme of the same host: 401 PASSKEY_INVALID", async () => {
      await expectRefused(
        ceremony,
        { origin: "https://latchkey.test" },
        401,
        "PASSKEY_INVALID",
        failed("verification"),
      );
      await expectRefused(
        ceremony,
        { origin: "http://latchkey.test:8443" },
        401,
        "PASSKEY_INVALID",
        failed("verification"),
      );
    });

    it("authenticator data for another relying party id: 401 PASSKEY_INVALID", async () => {
      await expectRefused(ceremony, { rpId: "evil.example" }, 401, "PASSKEY_INVALID", failed("verification"));
    });

    it("a signature by another key: 401 PASSKEY_INVALID", async () => {
      await expectRefused(ceremony, { signWith: newSigningKey() }, 401, "PASSKEY_INVALID", failed("verification"));
    });

    it("the user not present: 401 PASSKEY_INVALID", async () => {
      await expectRefused(ceremony, { userPresent: false }, 401, "PASSKEY_INVALID", failed("verification"));
    });

    it("a challenge Latchkey never made: 401 PASSKEY_CHALLENGE_INVALID", async () => {
      const forged = Buffer.alloc(32, 9).toString("base64url");
      await expectRefused(ceremony, { challenge: forged }, 401, "PASSKEY_CHALLENGE_INVALID", undefined, false);
    });

    it("a replayed answer: the second is 401 PASSKEY_CHALLENGE_INVALID and changes nothing", async () => {
      const options = await ceremony.start();
      const credential = alice.authenticator.assert(options);
      tokensOf(await ceremony.send(credential));
      // The second-factor replay comes with a new login (the first one's partial token is spent).
      const replay = which === "sign-in" ? ceremony : await ceremonies[which]();
      const before = await snapshotExcept(t, "audit_events");
      const trail = await auditTrail(t, alice.userId);
      expectError(await replay.send(credential), 401, "PASSKEY_CHALLENGE_INVALID");
      expect(await snapshotExcept(t, "audit_events")).toBe(before);
      expect(await auditTrail(t, alice.userId)).toEqual(trail);
    });

    it("an expired challenge (5 minutes): 401 PASSKEY_CHALLENGE_INVALID, and the challenge is gone", async () => {
      const options = await ceremony.start();
      t.clock.advanceSeconds(CHALLENGE_TTL_MS / 1000);
      const credential = alice.authenticator.assert(options);
      const before = await snapshotExcept(t, "webauthn_challenges");
      expectError(await ceremony.send(credential), 401, "PASSKEY_CHALLENGE_INVALID");
      expect(await snapshotExcept(t, "webauthn_challenges")).toBe(before);
      expect(await challengeStored(t, options)).toBe(false);
    });

    it("a counter that goes back, or stays: 401 PASSKEY_COUNTER_INVALID, recorded as passkey.counter_invalid", async () => {
      tokensOf(await ceremony.send(alice.authenticator.assert(await ceremony.start(), { counter: 7 })));
      if (which === "second factor") ceremony = await ceremonies[which]();
      const counterInvalid = (presented: number) => ({
        type: "passkey.counter_invalid",
        details: { passkeyName: "Laptop", stored: 7, presented },
      });
      await expectRefused(ceremony, { counter: 3 }, 401, "PASSKEY_COUNTER_INVALID", counterInvalid(3));
      await expectRefused(ceremony, { counter: 7 }, 401, "PASSKEY_COUNTER_INVALID", counterInvalid(7));
      // A counter that drops to zero is refused too: the authenticator kept one before.
      await expectRefused(ceremony, { counter: 0 }, 401, "PASSKEY_COUNTER_INVALID", counterInvalid(0));
      expect((await passkeyRows(t))[0]?.counter).toBe(7);
      // Going forward again works.
      tokensOf(await ceremony.send(alice.authenticator.assert(await ceremony.start(), { counter: 8 })));
      expect((await passkeyRows(t))[0]?.counter).toBe(8);
    });

    it("a deleted passkey: 401 PASSKEY_UNKNOWN", async () => {
      const { sudoToken } = await passkeySession(t, alice.authenticator);
      // A second method keeps 2FA on, so the password login still asks for a second factor.
      await addPasskey(t, sudoToken, newAuthenticator(), "Spare");
      const options = await ceremony.start();
      expectNoContent(await del(t, `/user/2fa/passkeys/${alice.passkeyId}`, sudoToken));
      const credential = alice.authenticator.assert(options, { credentialId: alice.passkeyId });
      const before = await snapshotExcept(t, "webauthn_challenges", "audit_events");
      expectError(await ceremony.send(credential), 401, "PASSKEY_UNKNOWN");
      expect(await snapshotExcept(t, "webauthn_challenges", "audit_events")).toBe(before);
      expect(await challengeStored(t, options)).toBe(false);
    });
  });

  it("sign-in without user verification: 401 PASSKEY_INVALID, no session", async () => {
    const sign = await ceremonies["sign-in"]();
    await expectRefused(sign, { userVerified: false }, 401, "PASSKEY_INVALID", {
      type: "login.failed",
      details: { method: "passkey", reason: "verification" },
    });
  });

  it("a challenge of the other ceremony: 401 PASSKEY_CHALLENGE_INVALID both ways", async () => {
    const sign = await ceremonies["sign-in"]();
    const second = await ceremonies["second factor"]();
    const forSignIn = await sign.start();
    const forSecond = await second.start();
    expectError(await second.send(alice.authenticator.assert(forSignIn)), 401, "PASSKEY_CHALLENGE_INVALID");
    expectError(
      await sign.send(alice.authenticator.assert({ ...forSecond, allowCredentials: [] })),
      401,
      "PASSKEY_CHALLENGE_INVALID",
    );
    // Both were spent by the try.
    expect(await challengeStored(t, forSignIn)).toBe(false);
    expect(await challengeStored(t, forSecond)).toBe(false);
    // Registration challenges are no good for either.
    const { sudoToken } = await passkeySession(t, alice.authenticator);
    const registration = await registrationOptions(t, sudoToken);
    const asRequest = { challenge: registration.challenge, rpId: registration.rp.id, allowCredentials: [] };
    expectError(await sign.send(alice.authenticator.assert(asRequest)), 401, "PASSKEY_CHALLENGE_INVALID");
  });

  it("a second-factor challenge made for another user: 401 PASSKEY_CHALLENGE_INVALID", async () => {
    const bob = await enrolPasskey(t, "bob@example.com");
    const bobsPartial = await login(t, bob.email);
    const bobsOptions = await secondFactorOptions(t, bobsPartial);
    const alicesPartial = await login(t, alice.email);
    const credential = alice.authenticator.assert({ ...bobsOptions, allowCredentials: [] });
    expectError(await authenticate(t, alicesPartial, credential), 401, "PASSKEY_CHALLENGE_INVALID");
    expect(await challengeStored(t, bobsOptions)).toBe(false);
  });

  it("another user's passkey as the second factor: 401 PASSKEY_UNKNOWN, recorded, nothing else changed", async () => {
    const bob = await enrolPasskey(t, "bob@example.com");
    const partial = await login(t, alice.email);
    const options = await secondFactorOptions(t, partial);
    const credential = bob.authenticator.assert(options, { credentialId: bob.passkeyId });
    const before = await snapshotExcept(t, "webauthn_challenges", "audit_events");
    expectError(await authenticate(t, partial, credential), 401, "PASSKEY_UNKNOWN");
    expect(await snapshotExcept(t, "webauthn_challenges", "audit_events")).toBe(before);
    expect((await auditTrail(t, alice.userId)).at(-1)).toEqual({
      type: "second_factor.failed",
      details: { method: "passkey", reason: "unknown" },
    });
    expect((await passkeyRows(t, bob.userId))[0]?.last_used_at).toBeNull();
  });

  it("as a second factor the user handle may be left out, but another user's is 401 PASSKEY_INVALID", async () => {
    const second = await ceremonies["second factor"]();
    const credential = alice.authenticator.assert(await second.start());
    const { userHandle: _dropped, ...response } = credential.response;
    tokensOf(await second.send({ ...credential, response }));

    const again = await ceremonies["second factor"]();
    const options = await again.start();
    const signed = alice.authenticator.assert(options);
    const before = await snapshotExcept(t, "webauthn_challenges", "audit_events");
    expectError(
      await again.send({ ...signed, response: { ...signed.response, userHandle: userHandleOf(alice.userId + 1) } }),
      401,
      "PASSKEY_INVALID",
    );
    expect(await snapshotExcept(t, "webauthn_challenges", "audit_events")).toBe(before);
    expect((await auditTrail(t, alice.userId)).at(-1)).toEqual({
      type: "second_factor.failed",
      details: { method: "passkey", reason: "user_handle" },
    });
  });

  it("a disabled account: 401 ACCOUNT_DISABLED on passkey sign-in, no session, the counter unmoved", async () => {
    expectNoContent(await call(t, "POST", `/admin/users/${alice.userId}/disable`, ADMIN_TOKEN));
    const sign = await ceremonies["sign-in"]();
    const options = await sign.start();
    const credential = alice.authenticator.assert(options);
    const before = await snapshotExcept(t, "webauthn_challenges");
    expectError(await sign.send(credential), 401, "ACCOUNT_DISABLED");
    expect(await snapshotExcept(t, "webauthn_challenges")).toBe(before);
    expect(await challengeStored(t, options)).toBe(false);
    expect((await passkeyRows(t))[0]).toMatchObject({ counter: 0, last_used_at: null });
  });

  it("a disabled account's partial token from before: 401 ACCOUNT_DISABLED, the challenge untouched", async () => {
    const second = await ceremonies["second factor"]();
    const options = await second.start();
    expectNoContent(await call(t, "POST", `/admin/users/${alice.userId}/disable`, ADMIN_TOKEN));
    const before = await snapshotExcept(t);
    expectError(await second.send(alice.authenticator.assert(options)), 401, "ACCOUNT_DISABLED");
    expect(await snapshotExcept(t)).toBe(before);
  });

  it("sign-in requires the user handle: left out, null or empty, 401 PASSKEY_INVALID", async () => {
    const sign = await ceremonies["sign-in"]();
    const options = await sign.start();
    const credential = alice.authenticator.assert(options);
    const { userHandle: _dropped, ...response } = credential.response;
    const before = await snapshotExcept(t, "webauthn_challenges", "audit_events");
    expectError(await sign.send({ ...credential, response }), 401, "PASSKEY_INVALID");
    const another = alice.authenticator.assert(await sign.start());
    expectError(
      await sign.send({ ...another, response: { ...another.response, userHandle: null } }),
      401,
      "PASSKEY_INVALID",
    );
    const empty = alice.authenticator.assert(await sign.start());
    expectError(await sign.send({ ...empty, response: { ...empty.response, userHandle: "" } }), 401, "PASSKEY_INVALID");
    expect(await snapshotExcept(t, "webauthn_challenges", "audit_events")).toBe(before);
    expect(await challengeStored(t, options)).toBe(false);
    expect((await auditTrail(t, alice.userId)).at(-1)).toEqual({
      type: "login.failed",
      details: { method: "passkey", reason: "user_handle" },
    });
  });

  it("sign-in requires the user handle to be the credential's user: another's is 401 PASSKEY_INVALID", async () => {
    const bob = await enrolPasskey(t, "bob@example.com");
    const sign = await ceremonies["sign-in"]();
    for (const handle of [userHandleOf(bob.userId), Buffer.from(`latchkey:${alice.userId}0`).toString("base64url")]) {
      const credential = alice.authenticator.assert(await sign.start(), { credentialId: alice.passkeyId });
      const before = await snapshotExcept(t, "webauthn_challenges", "audit_events");
      expectError(
        await sign.send({ ...credential, response: { ...credential.response, userHandle: handle } }),
        401,
        "PASSKEY_INVALID",
      );
      expect(await snapshotExcept(t, "webauthn_challenges", "audit_events")).toBe(before);
    }
    expect(await passkeyRows(t, alice.userId)).toMatchObject([{ counter: 0, last_used_at: null }]);
  });
});
