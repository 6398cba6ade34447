import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { issueAccessAndSudo } from "../../src/core/flows/sessions.js";
import { insertSession } from "../../src/storage/kysely/sessions.js";
import { type TestApp, testDialects } from "../support/harness.js";
import { call, expectError, expectNoContent, login, NEW_PASSWORD, PASSWORD, signIn } from "../support/http.js";
import type { SmtpSink } from "../support/smtp.js";
import { snapshot } from "../support/snapshot.js";
import { type MailApp, startMailApp } from "./fixture.js";

const CHANGE = "/user/password/old-password";

describe.each(testDialects())("password change on $name", (dialect) => {
  let m: MailApp | undefined;
  let t: TestApp;
  let smtp: SmtpSink;

  beforeEach(async () => {
    m = await startMailApp(dialect);
    ({ t, smtp } = m);
    await t.createUser("alice@example.com");
  });
  afterEach(async () => {
    // Undefined when beforeEach failed: its own error is the one to see.
    await m?.close();
    m = undefined;
  });

  const change = (token: string, oldPassword: string, newPassword = NEW_PASSWORD) =>
    call(t, "PUT", CHANGE, token, { oldPassword, newPassword });

  it("changes the password, revokes every other session, keeps the caller's, and sends a notice", async () => {
    const mine = await signIn(t, "alice@example.com");
    const other = await signIn(t, "alice@example.com");

    expectNoContent(await change(mine.access, PASSWORD));

    expectError(await call(t, "GET", "/auth/accesstoken", other.refresh), 401, "TOKEN_REVOKED");
    expectError(await call(t, "GET", "/auth/accesstoken/validate", other.access), 401, "TOKEN_REVOKED");
    expect((await call(t, "GET", "/auth/accesstoken/validate", mine.access)).statusCode).toBe(200);
    expect((await call(t, "GET", "/auth/accesstoken", mine.refresh)).statusCode).toBe(200);

    expectError(
      await call(t, "POST", "/auth/login", undefined, { username: "alice@example.com", password: PASSWORD }),
      401,
      "PASSWORD_INCORRECT",
    );
    await login(t, "alice@example.com", NEW_PASSWORD);

    const notice = await smtp.next();
    expect(notice.to).toEqual(["alice@example.com"]);
    expect(notice.subject).toBe("Your Latchkey password was changed");
    expect(notice.text).not.toContain(NEW_PASSWORD);
  });

  it("refuses a wrong old password, throttled together with login", async () => {
    const { access } = await signIn(t, "alice@example.com");
    for (let n = 0; n < 3; n++) expectError(await change(access, "Wrong7Horse"), 401, "PASSWORD_INCORRECT");
    for (let n = 0; n < 2; n++) {
      expectError(
        await call(t, "POST", "/auth/login", undefined, { username: "alice@example.com", password: "Wrong7Horse" }),
        401,
        "PASSWORD_INCORRECT",
      );
    }
    // Five failures in all: the next attempt waits 2^0 = 1 s, also the right password.
    expectError(await change(access, PASSWORD), 429, "TOO_MANY_FAILED_PASSWORD_CHECKS", 1);
    t.clock.advanceSeconds(1);
    expectNoContent(await change(access, PASSWORD));
    expect(smtp.received).toHaveLength(1);
  });

  it("applies the password rules before the old password is checked, changing nothing", async () => {
    const { access } = await signIn(t, "alice@example.com");
    const before = await snapshot(t);
    expectError(
      await change(access, PASSWORD, "nouppercase1"),
      400,
      "Password must contain at least one uppercase character",
    );
    expectError(await change(access, PASSWORD, "NoDigitsHere"), 400, "Password must contain at least one number");
    expectError(await change(access, "Wrong7Horse", "Password1"), 400, "PASSWORD_TOO_COMMON");
    expectError(
      await change(access, PASSWORD, "x".repeat(1025)),
      400,
      "body/newPassword must NOT have more than 1024 characters",
    );
    expect(await snapshot(t)).toBe(before);
    expect(smtp.received).toEqual([]);
  });

  it("answers NO_PASSWORD_INFO for an account without a password", async () => {
    const userId = await t.createUser("nopass@example.com", null);
    const sessionId = t.deps.random.uuid();
    const now = t.clock.now();
    const session = { id: sessionId, userId, createdAt: now, expiresAt: now + 60_000, ip: null, userAgent: null };
    await insertSession(t.db, session, t.deps.tokens.newJti());
    const { access } = await issueAccessAndSudo(t.deps.flow, userId, sessionId);
    expectError(await change(access.token, "Anything1A"), 500, "NO_PASSWORD_INFO");
  });

  it("needs a sudo token once 2FA is on", async () => {
    const { access } = await signIn(t, "alice@example.com");
    expectNoContent(await call(t, "POST", "/user/2fa/email-otp/setup", access, { email: "alice.2fa@example.com" }));
    const code = /\b(\d{6})\b/.exec((await smtp.next()).text)?.[1] ?? "";
    expect((await call(t, "POST", "/user/2fa/email-otp/enable", access, { otp: code })).statusCode).toBe(200);
    expectError(await change(access, PASSWORD), 403, "SUDO_TOKEN_REQUIRED");
  });
});
