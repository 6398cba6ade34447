import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TestApp } from "../support/harness.js";
import { testDialects } from "../support/harness.js";
import { codeOf, type SmtpSink } from "../support/smtp.js";
import { authenticatorFrom, codeAt } from "../two-factor/support.js";
import {
  accessFor,
  call,
  expectError,
  expectNoContent,
  login,
  type MailApp,
  NEW_PASSWORD,
  PASSWORD,
  startMailApp,
} from "./fixture.js";

const ADMIN_TOKEN = "a".repeat(40);

/**
 * Revoking a user's sessions (password reset, password change, the admin) also ends the partial
 * tokens issued before it and the sudo tokens of the ended sessions (§2); reset and change are each
 * one transaction (a failure between their steps leaves nothing half done).
 */
describe.each(testDialects())("revocation with the sessions on $name", (dialect) => {
  let m: MailApp | undefined;
  let t: TestApp;
  let smtp: SmtpSink;

  beforeEach(async () => {
    m = await startMailApp(dialect, { LATCHKEY_ADMIN_TOKEN: ADMIN_TOKEN });
    ({ t, smtp } = m);
  });
  afterEach(async () => {
    await m?.close();
    m = undefined;
  });

  /** A user with TOTP on, and what a second login of theirs holds: a partial token. */
  async function userWithTotp(email = "alice@example.com") {
    const userId = await t.createUser(email, PASSWORD);
    const access = await accessFor(t, await login(t, email));
    const setup = await call(t, "POST", "/user/2fa/totp/setup", access, {});
    const totp = authenticatorFrom(setup.json().url);
    expect(
      (await call(t, "POST", "/user/2fa/totp/enable", access, { totp: codeAt(totp, t.clock.now()) })).statusCode,
    ).toBe(200);
    t.clock.advanceSeconds(30);
    const partial = await login(t, email);
    return { userId, totp, partial };
  }

  /** A full login through the second factor: the session's access, refresh and sudo tokens. */
  async function fullLogin(email: string, totp: ReturnType<typeof authenticatorFrom>) {
    const partial = await login(t, email);
    const res = await call(t, "POST", "/user/2fa/totp/authenticate", partial, { totp: codeAt(totp, t.clock.now()) });
    expect(res.statusCode, res.body).toBe(200);
    t.clock.advanceSeconds(30);
    return res.json() as { accessToken: string; refreshToken: string; sudoToken: string };
  }

  async function resetByMail(email: string, newPassword = NEW_PASSWORD) {
    expectNoContent(await call(t, "POST", "/user/password/reset/send", undefined, { email }));
    const otp = codeOf(await smtp.next());
    return { otp, res: await call(t, "PUT", "/user/password/otp", undefined, { userEmail: email, otp, newPassword }) };
  }

  async function expectPartialRevoked(partial: string, totp: ReturnType<typeof authenticatorFrom>) {
    expectError(await call(t, "GET", "/user/2fa", partial), 401, "TOKEN_REVOKED");
    const res = await call(t, "POST", "/user/2fa/totp/authenticate", partial, { totp: codeAt(totp, t.clock.now()) });
    expectError(res, 401, "TOKEN_REVOKED");
    expect(await t.db.selectFrom("sessions").select("id").where("revoked_at", "is", null).execute()).toHaveLength(0);
  }

  it("a password reset ends partial tokens issued before it; one issued after works", async () => {
    const { partial, totp } = await userWithTotp();
    const { res } = await resetByMail("alice@example.com");
    expectNoContent(res);
    await expectPartialRevoked(partial, totp);
    // Issued in the same millisecond as the reset, after it: a login goes on normally.
    const fresh = await login(t, "alice@example.com", NEW_PASSWORD);
    const done = await call(t, "POST", "/user/2fa/totp/authenticate", fresh, { totp: codeAt(totp, t.clock.now()) });
    expect(done.statusCode, done.body).toBe(200);
  });

  it("the admin's revoke-sessions ends partial tokens issued before it", async () => {
    const { userId, partial, totp } = await userWithTotp();
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const res = await t.app.inject({ method: "POST", url: `/admin/users/${userId}/sessions/revoke`, headers });
    expectNoContent(res);
    await expectPartialRevoked(partial, totp);
  });

  it("a password change ends partial tokens and other sessions' sudo tokens, but not the caller's", async () => {
    const { totp } = await userWithTotp();
    const other = await fullLogin("alice@example.com", totp);
    const mine = await fullLogin("alice@example.com", totp);
    const partial = await login(t, "alice@example.com");
    const change = await call(t, "PUT", "/user/password/old-password", mine.sudoToken, {
      oldPassword: PASSWORD,
      newPassword: NEW_PASSWORD,
    });
    expectNoContent(change);
    expectError(await call(t, "GET", "/user/2fa", partial), 401, "TOKEN_REVOKED");
    expectError(await call(t, "POST", "/user/2fa/recovery-code/reset", other.sudoToken, {}), 401, "TOKEN_REVOKED");
    expect((await call(t, "POST", "/user/2fa/recovery-code/reset", mine.sudoToken, {})).statusCode).toBe(200);
    expect((await call(t, "GET", "/auth/accesstoken/validate", mine.accessToken)).statusCode).toBe(200);
  });

  it("a password reset ends every sudo token of the user", async () => {
    const { totp } = await userWithTotp();
    const before = await fullLogin("alice@example.com", totp);
    expectNoContent((await resetByMail("alice@example.com")).res);
    expectError(await call(t, "POST", "/user/2fa/recovery-code/reset", before.sudoToken, {}), 401, "TOKEN_REVOKED");
  });

  it("of a partial token's completion racing a password reset, never both", async () => {
    const { partial, totp } = await userWithTotp();
    expectNoContent(await call(t, "POST", "/user/password/reset/send", undefined, { email: "alice@example.com" }));
    const otp = codeOf(await smtp.next());
    const [done, reset] = await Promise.all([
      call(t, "POST", "/user/2fa/totp/authenticate", partial, { totp: codeAt(totp, t.clock.now()) }),
      call(t, "PUT", "/user/password/otp", undefined, {
        userEmail: "alice@example.com",
        otp,
        newPassword: NEW_PASSWORD,
      }),
    ]);
    expectNoContent(reset);
    // Whichever ran first, no session opened by the partial token outlives the reset.
    expect([200, 401]).toContain(done.statusCode);
    expect(await t.db.selectFrom("sessions").select("id").where("revoked_at", "is", null).execute()).toHaveLength(0);
  });

  /** Makes every revocation of a session fail inside the database, between a flow's other writes. */
  async function failSessionRevocation(): Promise<() => Promise<void>> {
    const db = t.db;
    if (dialect.name === "sqlite") {
      await sql`create trigger fail_revoke before update of revoked_at on sessions
        begin select raise(abort, 'injected failure'); end`.execute(db);
      return async () => void (await sql`drop trigger fail_revoke`.execute(db));
    }
    await sql`create function fail_revoke() returns trigger language plpgsql as
      $$ begin raise exception 'injected failure'; end $$`.execute(db);
    await sql`create trigger fail_revoke before update of revoked_at on sessions
      for each row execute function fail_revoke()`.execute(db);
    return async () => {
      await sql`drop trigger fail_revoke on sessions`.execute(db);
      await sql`drop function fail_revoke()`.execute(db);
    };
  }

  async function auditTypes(userId: number): Promise<string[]> {
    const rows = await t.db.selectFrom("audit_events").select("type").where("user_id", "=", userId).execute();
    return rows.map((r) => r.type);
  }

  it("a reset that fails between its writes changes nothing: old password, sessions and code stay", async () => {
    const userId = await t.createUser("alice@example.com", PASSWORD);
    const refresh = await login(t, "alice@example.com");
    const restore = await failSessionRevocation();
    const { otp, res } = await resetByMail("alice@example.com");
    expectError(res, 500, "INTERNAL_SERVER_ERROR");
    expect((await call(t, "GET", "/auth/refreshtoken/validate", refresh)).statusCode).toBe(200);
    await login(t, "alice@example.com", PASSWORD);
    expect(await auditTypes(userId)).not.toContain("password.reset");
    await restore();
    // The code was not spent: with the fault gone, the same code resets the password.
    expectNoContent(
      await call(t, "PUT", "/user/password/otp", undefined, {
        userEmail: "alice@example.com",
        otp,
        newPassword: NEW_PASSWORD,
      }),
    );
    expectError(await call(t, "GET", "/auth/refreshtoken/validate", refresh), 401, "TOKEN_REVOKED");
    await login(t, "alice@example.com", NEW_PASSWORD);
  });

  it("a change that fails between its writes changes nothing: old password and other sessions stay", async () => {
    const userId = await t.createUser("alice@example.com", PASSWORD);
    const other = await login(t, "alice@example.com");
    const access = await accessFor(t, await login(t, "alice@example.com"));
    const restore = await failSessionRevocation();
    const body = { oldPassword: PASSWORD, newPassword: NEW_PASSWORD };
    expectError(await call(t, "PUT", "/user/password/old-password", access, body), 500, "INTERNAL_SERVER_ERROR");
    expect((await call(t, "GET", "/auth/refreshtoken/validate", other)).statusCode).toBe(200);
    await login(t, "alice@example.com", PASSWORD);
    expect(await auditTypes(userId)).not.toContain("password.changed");
    await restore();
    expectNoContent(await call(t, "PUT", "/user/password/old-password", access, body));
    expectError(await call(t, "GET", "/auth/refreshtoken/validate", other), 401, "TOKEN_REVOKED");
  });
});
