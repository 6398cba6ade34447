import type { LightMyRequestResponse } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "../support/harness.js";
import { del, get, login, message, signIn } from "../support/http.js";
import {
  addPasskey,
  auditTrail,
  authenticate,
  enable,
  enrolPasskey,
  newAuthenticator,
  passkeyLogin,
  passkeyRows,
  passkeySession,
  patch,
  registrationOptions,
  secondFactorOptions,
  sessionCount,
  signInOptions,
} from "./support.js";

/** Exactly one answer with `status`; each other one a refusal among `refusals`. */
function expectOneWinner(results: LightMyRequestResponse[], status: number, ...refusals: string[]): void {
  expect(results.filter((res) => res.statusCode === status)).toHaveLength(1);
  for (const res of results.filter((r) => r.statusCode !== status)) expect(refusals).toContain(message(res));
}

describe.each(testDialects())("passkeys under concurrency on $name", (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect);
  });
  afterEach(async () => {
    await t.close();
  });

  it("one sign-in answer sent five times at once: one session, the others PASSKEY_CHALLENGE_INVALID", async () => {
    const alice = await enrolPasskey(t);
    const credential = alice.authenticator.assert(await signInOptions(t));
    const sessions = await sessionCount(t, alice.userId);
    const results = await Promise.all([...Array(5)].map(() => passkeyLogin(t, credential)));
    expectOneWinner(results, 200, "PASSKEY_CHALLENGE_INVALID");
    expect(await sessionCount(t, alice.userId)).toBe(sessions + 1);
    const logins = (await auditTrail(t, alice.userId)).filter(
      (e) => e.type === "login.succeeded" && e.details?.method === "passkey",
    );
    expect(logins).toEqual([{ type: "login.succeeded", details: { method: "passkey" } }]);
  });

  it("one second-factor answer sent from five logins at once: one session", async () => {
    const alice = await enrolPasskey(t);
    const partial = await login(t, alice.email);
    const credential = alice.authenticator.assert(await secondFactorOptions(t, partial));
    const sessions = await sessionCount(t, alice.userId);
    const results = await Promise.all([...Array(5)].map(() => authenticate(t, partial, credential)));
    // The winner spends the challenge (and the partial token); the others lose on either.
    expectOneWinner(results, 200, "PASSKEY_CHALLENGE_INVALID", "TOKEN_REVOKED");
    expect(await sessionCount(t, alice.userId)).toBe(sessions + 1);
  });

  it("two answers on two challenges with the same counter at once: the counter moves once, the loser is PASSKEY_COUNTER_INVALID", async () => {
    const alice = await enrolPasskey(t);
    // Two copies of one authenticator, each with a challenge of its own, both at counter 5.
    const answers = [
      alice.authenticator.assert(await signInOptions(t), { counter: 5 }),
      alice.authenticator.assert(await signInOptions(t), { counter: 5 }),
    ];
    const sessions = await sessionCount(t, alice.userId);
    const results = await Promise.all(answers.map((credential) => passkeyLogin(t, credential)));
    expectOneWinner(results, 200, "PASSKEY_COUNTER_INVALID");
    expect(await sessionCount(t, alice.userId)).toBe(sessions + 1);
    expect((await passkeyRows(t))[0]?.counter).toBe(5);
    expect(await auditTrail(t, alice.userId)).toContainEqual({
      type: "passkey.counter_invalid",
      details: { passkeyName: "Laptop", stored: 5, presented: 5 },
    });
  });

  it("two second-factor answers with the same counter at once: one session", async () => {
    const alice = await enrolPasskey(t);
    const partials = [await login(t, alice.email), await login(t, alice.email)];
    const answers = await Promise.all(
      partials.map(async (p) => alice.authenticator.assert(await secondFactorOptions(t, p), { counter: 3 })),
    );
    const sessions = await sessionCount(t, alice.userId);
    const results = await Promise.all(
      answers.map((credential, i) => authenticate(t, partials[i] as string, credential)),
    );
    expectOneWinner(results, 200, "PASSKEY_COUNTER_INVALID");
    expect(await sessionCount(t, alice.userId)).toBe(sessions + 1);
  });

  it("two enables racing at the limit: one is the 20th, the other 409 PASSKEY_LIMIT_REACHED", async () => {
    const alice = await enrolPasskey(t);
    const { sudoToken } = await passkeySession(t, alice.authenticator);
    for (let n = 2; n <= 19; n++) await addPasskey(t, sudoToken, newAuthenticator());
    const first = newAuthenticator().register(await registrationOptions(t, sudoToken));
    const second = newAuthenticator().register(await registrationOptions(t, sudoToken));
    const results = await Promise.all([enable(t, sudoToken, first), enable(t, sudoToken, second)]);
    expectOneWinner(results, 200, "PASSKEY_LIMIT_REACHED");
    expect(results.find((r) => r.statusCode !== 200)?.statusCode).toBe(409);
    expect(await passkeyRows(t, alice.userId)).toHaveLength(20);
    const added = (await auditTrail(t, alice.userId)).filter((e) => e.type === "2fa.enabled");
    expect(added).toHaveLength(20);
  });

  it("the same new credential enabled twice at once: one stored, the other 409", async () => {
    await t.createUser("bob@example.com");
    const { access } = await signIn(t, "bob@example.com");
    const authenticator = newAuthenticator();
    const first = authenticator.register(await registrationOptions(t, access));
    const again = authenticator.register(await registrationOptions(t, access), { credentialId: first.id });
    const results = await Promise.all([enable(t, access, first), enable(t, access, again)]);
    expectOneWinner(results, 200, "PASSKEY_ALREADY_REGISTERED");
    expect(await passkeyRows(t)).toHaveLength(1);
    // One of the two made the recovery codes: ten, once.
    expect(results.map((r) => r.json().recoveryCodes?.length ?? 0).sort()).toEqual([0, 10]);
    expect(await t.db.selectFrom("recovery_codes").select("user_id").execute()).toHaveLength(10);
  });

  it("the first two passkeys enabled at once with 2FA off: both stored, one set of recovery codes", async () => {
    await t.createUser("bob@example.com");
    const { access } = await signIn(t, "bob@example.com");
    const answers = [
      newAuthenticator().register(await registrationOptions(t, access)),
      newAuthenticator().register(await registrationOptions(t, access)),
    ];
    const results = await Promise.all(answers.map((credential) => enable(t, access, credential)));
    for (const res of results) expect(res.statusCode, res.body).toBe(200);
    expect(results.map((r) => r.json().recoveryCodes.length).sort()).toEqual([0, 10]);
    expect(await t.db.selectFrom("recovery_codes").select("user_id").execute()).toHaveLength(10);
    expect((await get(t, "/user/2fa", access)).json().passkeys.count).toBe(2);
  });

  it("rename and delete racing: the passkey is gone; the rename either came first or is 404", async () => {
    const alice = await enrolPasskey(t);
    const { accessToken, sudoToken } = await passkeySession(t, alice.authenticator);
    const [renamed, deleted] = await Promise.all([
      patch(t, `/user/2fa/passkeys/${alice.passkeyId}`, accessToken, { name: "Renamed" }),
      del(t, `/user/2fa/passkeys/${alice.passkeyId}`, sudoToken),
    ]);
    expect(deleted.statusCode).toBe(204);
    if (renamed.statusCode === 200) expect(renamed.json().name).toBe("Renamed");
    else expect(message(renamed)).toBe("PASSKEY_NOT_FOUND");
    expect(await passkeyRows(t)).toEqual([]);
    expect((await get(t, "/user/2fa", accessToken)).json()).toEqual({ enabled: false });
  });

  it("one passkey deleted twice at once: one 204, one 404, one event", async () => {
    const alice = await enrolPasskey(t);
    const { sudoToken } = await passkeySession(t, alice.authenticator);
    const results = await Promise.all([
      del(t, `/user/2fa/passkeys/${alice.passkeyId}`, sudoToken),
      del(t, `/user/2fa/passkeys/${alice.passkeyId}`, sudoToken),
    ]);
    expectOneWinner(results, 204, "PASSKEY_NOT_FOUND");
    const removed = (await auditTrail(t, alice.userId)).filter((e) => e.type === "2fa.disabled");
    expect(removed).toHaveLength(1);
  });

  it("the last two passkeys deleted at once: both gone, 2FA off, no recovery codes left", async () => {
    const alice = await enrolPasskey(t);
    const { sudoToken, accessToken } = await passkeySession(t, alice.authenticator);
    const { passkey } = await addPasskey(t, sudoToken, newAuthenticator());
    const results = await Promise.all([
      del(t, `/user/2fa/passkeys/${alice.passkeyId}`, sudoToken),
      del(t, `/user/2fa/passkeys/${passkey.passkeyId}`, sudoToken),
    ]);
    for (const res of results) expect(res.statusCode, res.body).toBe(204);
    expect(await passkeyRows(t)).toEqual([]);
    expect((await get(t, "/user/2fa", accessToken)).json()).toEqual({ enabled: false });
    expect(await t.db.selectFrom("recovery_codes").select("user_id").execute()).toEqual([]);
  });
});
