import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TestApp } from "../support/harness.js";
import { testDialects } from "../support/harness.js";
import { codeOf, type SmtpSink } from "../support/smtp.js";
import { enrolTotp, sessionIdOf, tokensOf } from "../two-factor/support.js";
import {
  call,
  expectError,
  expectNoContent,
  login,
  type MailApp,
  otherThan,
  signIn,
  snapshot,
  startAppWithSmtpDown,
  startMailApp,
} from "./fixture.js";

const SETUP = "/user/2fa/email-otp/setup";
const ENABLE = "/user/2fa/email-otp/enable";
const CHALLENGE = "/user/2fa/email-otp/challenge";
const AUTHENTICATE = "/user/2fa/email-otp/authenticate";
const NEXT_EMAIL = "/user/2fa/email-otp/next-email";
const DEACTIVATE = "/user/2fa/email-otp";

describe.each(testDialects())("email OTP on $name", (dialect) => {
  let m: MailApp | undefined;
  let t: TestApp;
  let smtp: SmtpSink;
  let userId: number;

  beforeEach(async () => {
    m = await startMailApp(dialect);
    ({ t, smtp } = m);
    userId = await t.createUser("alice@example.com");
  });
  afterEach(async () => {
    // Undefined when beforeEach failed: its own error is the one to see.
    await m?.close();
    m = undefined;
  });

  /** Sets up and activates email OTP with `address`; returns the enrolling session and the recovery codes. */
  async function enrol(address = "alice.2fa@example.com", query = "") {
    const session = await signIn(t, "alice@example.com");
    expectNoContent(await call(t, "POST", `${SETUP}${query}`, session.access, { email: address }));
    const mail = await smtp.next();
    expect(mail.to).toEqual([address]);
    const enable = await call(t, "POST", ENABLE, session.access, { otp: codeOf(mail) });
    expect(enable.statusCode).toBe(200);
    return { ...session, setupMail: mail, recoveryCodes: enable.json().recoveryCodes as string[] };
  }

  async function challenge(token: string, query = "") {
    expectNoContent(await call(t, "POST", `${CHALLENGE}${query}`, token, {}));
    return smtp.next();
  }

  it("sets up, activates and logs in with a mailed code; the first method brings 10 recovery codes", async () => {
    const { setupMail, recoveryCodes } = await enrol("alice.2fa@example.com", "?language=nl");
    expect(setupMail.subject).toBe("Bevestig tweestapsverificatie per e-mail");
    expect(recoveryCodes).toHaveLength(10);
    const state = (await call(t, "GET", "/user/2fa", await signInAccessWith2fa())).json();
    expect(state.enabled).toBe(true);
    expect(state.emailOtp.email).toBe("alice.2fa@example.com");
    expect(state.recoveryCodes.remaining).toBe(10);

    async function signInAccessWith2fa(): Promise<string> {
      const partial = await login(t, "alice@example.com");
      expectError(await call(t, "GET", "/auth/accesstoken", partial), 401, "2FA_REQUIRED_PARTIAL_TOKEN");
      const mail = await challenge(partial, "?language=fr");
      expect(mail.to).toEqual(["alice.2fa@example.com"]);
      expect(mail.subject).toBe("Votre code de connexion Latchkey");
      expectError(
        await call(t, "POST", AUTHENTICATE, partial, { otp: otherThan(codeOf(mail)) }),
        401,
        "OTP_INVALID_EXPIRED",
      );
      const tokens = tokensOf(await call(t, "POST", AUTHENTICATE, partial, { otp: codeOf(mail) }));
      expect((await call(t, "GET", "/auth/refreshtoken/validate", tokens.refreshToken)).json()).toEqual({ userId });
      // The partial token made its one session, and the code is spent.
      expectError(await call(t, "POST", AUTHENTICATE, partial, { otp: codeOf(mail) }), 401, "TOKEN_REVOKED");
      const again = await login(t, "alice@example.com");
      expectError(await call(t, "POST", AUTHENTICATE, again, { otp: codeOf(mail) }), 401, "OTP_INVALID_EXPIRED");
      return tokens.accessToken;
    }
  });

  it("steps up an access token: new tokens in the same session, the held refresh token stays valid", async () => {
    const { refresh, access } = await enrol();
    t.clock.advanceSeconds(60);
    const mail = await challenge(access);
    const tokens = tokensOf(await call(t, "POST", AUTHENTICATE, access, { otp: codeOf(mail) }));
    expect(sessionIdOf(tokens.refreshToken)).toBe(sessionIdOf(refresh));
    expect(sessionIdOf(tokens.sudoToken)).toBe(sessionIdOf(refresh));
    expect((await call(t, "GET", "/auth/refreshtoken/validate", refresh)).statusCode).toBe(200);
    expect((await call(t, "GET", "/auth/refreshtoken/validate", tokens.refreshToken)).statusCode).toBe(200);
  });

  it("answers 409 for each state: uninitialized, pending only, and throttles mails per account", async () => {
    const { access } = await signIn(t, "alice@example.com");
    expectError(await call(t, "POST", CHALLENGE, access, {}), 409, "EMAIL_OTP_UNINITIALIZED");
    expectError(await call(t, "POST", ENABLE, access, { otp: "123456" }), 409, "EMAIL_OTP_UNINITIALIZED");
    expectError(await call(t, "GET", NEXT_EMAIL, access), 409, "EMAIL_OTP_UNINITIALIZED");
    expectError(await call(t, "POST", AUTHENTICATE, access, { otp: "123456" }), 409, "EMAIL_OTP_INACTIVE");

    expectNoContent(await call(t, "POST", SETUP, access, { email: "alice.2fa@example.com" }));
    const code = codeOf(await smtp.next());
    expect((await call(t, "GET", NEXT_EMAIL, access)).json()).toEqual({ duration: 60 });
    expectError(await call(t, "POST", CHALLENGE, access, {}), 409, "EMAIL_OTP_INACTIVE");
    expectError(await call(t, "POST", AUTHENTICATE, access, { otp: code }), 409, "EMAIL_OTP_INACTIVE");
    t.clock.advanceSeconds(15);
    expectError(await call(t, "POST", SETUP, access, { email: "other@example.com" }), 429, "TOO_MANY_OTP_EMAILS", 45);
    expect((await call(t, "GET", NEXT_EMAIL, access)).json()).toEqual({ duration: 45 });
    expectError(await call(t, "POST", ENABLE, access, { otp: otherThan(code) }), 401, "OTP_INVALID_EXPIRED");
    expect((await call(t, "POST", ENABLE, access, { otp: code })).json().recoveryCodes).toHaveLength(10);

    // Active now: the challenge has a clock of its own, reported by next-email.
    expect((await call(t, "GET", NEXT_EMAIL, access)).json()).toEqual({ duration: 0 });
    const partial = await login(t, "alice@example.com");
    await challenge(partial);
    expectError(await call(t, "POST", CHALLENGE, partial, {}), 429, "TOO_MANY_OTP_EMAILS", 60);
    expect((await call(t, "GET", NEXT_EMAIL, partial)).json()).toEqual({ duration: 60 });
  });

  it("a new challenge replaces the previous code; codes expire after 10 minutes and die after 5 wrong tries", async () => {
    await enrol();
    const partial = await login(t, "alice@example.com");
    const first = codeOf(await challenge(partial));
    t.clock.advanceSeconds(60);
    const second = codeOf(await challenge(partial));
    if (first !== second)
      expectError(await call(t, "POST", AUTHENTICATE, partial, { otp: first }), 401, "OTP_INVALID_EXPIRED");
    t.clock.advanceSeconds(599);
    const late = await login(t, "alice@example.com");
    t.clock.advanceSeconds(1);
    expectError(await call(t, "POST", AUTHENTICATE, late, { otp: second }), 401, "OTP_INVALID_EXPIRED");

    const fresh = await login(t, "alice@example.com");
    const third = codeOf(await challenge(fresh));
    // Each guess waits out the guess throttle (§4: at most 4 s after the 7th failure), which is not
    // what this test is about.
    for (let n = 0; n < 5; n++) {
      t.clock.advanceSeconds(4);
      expectError(await call(t, "POST", AUTHENTICATE, fresh, { otp: otherThan(third) }), 401, "OTP_INVALID_EXPIRED");
    }
    t.clock.advanceSeconds(4);
    expectError(await call(t, "POST", AUTHENTICATE, fresh, { otp: third }), 401, "OTP_INVALID_EXPIRED");
  });

  it("re-running setup keeps the active address until the new one is activated; no new recovery codes", async () => {
    const { access } = await enrol("first@example.com");
    const sudo = tokensOf(
      await call(t, "POST", AUTHENTICATE, access, { otp: codeOf(await challenge(access)) }),
    ).sudoToken;
    t.clock.advanceSeconds(60);
    expectError(await call(t, "POST", SETUP, access, { email: "second@example.com" }), 403, "SUDO_TOKEN_REQUIRED");
    expectNoContent(await call(t, "POST", SETUP, sudo, { email: "second@example.com" }));
    const setupCode = codeOf(await smtp.next());

    const partial = await login(t, "alice@example.com");
    expect((await challenge(partial)).to).toEqual(["first@example.com"]);
    expect((await call(t, "POST", ENABLE, access, { otp: setupCode })).json()).toEqual({ recoveryCodes: [] });
    t.clock.advanceSeconds(60);
    expect((await challenge(partial)).to).toEqual(["second@example.com"]);
  });

  it("activating email OTP as the second method answers no recovery codes", async () => {
    const enrolled = await enrolTotp(t, "bob@example.com");
    const tokens = tokensOf(
      await call(t, "POST", "/user/2fa/recovery-code/authenticate", enrolled.access, {
        recoveryCode: enrolled.recoveryCodes[0],
      }),
    );
    expectNoContent(await call(t, "POST", SETUP, tokens.sudoToken, { email: "bob.2fa@example.com" }));
    const enable = await call(t, "POST", ENABLE, tokens.accessToken, { otp: codeOf(await smtp.next()) });
    expect(enable.json()).toEqual({ recoveryCodes: [] });
    // Turning it off again leaves 2FA (TOTP) and the recovery codes in place.
    expectNoContent(await call(t, "DELETE", DEACTIVATE, tokens.sudoToken));
    const state = (await call(t, "GET", "/user/2fa", tokens.accessToken)).json();
    expect(state.enabled).toBe(true);
    expect(state.recoveryCodes.remaining).toBe(9);
    expect((await smtp.next()).subject).toBe("Two-step verification was turned off");
  });

  it("deactivation needs sudo, turns 2FA off, deletes the recovery codes and sends a notice", async () => {
    const { access } = await enrol();
    expectError(await call(t, "DELETE", DEACTIVATE, access), 403, "SUDO_TOKEN_REQUIRED");
    const tokens = tokensOf(await call(t, "POST", AUTHENTICATE, access, { otp: codeOf(await challenge(access)) }));
    expectNoContent(await call(t, "DELETE", DEACTIVATE, tokens.sudoToken));
    expect((await call(t, "GET", "/user/2fa", tokens.accessToken)).json()).toEqual({ enabled: false });
    const recovery = await t.db.selectFrom("recovery_codes").selectAll().execute();
    expect(recovery).toEqual([]);
    const notice = await smtp.next();
    expect(notice.to).toEqual(["alice@example.com"]);
    expect(notice.subject).toBe("Two-step verification was turned off");
    expect(notice.text).toContain("email codes");

    expectError(await call(t, "DELETE", DEACTIVATE, tokens.sudoToken), 409, "EMAIL_OTP_ALREADY_INACTIVE");
    expectError(await call(t, "POST", CHALLENGE, access, {}), 409, "EMAIL_OTP_INACTIVE");
    // 2FA off: a password login is a full login again.
    expect((await call(t, "GET", "/auth/accesstoken", await login(t, "alice@example.com"))).statusCode).toBe(200);
  });

  it("refuses bad setup input with 400 Invalid email address, throw-away providers and unknown origins", async () => {
    const { access } = await signIn(t, "alice@example.com");
    const before = await snapshot(t);
    for (const email of ["not-an-address", "a@b@example.com", "alice@example.com\r\nBcc: x@evil.example", ""]) {
      expectError(await call(t, "POST", SETUP, access, { email }), 400, "Invalid email address");
    }
    expectError(await call(t, "POST", SETUP, access, {}), 400, "body must have required property 'email'");
    expectError(await call(t, "POST", SETUP, access, { email: "x@guerrillamail.com" }), 403, "FORBIDDEN_MAIL_PROVIDER");
    expectError(
      await call(t, "POST", `${SETUP}?origin=nowhere`, access, { email: "alice.2fa@example.com" }),
      500,
      "UNABLE_TO_FIND_MAIL_TEMPLATE",
    );
    expect(await snapshot(t)).toBe(before);
    expect(smtp.received).toEqual([]);
  });
});

describe.each(testDialects())("email OTP with the mail server down on $name", (dialect) => {
  it("a failed setup mail leaves no code and no pending address, and is not charged", async () => {
    const down = await startAppWithSmtpDown(dialect);
    try {
      const { t } = down;
      await t.createUser("alice@example.com");
      const { access } = await signIn(t, "alice@example.com");
      const before = await snapshot(t);
      const failed = await call(t, "POST", SETUP, access, { email: "alice.2fa@example.com" });
      expectError(failed, 500, "MAIL_DELIVERY_FAILED");
      expect(await snapshot(t)).toBe(before);
      expectError(await call(t, "GET", NEXT_EMAIL, access), 409, "EMAIL_OTP_UNINITIALIZED");

      const smtp = await down.smtpUp();
      expectNoContent(await call(t, "POST", SETUP, access, { email: "alice.2fa@example.com" }));
      const enable = await call(t, "POST", ENABLE, access, { otp: codeOf(await smtp.next()) });
      expect(enable.json().recoveryCodes).toHaveLength(10);
    } finally {
      await down.close();
    }
  });
});
