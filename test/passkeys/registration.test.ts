import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "../support/harness.js";
import {
  attemptLogin,
  call,
  del,
  expectError,
  expectNoContent,
  get,
  login,
  PASSWORD,
  post,
  signIn,
} from "../support/http.js";
import { SoftAuthenticator } from "../support/webauthn.js";
import { codeAt, enrolTotp } from "../two-factor/support.js";
import {
  addPasskey,
  auditTrail,
  challengeCount,
  enable,
  enrolPasskey,
  newAuthenticator,
  ORIGIN,
  passkeyRows,
  passkeySession,
  patch,
  RP_ID,
  registrationOptions,
  snapshotExcept,
  userHandleOf,
} from "./support.js";

const ADMIN_TOKEN = "admin-token-0123456789abcdefghijklmnopqrstuvwxyz";

describe.each(testDialects())("passkey registration and the 2FA life cycle on $name", (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect, { env: { LATCHKEY_ADMIN_TOKEN: ADMIN_TOKEN } });
  });
  afterEach(async () => {
    await t.close();
  });

  it("the first passkey: options for the RP, then stored, 2FA on, ten recovery codes, login needs a second step", async () => {
    const userId = await t.createUser("alice@example.com", PASSWORD);
    const { access } = await signIn(t, "alice@example.com");

    const options = await registrationOptions(t, access);
    expect(options.rp).toEqual({ id: RP_ID, name: "Latchkey" });
    expect(options.user).toEqual({
      id: userHandleOf(userId),
      name: "alice@example.com",
      displayName: "alice@example.com",
    });
    expect(options.attestation).toBe("none");
    expect(options.authenticatorSelection).toMatchObject({ residentKey: "preferred", userVerification: "preferred" });
    expect(options.excludeCredentials).toEqual([]);
    expect(options.timeout).toBe(300_000);
    expect(Buffer.from(options.challenge, "base64url")).toHaveLength(32);
    // Options alone turn nothing on.
    expect((await get(t, "/user/2fa", access)).json()).toEqual({ enabled: false });

    const authenticator = newAuthenticator();
    const credential = authenticator.register(options);
    const res = await enable(t, access, credential, "  Laptop  ");
    expect(res.statusCode, res.body).toBe(200);
    const createdAt = new Date(t.clock.now()).toISOString();
    const body = res.json();
    expect(body.passkey).toEqual({
      passkeyId: credential.id,
      name: "Laptop",
      createdAt,
      lastUsedAt: null,
      backedUp: false,
      transports: ["internal"],
    });
    expect(body.recoveryCodes).toHaveLength(10);
    expect(new Set(body.recoveryCodes).size).toBe(10);

    expect((await get(t, "/user/2fa", access)).json()).toEqual({
      enabled: true,
      passkeys: { completedAt: createdAt, count: 1 },
      recoveryCodes: { completedAt: createdAt, remaining: 10 },
    });
    expect(await passkeyRows(t)).toEqual([
      { id: credential.id, user_id: userId, counter: 0, name: "Laptop", last_used_at: null },
    ]);
    expect(await auditTrail(t, userId)).toContainEqual({ type: "2fa.enabled", details: { method: "passkey" } });
    // A password login now answers a partial token.
    const partial = await login(t, "alice@example.com");
    expectError(await get(t, "/auth/accesstoken", partial), 401, "2FA_REQUIRED_PARTIAL_TOKEN");
    // The recovery codes finish such a login.
    const rec = await post(t, "/user/2fa/recovery-code/authenticate", partial, { recoveryCode: body.recoveryCodes[0] });
    expect(rec.statusCode, rec.body).toBe(200);
  });

  it("a backed-up passkey says so, with the transports the browser reported", async () => {
    await t.createUser("alice@example.com", PASSWORD);
    const { access } = await signIn(t, "alice@example.com");
    const authenticator = new SoftAuthenticator({
      origin: ORIGIN,
      backedUp: true,
      transports: ["hybrid", "internal", "carrier-pigeon"],
    });
    const { passkey } = await addPasskey(t, access, authenticator, "Phone");
    expect(passkey).toMatchObject({ name: "Phone", backedUp: true, transports: ["hybrid", "internal"] });
  });

  it("more passkeys need the sudo token once 2FA is on, get no new recovery codes, and a default name", async () => {
    const alice = await enrolPasskey(t);
    const firstAt = new Date(t.clock.now()).toISOString();
    // The access token of the session from before 2FA no longer opens setup or enable.
    expectError(await post(t, "/user/2fa/passkey/setup", alice.access, {}), 403, "SUDO_TOKEN_REQUIRED");
    const elsewhere = await registrationOptions(t, (await passkeySession(t, alice.authenticator)).sudoToken);
    expectError(await enable(t, alice.access, newAuthenticator().register(elsewhere)), 403, "SUDO_TOKEN_REQUIRED");

    t.clock.advanceSeconds(60);
    const { sudoToken, accessToken } = await passkeySession(t, alice.authenticator);
    const options = await registrationOptions(t, sudoToken);
    // The passkeys the account has are excluded, so that an authenticator is not registered twice.
    expect(options.excludeCredentials).toEqual([{ id: alice.passkeyId, type: "public-key", transports: ["internal"] }]);
    const second = await enable(t, sudoToken, newAuthenticator().register(options));
    expect(second.statusCode, second.body).toBe(200);
    expect(second.json().recoveryCodes).toEqual([]);
    expect(second.json().passkey.name).toBe("Passkey 2");

    expect((await get(t, "/user/2fa", accessToken)).json()).toEqual({
      enabled: true,
      passkeys: { completedAt: firstAt, count: 2 },
      recoveryCodes: { completedAt: firstAt, remaining: 10 },
    });
    // Newest first.
    const list = (await get(t, "/user/2fa/passkeys", accessToken)).json().passkeys;
    expect(list.map((p: { name: string }) => p.name)).toEqual(["Passkey 2", "Laptop"]);
  });

  it("lists, renames and deletes; deleting the last passkey turns 2FA off and drops the recovery codes", async () => {
    const alice = await enrolPasskey(t);
    const { accessToken, sudoToken } = await passkeySession(t, alice.authenticator);
    const renamed = await patch(t, `/user/2fa/passkeys/${alice.passkeyId}`, accessToken, { name: " Work laptop " });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(renamed.json()).toMatchObject({ passkeyId: alice.passkeyId, name: "Work laptop" });
    expect((await get(t, "/user/2fa/passkeys", accessToken)).json().passkeys).toEqual([renamed.json()]);

    // Deleting needs the sudo token.
    expectError(await del(t, `/user/2fa/passkeys/${alice.passkeyId}`, accessToken), 403, "SUDO_TOKEN_REQUIRED");
    expectNoContent(await del(t, `/user/2fa/passkeys/${alice.passkeyId}`, sudoToken));
    expect(await passkeyRows(t)).toEqual([]);
    expect((await get(t, "/user/2fa", accessToken)).json()).toEqual({ enabled: false });
    expect(await t.db.selectFrom("recovery_codes").select("user_id").execute()).toEqual([]);
    expect(await auditTrail(t, alice.userId)).toContainEqual({ type: "2fa.disabled", details: { method: "passkey" } });
    // A password login gives a full session again; a second delete finds nothing.
    const res = await attemptLogin(t, "alice@example.com");
    expect((await get(t, "/auth/refreshtoken/validate", res.body)).json()).toEqual({ userId: alice.userId });
    expectError(await del(t, `/user/2fa/passkeys/${alice.passkeyId}`, sudoToken), 404, "PASSKEY_NOT_FOUND");
  });

  it("deleting the last passkey while TOTP is active keeps 2FA on, with its recovery codes", async () => {
    const enrolled = await enrolTotp(t);
    const partial = await login(t, "alice@example.com");
    const tokens = (
      await post(t, "/user/2fa/totp/authenticate", partial, { totp: codeAt(enrolled.totp, t.clock.now()) })
    ).json();
    const authenticator = newAuthenticator();
    const added = await addPasskey(t, tokens.sudoToken, authenticator, "Key");
    expect(added.recoveryCodes).toEqual([]);
    expectNoContent(await del(t, `/user/2fa/passkeys/${added.passkey.passkeyId}`, tokens.sudoToken));
    const state = (await get(t, "/user/2fa", tokens.accessToken)).json();
    expect(state).toMatchObject({ enabled: true, totp: {}, recoveryCodes: { remaining: 10 } });
    expect(state.passkeys).toBeUndefined();
  });

  it("another user's passkey id is 404 PASSKEY_NOT_FOUND to rename and to delete, and stays as it was", async () => {
    const alice = await enrolPasskey(t, "alice@example.com");
    const bob = await enrolPasskey(t, "bob@example.com");
    const bobs = await passkeySession(t, bob.authenticator);
    const before = await snapshotExcept(t);
    expectError(
      await patch(t, `/user/2fa/passkeys/${alice.passkeyId}`, bobs.accessToken, { name: "Mine now" }),
      404,
      "PASSKEY_NOT_FOUND",
    );
    expectError(await del(t, `/user/2fa/passkeys/${alice.passkeyId}`, bobs.sudoToken), 404, "PASSKEY_NOT_FOUND");
    expect(await snapshotExcept(t)).toBe(before);
    expect((await passkeyRows(t, alice.userId)).map((r) => r.name)).toEqual(["Laptop"]);
  });

  it("the same credential registered twice, to this account or another, is 409 PASSKEY_ALREADY_REGISTERED", async () => {
    const alice = await enrolPasskey(t, "alice@example.com");
    const { sudoToken } = await passkeySession(t, alice.authenticator);
    const again = alice.authenticator.register(await registrationOptions(t, sudoToken), {
      credentialId: alice.passkeyId,
    });
    const before = await snapshotExcept(t, "webauthn_challenges");
    expectError(await enable(t, sudoToken, again), 409, "PASSKEY_ALREADY_REGISTERED");
    expect(await snapshotExcept(t, "webauthn_challenges")).toBe(before);

    // Bob's browser presents Alice's credential id (with a key of its own).
    await t.createUser("bob@example.com", PASSWORD);
    const bob = await signIn(t, "bob@example.com");
    const stolen = newAuthenticator().register(await registrationOptions(t, bob.access), {
      credentialId: alice.passkeyId,
    });
    const beforeBob = await snapshotExcept(t, "webauthn_challenges");
    expectError(await enable(t, bob.access, stolen), 409, "PASSKEY_ALREADY_REGISTERED");
    expect(await snapshotExcept(t, "webauthn_challenges")).toBe(beforeBob);
    expect(await passkeyRows(t)).toHaveLength(1);
    expect((await get(t, "/user/2fa", bob.access)).json()).toEqual({ enabled: false });
  });

  it("at 20 passkeys, setup and enable both refuse the 21st with 409 PASSKEY_LIMIT_REACHED", async () => {
    const alice = await enrolPasskey(t);
    const { sudoToken, accessToken } = await passkeySession(t, alice.authenticator);
    const authenticator = newAuthenticator();
    for (let n = 2; n <= 19; n++) await addPasskey(t, sudoToken, authenticator);
    // Two ceremonies started at 19: the first fills the account, the second is refused.
    const first = await registrationOptions(t, sudoToken);
    const last = await registrationOptions(t, sudoToken);
    const twentieth = await enable(t, sudoToken, authenticator.register(first));
    expect(twentieth.statusCode, twentieth.body).toBe(200);
    const before = await snapshotExcept(t, "webauthn_challenges");
    expectError(await enable(t, sudoToken, authenticator.register(last)), 409, "PASSKEY_LIMIT_REACHED");
    const challenges = await challengeCount(t);
    expectError(await post(t, "/user/2fa/passkey/setup", sudoToken, {}), 409, "PASSKEY_LIMIT_REACHED");
    expect(await challengeCount(t)).toBe(challenges);
    expect(await snapshotExcept(t, "webauthn_challenges")).toBe(before);
    expect(await passkeyRows(t, alice.userId)).toHaveLength(20);
    expect((await get(t, "/user/2fa", accessToken)).json().passkeys.count).toBe(20);
  });

  it("the admin's 2FA reset deletes every passkey; the admin's view shows them before", async () => {
    const alice = await enrolPasskey(t);
    const { sudoToken } = await passkeySession(t, alice.authenticator);
    await addPasskey(t, sudoToken, newAuthenticator(), "Key");
    const detail = await call(t, "GET", `/admin/users/${alice.userId}`, ADMIN_TOKEN);
    expect(detail.json().twoFactor.passkeys).toMatchObject({ count: 2 });

    expectNoContent(await call(t, "POST", `/admin/users/${alice.userId}/2fa/reset`, ADMIN_TOKEN));
    expect(await passkeyRows(t)).toEqual([]);
    const refresh = await login(t, "alice@example.com");
    expect((await get(t, "/auth/refreshtoken/validate", refresh)).json()).toEqual({ userId: alice.userId });
    // The passkey no longer signs in.
    const res = await post(t, "/auth/passkey/challenge", undefined, {});
    const signInAgain = await post(t, "/auth/passkey/login", undefined, {
      credential: alice.authenticator.assert(res.json()),
    });
    expectError(signInAgain, 401, "PASSKEY_UNKNOWN");
  });

  it("deleting the account deletes its passkeys and challenges; the passkey then is PASSKEY_UNKNOWN", async () => {
    const alice = await enrolPasskey(t);
    const { sudoToken } = await passkeySession(t, alice.authenticator);
    await registrationOptions(t, sudoToken);
    const options = await post(t, "/auth/passkey/challenge", undefined, {});
    expectNoContent(await call(t, "DELETE", `/admin/users/${alice.userId}`, ADMIN_TOKEN));
    expect(await passkeyRows(t)).toEqual([]);
    expect(await t.db.selectFrom("webauthn_challenges").select("user_id").execute()).toEqual([{ user_id: null }]);
    const res = await post(t, "/auth/passkey/login", undefined, {
      credential: alice.authenticator.assert(options.json()),
    });
    expectError(res, 401, "PASSKEY_UNKNOWN");
  });
});
