import { afterEach, describe, expect, it } from "vitest";
import { type MailApp, mailCodes, otherThan, startAppWithSmtpDown, startMailApp } from "./mail-flows/fixture.js";
import { type TestApp, type TestDialect, testDialects } from "./support/harness.js";
import { call, expectError, expectNoContent, login, NEW_PASSWORD, PASSWORD, signIn, tokensOf } from "./support/http.js";
import { codeOf, type ReceivedMail, type SmtpSink } from "./support/smtp.js";
import { snapshot } from "./support/snapshot.js";

const SIGNUP = "/user/signup";
const CONFIRM = "/user/signup/confirm";
const CONFIRM_SUBJECT = "Confirm your Latchkey account";
const NOTICE_SUBJECT = "Someone tried to create a Latchkey account with your address";

async function users(t: TestApp) {
  return t.db.selectFrom("users").select(["id", "email"]).orderBy("id").execute();
}

async function createdEvents(t: TestApp) {
  return t.db
    .selectFrom("audit_events")
    .select(["user_id", "details"])
    .where("type", "=", "user.created")
    .orderBy("id")
    .execute();
}

describe.each(testDialects())("sign-up on $name", (dialect: TestDialect) => {
  let m: MailApp | undefined;
  let t: TestApp;
  let smtp: SmtpSink;

  async function start(signup?: string, env: Record<string, string> = {}): Promise<void> {
    m = await startMailApp(dialect, { ...env, ...(signup === undefined ? {} : { LATCHKEY_SIGNUP: signup }) });
    ({ t, smtp } = m);
  }
  afterEach(async () => {
    await m?.close();
    m = undefined;
  });

  const signup = (email: string, password = PASSWORD, query = "") =>
    call(t, "POST", `${SIGNUP}${query}`, undefined, { email, password });
  const confirm = (email: string, code: string) => call(t, "POST", CONFIRM, undefined, { email, code });

  async function mailedCode(email: string, password = PASSWORD, query = ""): Promise<string> {
    expectNoContent(await signup(email, password, query));
    const mail = await smtp.next();
    expect(mail.to).toEqual([email.toLowerCase()]);
    expect(mail.subject).toBe(CONFIRM_SUBJECT);
    return codeOf(mail);
  }

  describe("off (the default)", () => {
    it("answers 404 ROUTE_NOT_FOUND on both endpoints, whatever the body, and does nothing", async () => {
      await start();
      const before = await snapshot(t);
      expectError(await signup("new@example.com"), 404, "ROUTE_NOT_FOUND");
      expectError(await call(t, "POST", SIGNUP, undefined, { junk: true }), 404, "ROUTE_NOT_FOUND");
      expectError(await confirm("new@example.com", "123456"), 404, "ROUTE_NOT_FOUND");
      expectError(await call(t, "POST", `${CONFIRM}?x=1`, undefined, {}), 404, "ROUTE_NOT_FOUND");
      expect(await snapshot(t)).toBe(before);
      expect(smtp.received).toEqual([]);
    });

    it("is off with LATCHKEY_SIGNUP=off too", async () => {
      await start("off");
      expectError(await signup("new@example.com"), 404, "ROUTE_NOT_FOUND");
    });
  });

  describe("open", () => {
    it("mails a code; the code makes the account with the chosen password and signs the person in", async () => {
      await start("open");
      const code = await mailedCode("New.Person@example.com");
      expect(await users(t)).toEqual([]);

      const res = await confirm("new.person@EXAMPLE.com", code);
      expect(res.statusCode).toBe(200);
      const tokens = tokensOf(res);
      const [user] = await users(t);
      // The address as it was typed at sign-up, where the code went.
      expect(user?.email).toBe("New.Person@example.com");
      const validated = await call(t, "GET", "/auth/accesstoken/validate", tokens.accessToken);
      expect(validated.statusCode).toBe(200);
      expect((await call(t, "GET", "/auth/accesstoken", tokens.refreshToken)).statusCode).toBe(200);
      await login(t, "new.person@example.com", PASSWORD);

      expect(await createdEvents(t)).toEqual([{ user_id: user?.id, details: JSON.stringify({ by: "signup" }) }]);
      // Spent: the code makes no second account and signs nobody in again.
      expectError(await confirm("new.person@example.com", code), 401, "OTP_INVALID_EXPIRED");
      expect(await users(t)).toHaveLength(1);
      expect(smtp.pending()).toEqual([]);
    });

    it("mails in the language and origin asked for", async () => {
      await start("open");
      const cases: [string, string][] = [
        ["?language=nl", "Bevestig je Latchkey-account"],
        ["?language=fr&origin=default", "Confirmez votre compte Latchkey"],
        ["?language=DE", "Bestätigen Sie Ihr Latchkey-Konto"],
        ["?language=es", CONFIRM_SUBJECT],
      ];
      for (const [index, [query, subject]] of cases.entries()) {
        expectNoContent(await signup(`person${index}@example.com`, PASSWORD, query));
        const mail = await smtp.next();
        expect(mail.subject).toBe(subject);
        expect(mail.html).toContain(codeOf(mail));
      }
    });

    it("applies the password rules and the throw-away-domain rule before anything is stored or mailed", async () => {
      await start("open");
      const before = await snapshot(t);
      expectError(await signup("new@example.com", "Password1"), 400, "PASSWORD_TOO_COMMON");
      const weak = await signup("new@example.com", "short");
      expect(weak.statusCode).toBe(400);
      expect(weak.json().message).toMatch(/Password/);
      expectError(await signup("someone@mailinator.com"), 403, "FORBIDDEN_MAIL_PROVIDER");
      expect(await snapshot(t)).toBe(before);
      expect(smtp.received).toEqual([]);
    });
  });

  describe("limited to domains", () => {
    it("takes addresses of the listed domains only (exactly, in any case)", async () => {
      await start("domains:example.com,example.org");
      await mailedCode("ann@example.com");
      await mailedCode("bob@EXAMPLE.ORG");
      const before = await snapshot(t);
      for (const email of [
        "eve@example.net",
        "eve@sub.example.com",
        "eve@example.com.evil.test",
        "eve@notexample.com",
      ]) {
        expectError(await signup(email), 403, "SIGNUP_DOMAIN_NOT_ALLOWED");
      }
      expect(await snapshot(t)).toBe(before);
      expect(smtp.pending()).toEqual([]);
      expectError(await confirm("eve@example.net", "123456"), 401, "OTP_INVALID_EXPIRED");
    });
  });

  describe("an address that has an account", () => {
    it("answers exactly as a new address, and mails that address a notice instead of a code", async () => {
      await start("open");
      const aliceId = await t.createUser("alice@example.com");
      const known = await signup("ALICE@example.com", NEW_PASSWORD);
      const fresh = await signup("fresh@example.com", NEW_PASSWORD);
      expect(known.statusCode).toBe(204);
      expect({ body: known.body, type: known.headers["content-type"] }).toEqual({
        body: fresh.body,
        type: fresh.headers["content-type"],
      });

      const notice = await smtp.next();
      expect(notice.to).toEqual(["alice@example.com"]);
      expect(notice.subject).toBe(NOTICE_SUBJECT);
      expect(notice.text).toContain("alice@example.com");
      expect(notice.text).toMatch(/sign in with your password, or reset it/);
      expect(notice.text).not.toMatch(/\b\d{6}\b/);
      expect(notice.html).not.toMatch(/\b\d{6}\b/);
      expect((await smtp.next()).subject).toBe(CONFIRM_SUBJECT);

      // No code was mailed; whatever is tried, the account stays as it was.
      for (const guess of ["000000", "123456", "999999"]) {
        expectError(await confirm("alice@example.com", guess), 401, "OTP_INVALID_EXPIRED");
      }
      expect((await users(t)).filter((u) => u.email.startsWith("alice"))).toEqual([
        { id: aliceId, email: "alice@example.com" },
      ]);
      await login(t, "alice@example.com", PASSWORD);
      expectError(
        await call(t, "POST", "/auth/login", undefined, { username: "alice@example.com", password: NEW_PASSWORD }),
        401,
        "PASSWORD_INCORRECT",
      );
      expect(await createdEvents(t)).toEqual([]);
    });

    it("is paced like a new address: a second request within the wait answers the same 429", async () => {
      await start("open");
      await t.createUser("alice@example.com");
      expectNoContent(await signup("alice@example.com"));
      expectNoContent(await signup("fresh@example.com"));
      t.clock.advanceSeconds(20);
      const known = await signup("alice@example.com");
      const fresh = await signup("fresh@example.com");
      expectError(known, 429, "TOO_MANY_SIGNUP_ATTEMPTS", 40);
      expectError(fresh, 429, "TOO_MANY_SIGNUP_ATTEMPTS", 40);
      expect(known.body).toBe(fresh.body);
      expect(known.headers["retry-after"]).toBe(fresh.headers["retry-after"]);
      t.clock.advanceSeconds(40);
      expectNoContent(await signup("alice@example.com"));
      expectNoContent(await signup("fresh@example.com"));
      const subjects = smtp.received.map((mail) => mail.subject);
      expect(subjects).toEqual([NOTICE_SUBJECT, CONFIRM_SUBJECT, NOTICE_SUBJECT, CONFIRM_SUBJECT]);
    });
  });

  describe("the confirmation code", () => {
    it("expires with the code's lifetime", async () => {
      await start("open");
      const code = await mailedCode("new@example.com");
      t.clock.advanceSeconds(t.config.codes.ttlSeconds);
      expectError(await confirm("new@example.com", code), 401, "OTP_INVALID_EXPIRED");
      expect(await users(t)).toEqual([]);
    });

    it("dies after its tries, the right code included", async () => {
      await start("open");
      const code = await mailedCode("new@example.com");
      for (let i = 0; i < t.config.codes.maxTries; i++) {
        expectError(await confirm("new@example.com", otherThan(code)), 401, "OTP_INVALID_EXPIRED");
      }
      // The guess throttle waits after its free failures; past it, the code has no tries left.
      t.clock.advanceSeconds(3600);
      expectError(await confirm("new@example.com", code), 401, "OTP_INVALID_EXPIRED");
      expect(await users(t)).toEqual([]);
    });

    it("throttles guesses across new codes (429 TOO_MANY_OTP_CHECKS) and checks nothing meanwhile", async () => {
      // No resend wait, so that a new code comes while the guesses must still wait.
      await start("open", { LATCHKEY_MAIL_RESEND_SECONDS: "0" });
      let code = await mailedCode("new@example.com");
      for (let i = 0; i < t.config.codes.maxTries; i++) {
        expectError(await confirm("new@example.com", otherThan(code)), 401, "OTP_INVALID_EXPIRED");
      }
      code = await mailedCode("new@example.com");
      let guesses = 0;
      while ((await confirm("new@example.com", otherThan(code))).statusCode === 401) guesses++;
      // The new code brought new tries, not new guesses.
      expect(guesses).toBeLessThan(3);
      const refused = await confirm("new@example.com", code);
      expectError(refused, 429, "TOO_MANY_OTP_CHECKS", refused.json().retryAfter);
      expect(refused.json().retryAfter).toBeGreaterThan(0);
      expect(await users(t)).toEqual([]);
      t.clock.advanceSeconds(refused.json().retryAfter);
      expect((await confirm("new@example.com", code)).statusCode).toBe(200);
    });

    it("is paced: a second sign-up within the wait is 429 and the first code stays good", async () => {
      await start("open");
      const code = await mailedCode("new@example.com");
      t.clock.advanceSeconds(59);
      expectError(await signup("new@example.com", NEW_PASSWORD), 429, "TOO_MANY_SIGNUP_ATTEMPTS", 1);
      expect(smtp.pending()).toEqual([]);
      expect((await confirm("new@example.com", code)).statusCode).toBe(200);
      await login(t, "new@example.com", PASSWORD);
    });
  });

  describe("pending sign-ups never hold the address", () => {
    it("an expired sign-up does not block a new one, and its code stays dead", async () => {
      await start("open");
      const old = await mailedCode("new@example.com");
      t.clock.advanceSeconds(t.config.codes.ttlSeconds + 1);
      const fresh = await mailedCode("new@example.com", NEW_PASSWORD);
      if (fresh !== old) expectError(await confirm("new@example.com", old), 401, "OTP_INVALID_EXPIRED");
      expect((await confirm("new@example.com", fresh)).statusCode).toBe(200);
      await login(t, "new@example.com", NEW_PASSWORD);
    });

    it("a later sign-up replaces a pending one: its password is the one the account gets", async () => {
      await start("open");
      const first = await mailedCode("new@example.com", PASSWORD);
      t.clock.advanceSeconds(t.config.codes.resendSeconds);
      const second = await mailedCode("new@example.com", NEW_PASSWORD);
      if (first !== second) expectError(await confirm("new@example.com", first), 401, "OTP_INVALID_EXPIRED");
      expect((await confirm("new@example.com", second)).statusCode).toBe(200);
      await login(t, "new@example.com", NEW_PASSWORD);
      expect(await mailCodes(t)).toHaveLength(1);
    });

    it("an account made meanwhile by the operator wins: the confirmation is refused and changes nothing", async () => {
      await start("open");
      const code = await mailedCode("new@example.com");
      const id = await t.createUser("NEW@example.com", NEW_PASSWORD);
      const res = await confirm("new@example.com", code);
      expectError(res, 409, "EMAIL_ALREADY_IN_USE");
      expect(await users(t)).toEqual([{ id, email: "NEW@example.com" }]);
      // Rolled back: the code is not spent, and no session was opened.
      expect((await mailCodes(t)).map((row) => row.consumed_at)).toEqual([null]);
      expect(await t.db.selectFrom("sessions").select("id").execute()).toEqual([]);
      await login(t, "new@example.com", NEW_PASSWORD);
      expect(await createdEvents(t)).toEqual([]);
    });
  });

  describe("races", () => {
    it("two sign-ups racing for one address: one is mailed, the other is 429, and one account results", async () => {
      await start("open");
      const results = await Promise.all([
        signup("race@example.com", PASSWORD),
        signup("race@example.com", NEW_PASSWORD),
      ]);
      expect(results.map((res) => res.statusCode).sort()).toEqual([204, 429]);
      const code = codeOf(await smtp.next());
      expect(smtp.pending()).toEqual([]);
      expect((await confirm("race@example.com", code)).statusCode).toBe(200);
      expect(await users(t)).toHaveLength(1);
      const won = results.findIndex((res) => res.statusCode === 204);
      await login(t, "race@example.com", won === 0 ? PASSWORD : NEW_PASSWORD);
    });

    it("concurrent confirmations of one code make exactly one account and one session", async () => {
      await start("open");
      const code = await mailedCode("race@example.com");
      const results = await Promise.all(Array.from({ length: 4 }, () => confirm("race@example.com", code)));
      const statuses = results.map((res) => res.statusCode).sort();
      expect(statuses).toEqual([200, 401, 401, 401]);
      for (const res of results.filter((r) => r.statusCode === 401)) {
        expectError(res, 401, "OTP_INVALID_EXPIRED");
      }
      expect(await users(t)).toHaveLength(1);
      expect(await createdEvents(t)).toHaveLength(1);
      const sessions = await t.db.selectFrom("sessions").select("id").execute();
      expect(sessions).toHaveLength(1);
    });

    it("sign-ups for two addresses of one person race with nothing shared between them", async () => {
      await start("open");
      const [a, b] = await Promise.all([signup("one@example.com"), signup("two@example.com")]);
      expectNoContent(a);
      expectNoContent(b);
      const mails: ReceivedMail[] = [await smtp.next(), await smtp.next()];
      const codeFor = (email: string) => codeOf(mails.find((mail) => mail.to[0] === email) as ReceivedMail);
      expect((await confirm("one@example.com", codeFor("one@example.com"))).statusCode).toBe(200);
      expect((await confirm("two@example.com", codeFor("two@example.com"))).statusCode).toBe(200);
      expect(await users(t)).toHaveLength(2);
    });
  });

  describe("bad input", () => {
    const BAD_ADDRESSES: [string, unknown][] = [
      ["a malformed address", "new.example.com"],
      ["a CR/LF in the address", "new@example.com\r\nBcc: x@evil.example"],
      ["a LF in the address", "new@example.com\nSubject: hi"],
      ["two addresses", "new@example.com, other@example.com"],
      ["a display name", "New <new@example.com>"],
      ["an address over 256 characters", `${"a".repeat(250)}@example.com`],
      ["a number", 42],
      ["an empty address", ""],
    ];

    it("refuses bad addresses, oversized fields, bad mail queries and extra fields with 400: no mail, nothing changed", async () => {
      await start("open");
      await t.createUser("alice@example.com");
      const before = await snapshot(t);
      for (const [what, email] of BAD_ADDRESSES) {
        const res = await call(t, "POST", SIGNUP, undefined, { email, password: PASSWORD });
        expect(res.statusCode, what).toBe(400);
        expect(res.json().error, what).toBe("Bad Request");
        const confirmed = await call(t, "POST", CONFIRM, undefined, { email, code: "123456" });
        expect(confirmed.statusCode, what).toBe(400);
      }
      const refusals: [string, string, object][] = [
        ["a password over 1024 characters", SIGNUP, { email: "new@example.com", password: `Aa1${"x".repeat(1022)}` }],
        ["a password of 257 characters", SIGNUP, { email: "new@example.com", password: `Aa1${"x".repeat(254)}` }],
        ["no password", SIGNUP, { email: "new@example.com" }],
        ["a password that is not text", SIGNUP, { email: "new@example.com", password: { text: PASSWORD } }],
        ["an extra field", SIGNUP, { email: "new@example.com", password: PASSWORD, admin: true }],
        ["a CR/LF in the origin", `${SIGNUP}?origin=${encodeURIComponent("default\r\nBcc: x@evil.example")}`, {}],
        ["a three-letter language", `${SIGNUP}?language=eng`, {}],
        ["a code of 7 digits", CONFIRM, { email: "new@example.com", code: "1234567" }],
        ["a code of 5 digits", CONFIRM, { email: "new@example.com", code: "12345" }],
        ["an extra confirm field", CONFIRM, { email: "new@example.com", code: "123456", password: PASSWORD }],
      ];
      for (const [what, url, body] of refusals) {
        const payload = url.includes("?") ? { email: "new@example.com", password: PASSWORD } : body;
        const res = await call(t, "POST", url, undefined, payload);
        expect(res.statusCode, what).toBe(400);
        expect(res.json().error, what).toBe("Bad Request");
      }
      expectError(await signup("alice@example.com", "Password1"), 400, "PASSWORD_TOO_COMMON");
      const body = await call(t, "POST", SIGNUP, undefined, undefined);
      expect(body.statusCode).toBe(400);
      expect(await snapshot(t)).toBe(before);
      expect(smtp.received).toEqual([]);
    });
  });

  it("with the mail server down, answers MAIL_DELIVERY_FAILED alike for both kinds of address and keeps nothing", async () => {
    const down = await startAppWithSmtpDown(dialect, { LATCHKEY_SIGNUP: "open" });
    try {
      await down.t.createUser("alice@example.com");
      const before = await snapshot(down.t);
      const known = await call(down.t, "POST", SIGNUP, undefined, { email: "alice@example.com", password: PASSWORD });
      const fresh = await call(down.t, "POST", SIGNUP, undefined, { email: "new@example.com", password: PASSWORD });
      expectError(known, 500, "MAIL_DELIVERY_FAILED");
      expect(fresh.body).toBe(known.body);
      expect(await snapshot(down.t)).toBe(before);

      // Nothing was charged: with the server back, both go out at once.
      const sink = await down.smtpUp();
      expectNoContent(
        await call(down.t, "POST", SIGNUP, undefined, { email: "alice@example.com", password: PASSWORD }),
      );
      expectNoContent(await call(down.t, "POST", SIGNUP, undefined, { email: "new@example.com", password: PASSWORD }));
      expect((await sink.next()).subject).toBe(NOTICE_SUBJECT);
      expect((await sink.next()).subject).toBe(CONFIRM_SUBJECT);
    } finally {
      await down.close();
    }
  });

  it("signs in the new account like any other: its password works on /auth/login and it has no second factor", async () => {
    await start("open");
    const code = await mailedCode("new@example.com");
    tokensOf(await confirm("new@example.com", code));
    const { access } = await signIn(t, "new@example.com");
    const state = await call(t, "GET", "/user/2fa", access);
    expect(state.statusCode).toBe(200);
  });
});
