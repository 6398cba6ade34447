import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { issueAccessAndSudo } from "../../src/core/flows/sessions.js";
import { insertSession } from "../../src/storage/kysely/sessions.js";
import { type MailApp, otherThan, startMailApp } from "../mail-flows/fixture.js";
import type { TestApp } from "../support/harness.js";
import { testDialects } from "../support/harness.js";
import { call, expectError, login, NEW_PASSWORD, PASSWORD, signIn } from "../support/http.js";
import { expectPage, PageClient, textOf } from "../support/pages.js";
import { codeOf, type SmtpSink } from "../support/smtp.js";
import { snapshot } from "../support/snapshot.js";
import { codeAt, enrolTotp } from "../two-factor/support.js";

const RESET_COOKIE = "latchkey_reset_email";

describe.each(testDialects())("password and email pages ($name)", (dialect) => {
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
    await m?.close();
    m = undefined;
  });

  /** A browser that asked for a reset code for `email`; the mail, if any, is not taken yet. */
  async function forgot(browser: PageClient, email: string) {
    await browser.get("/password/forgot");
    return browser.post("/password/forgot", { email });
  }

  async function signedInBrowser(email = "alice@example.com", password = PASSWORD): Promise<PageClient> {
    const browser = new PageClient(t);
    await browser.get("/login");
    const res = await browser.post("/login", { email, password });
    expect(res.headers.location).toBe("/account");
    return browser;
  }

  async function passwordWorks(email: string, password: string): Promise<boolean> {
    const res = await call(t, "POST", "/auth/login", undefined, { username: email, password });
    return res.statusCode === 200;
  }

  describe("forgotten password", () => {
    it("mails a code, carries the address without a URL, resets the password and lets the user sign in with it", async () => {
      const browser = new PageClient(t);
      const asked = await forgot(browser, " alice@example.com ");
      expect(asked.statusCode).toBe(303);
      expect(asked.headers.location).toBe("/password/reset?done=sent");
      const cookie = ([] as string[]).concat(asked.headers["set-cookie"] ?? []).find((c) => c.startsWith(RESET_COOKIE));
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/Secure/);
      expect(cookie).toMatch(/Max-Age=600/);

      const mail = await smtp.next();
      expect(mail.to).toEqual(["alice@example.com"]);
      expect(mail.subject).toBe("Reset your Latchkey password");

      const form = await browser.visit(String(asked.headers.location));
      expectPage(form, 200, "If an account exists for that address, a code is on its way.");
      expect(form.body).toContain('value="alice@example.com"');
      expect(form.body).toContain('autocomplete="one-time-code"');
      expect(form.body).toContain('autocomplete="new-password"');
      expect(textOf(form.body)).toContain("a lower-case letter, a capital letter and a digit");

      const done = await browser.post("/password/reset", {
        email: "alice@example.com",
        code: codeOf(mail),
        password: NEW_PASSWORD,
      });
      expect(done.statusCode).toBe(303);
      expect(done.headers.location).toBe("/login?done=password-reset");
      expect(browser.cookies.has(RESET_COOKIE)).toBe(false);
      expectPage(await browser.visit("/login?done=password-reset"), 200, "Your password was changed.");

      const signIn = await browser.post("/login", { email: "alice@example.com", password: NEW_PASSWORD });
      expect(signIn.headers.location).toBe("/account");
      expect(await passwordWorks("alice@example.com", PASSWORD)).toBe(false);
      expect((await smtp.next()).subject).toBe("Your Latchkey password was reset");
    });

    it("answers an unknown address exactly as a known one, and mails nothing", async () => {
      const known = new PageClient(t);
      const unknown = new PageClient(t);
      const a = await forgot(known, "alice@example.com");
      const b = await forgot(unknown, "nobody@example.com");
      expect(b.statusCode).toBe(a.statusCode);
      expect(b.headers.location).toBe(a.headers.location);
      const cookieNames = (res: typeof a) =>
        ([] as string[])
          .concat(res.headers["set-cookie"] ?? [])
          .map((c) => c.replace(/=[^;]*/, "="))
          .sort();
      expect(cookieNames(b)).toEqual(cookieNames(a));
      const pageA = await known.visit(String(a.headers.location));
      const pageB = await unknown.visit(String(b.headers.location));
      expect(pageB.statusCode).toBe(pageA.statusCode);
      expect(textOf(pageB.body)).toBe(textOf(pageA.body));

      // A second ask is paced alike.
      const againA = await forgot(known, "alice@example.com");
      const againB = await forgot(unknown, "nobody@example.com");
      expectPage(againA, 429, "A reset code was sent a moment ago. You can try again in 60 seconds.");
      expect(againB.statusCode).toBe(429);
      const strip = (html: string) => textOf(html).replace(/alice@example\.com|nobody@example\.com/g, "");
      expect(strip(againB.body)).toBe(strip(againA.body));

      expect(smtp.received.map((mail) => mail.to)).toEqual([["alice@example.com"]]);
    });

    it("shows the wait of the per-address pacing, also when the form comes back in another case", async () => {
      const browser = new PageClient(t);
      expect((await forgot(browser, "alice@example.com")).statusCode).toBe(303);
      await smtp.next();
      t.clock.advanceSeconds(20);
      const paced = await forgot(browser, "ALICE@example.com");
      expectPage(paced, 429, "A reset code was sent a moment ago. You can try again in 40 seconds.");
      expect(paced.headers["retry-after"]).toBe("40");
      expect(paced.body).toContain('value="ALICE@example.com"');
      t.clock.advanceSeconds(40);
      expect((await forgot(browser, "alice@example.com")).statusCode).toBe(303);
      expect((await smtp.next()).to).toEqual(["alice@example.com"]);
    });

    it("refuses a wrong code, changing nothing, and says how to get a new one", async () => {
      const browser = new PageClient(t);
      await forgot(browser, "alice@example.com");
      const code = codeOf(await smtp.next());
      await browser.visit("/password/reset");
      const wrong = await browser.post("/password/reset", {
        email: "alice@example.com",
        code: otherThan(code),
        password: NEW_PASSWORD,
      });
      expectPage(wrong, 401, "That code is not correct or has expired.");
      expect(textOf(wrong.body)).toContain("No code, or has it expired? Ask for a new one");
      expect(wrong.body).not.toContain(`value="${otherThan(code)}"`);
      expect(await passwordWorks("alice@example.com", PASSWORD)).toBe(true);
      // The right code still works after one wrong try.
      const right = await browser.post("/password/reset", { email: "alice@example.com", code, password: NEW_PASSWORD });
      expect(right.headers.location).toBe("/login?done=password-reset");
    });

    it("throttles code guesses with the wait shown, before looking at the code", async () => {
      const browser = new PageClient(t);
      await forgot(browser, "alice@example.com");
      const code = codeOf(await smtp.next());
      await browser.visit("/password/reset");
      for (let n = 0; n < 5; n++) {
        const wrong = await browser.post("/password/reset", {
          email: "alice@example.com",
          code: otherThan(code),
          password: NEW_PASSWORD,
        });
        expect(wrong.statusCode).toBe(401);
      }
      const throttled = await browser.post("/password/reset", {
        email: "alice@example.com",
        code,
        password: NEW_PASSWORD,
      });
      expectPage(throttled, 429, "Too many wrong codes. You can try again in 1 second.");
      expect(throttled.headers["retry-after"]).toBe("1");
      expect(await passwordWorks("alice@example.com", PASSWORD)).toBe(true);
    });

    it("names the password rule broken, keeps the code in the form and spends nothing", async () => {
      const browser = new PageClient(t);
      await forgot(browser, "alice@example.com");
      const code = codeOf(await smtp.next());
      await browser.visit("/password/reset");
      const before = await snapshot(t);
      const weak = await browser.post("/password/reset", { email: "alice@example.com", code, password: "alllower1" });
      expectPage(weak, 400, "The new password needs at least one capital letter.");
      expect(weak.body).toContain(`value="${code}"`);
      const common = await browser.post("/password/reset", { email: "alice@example.com", code, password: "Password1" });
      expectPage(common, 400, "This password is too common.");
      expect(await snapshot(t)).toBe(before);
      const right = await browser.post("/password/reset", {
        email: "alice@example.com",
        code: `${code.slice(0, 3)} ${code.slice(3)}`,
        password: NEW_PASSWORD,
      });
      expect(right.headers.location).toBe("/login?done=password-reset");
    });

    it("ends every session: an API session and this browser's page session", async () => {
      const api = await signIn(t, "alice@example.com");
      const browser = await signedInBrowser();
      await forgot(browser, "alice@example.com");
      const code = codeOf(await smtp.next());
      await browser.visit("/password/reset");
      const done = await browser.post("/password/reset", { email: "alice@example.com", code, password: NEW_PASSWORD });
      expect(done.headers.location).toBe("/login?done=password-reset");
      for (const name of ["latchkey_session", "latchkey_access", "latchkey_sudo"]) {
        expect(browser.cookies.has(name)).toBe(false);
      }
      expectError(await call(t, "GET", "/auth/accesstoken", api.refresh), 401, "TOKEN_REVOKED");
      expectError(await call(t, "GET", "/auth/accesstoken/validate", api.access), 401, "TOKEN_REVOKED");
      const account = await browser.get("/account/password");
      expect(account.headers.location).toBe("/login");
    });

    it("lets one of two concurrent resets with the same code through", async () => {
      const first = new PageClient(t);
      await forgot(first, "alice@example.com");
      const code = codeOf(await smtp.next());
      const second = new PageClient(t);
      await Promise.all([first.visit("/password/reset"), second.visit("/password/reset")]);
      const results = await Promise.all([
        first.post("/password/reset", { email: "alice@example.com", code, password: "First8Password" }),
        second.post("/password/reset", { email: "alice@example.com", code, password: "Second8Password" }),
      ]);
      expect(results.map((res) => res.statusCode).sort()).toEqual([303, 401]);
      const winner = results[0]?.statusCode === 303 ? "First8Password" : "Second8Password";
      expect(await passwordWorks("alice@example.com", winner)).toBe(true);
    });

    it("sends the mail in the page's language", async () => {
      const browser = new PageClient(t);
      expectPage(await browser.get("/password/forgot?lang=de"), 200, "Passwort zurücksetzen");
      const asked = await browser.post("/password/forgot", { email: "alice@example.com" });
      expect(asked.statusCode).toBe(303);
      const mail = await smtp.next();
      expect(mail.subject).toBe("Setzen Sie Ihr Latchkey-Passwort zurück");
      expectPage(await browser.visit("/password/reset?done=sent"), 200, "Wenn es für diese Adresse ein Konto gibt");
      await browser.post("/password/reset", { email: "alice@example.com", code: codeOf(mail), password: NEW_PASSWORD });
      // The notice after the reset speaks the language of the reset mail.
      expect((await smtp.next()).subject).toBe("Ihr Latchkey-Passwort wurde zurückgesetzt");
    });

    it("refuses a throw-away address and an address that is not one, storing nothing", async () => {
      const browser = new PageClient(t);
      const before = await snapshot(t);
      const disposable = await forgot(browser, "someone@10minutemail.com");
      expectPage(disposable, 403, "Addresses of throw-away mail services cannot be used.");
      const notAnAddress = await forgot(browser, "alice");
      expectPage(notAnAddress, 400, "Enter a valid email address");
      expect(browser.cookies.has(RESET_COOKIE)).toBe(false);
      await browser.visit("/password/reset");
      const badCode = await browser.post("/password/reset", {
        email: "alice@example.com",
        code: "12",
        password: NEW_PASSWORD,
      });
      expectPage(badCode, 400, "Enter the 6-digit code from the email.");
      expect(await snapshot(t)).toBe(before);
      expect(smtp.received).toEqual([]);
    });

    it("answers the per-client limit with a page and its wait", async () => {
      await m?.close();
      m = await startMailApp(dialect, { LATCHKEY_RATE_LIMIT_PER_MINUTE: "2" });
      ({ t, smtp } = m);
      const browser = new PageClient(t);
      await browser.get("/password/forgot");
      await browser.post("/password/forgot", { email: "a@example.com" });
      await browser.post("/password/forgot", { email: "b@example.com" });
      const limited = await browser.post("/password/forgot", { email: "c@example.com" });
      expectPage(limited, 429, "Too many attempts from your network. You can try again in 60 seconds.");
      expect(limited.headers["retry-after"]).toBe("60");
    });
  });

  describe("password change", () => {
    it("refuses a wrong current password, changing nothing", async () => {
      const browser = await signedInBrowser();
      expectPage(await browser.visit("/account/password"), 200, "Change your password");
      const wrong = await browser.post("/account/password", { current: "Wrong7Horse", password: NEW_PASSWORD });
      expectPage(wrong, 401, "The current password is not correct.");
      expect(await passwordWorks("alice@example.com", PASSWORD)).toBe(true);
      expect(smtp.received).toEqual([]);
    });

    it("changes the password, ends the other sessions and keeps this browser signed in", async () => {
      const other = await signIn(t, "alice@example.com");
      const browser = await signedInBrowser();
      const form = await browser.visit("/account/password");
      expect(form.body).toContain('autocomplete="current-password"');
      expect(form.body).toContain('autocomplete="new-password"');
      const done = await browser.post("/account/password", { current: PASSWORD, password: NEW_PASSWORD });
      expect(done.statusCode).toBe(303);
      expect(done.headers.location).toBe("/account?done=password-changed");

      expectError(await call(t, "GET", "/auth/accesstoken", other.refresh), 401, "TOKEN_REVOKED");
      expect(await passwordWorks("alice@example.com", NEW_PASSWORD)).toBe(true);
      // This browser: its access token still works, and once it has run out the session renews it.
      expectPage(await browser.get("/account/password"), 200, "Change your password");
      t.clock.advanceSeconds(301);
      expectPage(await browser.get("/account/password"), 200, "Change your password");
      const refresh = browser.cookies.get("latchkey_session") ?? "";
      expect((await call(t, "GET", "/auth/refreshtoken/validate", refresh)).statusCode).toBe(200);
      expect((await smtp.next()).subject).toBe("Your Latchkey password was changed");
    });

    it("asks for the second factor first when 2FA is on, and keeps the sudo cookie working after the change", async () => {
      await t.deps.store.deleteUser(userId);
      const { totp } = await enrolTotp(t);
      const browser = new PageClient(t);
      await browser.get("/login");
      await browser.post("/login", { email: "alice@example.com", password: PASSWORD });
      // The sign-in's second factor gives a sudo token; let it run out.
      await browser.post("/login/second-factor", { method: "totp", code: codeAt(totp, t.clock.now()) });
      t.clock.advanceSeconds(301);
      const asked = await browser.get("/account/password");
      expect(asked.statusCode).toBe(303);
      expect(asked.headers.location).toBe("/reauth?next=%2Faccount%2Fpassword");
      await browser.visit(String(asked.headers.location));
      t.clock.advanceSeconds(30);
      const reauth = await browser.post("/reauth", {
        method: "totp",
        code: codeAt(totp, t.clock.now()),
        next: "/account/password",
      });
      expect(reauth.headers.location).toBe("/account/password");
      await browser.visit("/account/password");
      const done = await browser.post("/account/password", { current: PASSWORD, password: NEW_PASSWORD });
      expect(done.headers.location).toBe("/account?done=password-changed");
      const sudo = browser.cookies.get("latchkey_sudo") ?? "";
      await expect(t.deps.guard.authenticate(sudo, "sudo")).resolves.toMatchObject({ kind: "sudo" });
      expectPage(await browser.get("/account/email"), 200, "Change your email address");
    });

    it("tells an account without a password to use the forgotten-password page", async () => {
      const nopass = await t.createUser("nopass@example.com", null);
      const sessionId = t.deps.random.uuid();
      const now = t.clock.now();
      const session = {
        id: sessionId,
        userId: nopass,
        createdAt: now,
        expiresAt: now + 60_000,
        ip: null,
        userAgent: null,
      };
      await insertSession(t.db, session, t.deps.tokens.newJti());
      const { access } = await issueAccessAndSudo(t.deps.flow, nopass, sessionId);
      const browser = new PageClient(t);
      browser.cookies.set("latchkey_access", access.token);
      await browser.visit("/account/password");
      const res = await browser.post("/account/password", { current: "Anything1A", password: NEW_PASSWORD });
      expectPage(res, 500, "This account has no password yet. Use “Forgot your password?” to choose one.");
      expect(res.body).toContain('action="/account/password"');
    });

    it("names the password rule broken and needs a sign-in", async () => {
      const browser = await signedInBrowser();
      await browser.visit("/account/password");
      const short = await browser.post("/account/password", { current: PASSWORD, password: "Sh0rt" });
      expectPage(short, 400, "The new password must be at least 8 characters long.");
      const nobody = new PageClient(t);
      expect((await nobody.get("/account/password")).headers.location).toBe("/login");
      await nobody.get("/login");
      const post = await nobody.post("/account/password", { current: PASSWORD, password: NEW_PASSWORD });
      expect(post.statusCode).toBe(401);
      expect(await passwordWorks("alice@example.com", PASSWORD)).toBe(true);
    });
  });

  describe("email change", () => {
    it("mails a code to the new address, changes the address with it and tells the old one", async () => {
      const browser = await signedInBrowser();
      const page = await browser.visit("/account/email?lang=de");
      expectPage(page, 200, "Sie melden sich mit alice@example.com an.");
      expect(page.body).toContain('autocomplete="email"');
      const asked = await browser.post("/account/email", { email: "alice.new@example.org" });
      expect(asked.statusCode).toBe(303);
      expect(asked.headers.location).toBe("/account/email/confirm?done=sent");
      const mail = await smtp.next();
      expect(mail.to).toEqual(["alice.new@example.org"]);
      expect(mail.subject).toBe("Bestätigen Sie Ihre neue E-Mail-Adresse");
      expectPage(await browser.visit("/account/email/confirm?done=sent"), 200, "Ein Code ist unterwegs");

      const wrong = await browser.post("/account/email/confirm", { code: otherThan(codeOf(mail)) });
      expectPage(wrong, 401, "Dieser Code ist falsch oder abgelaufen.");
      expect((await t.deps.store.findUserById(userId))?.email).toBe("alice@example.com");

      const done = await browser.post("/account/email/confirm", { code: codeOf(mail) });
      expect(done.statusCode).toBe(303);
      expect(done.headers.location).toBe("/account?done=email-changed");
      expect((await t.deps.store.findUserById(userId))?.email).toBe("alice.new@example.org");
      const notice = await smtp.next();
      expect(notice.to).toEqual(["alice@example.com"]);
      expect(notice.subject).toBe("Die E-Mail-Adresse Ihres Latchkey-Kontos wurde geändert");
      await login(t, "alice.new@example.org");
      // This browser is still signed in.
      expectPage(await browser.get("/account/email"), 200, "Sie melden sich mit alice.new@example.org an.");
    });

    it("refuses a taken address as the API does, then paces; refuses throw-away domains", async () => {
      await t.createUser("bob@example.com");
      const browser = await signedInBrowser();
      await browser.visit("/account/email");
      const disposable = await browser.post("/account/email", { email: "x@10minutemail.com" });
      expectPage(disposable, 403, "Addresses of throw-away mail services cannot be used.");
      const taken = await browser.post("/account/email", { email: "BOB@example.com" });
      expectPage(taken, 409, "That address cannot be used for this account.");
      t.clock.advanceSeconds(15);
      const paced = await browser.post("/account/email", { email: "new@example.org" });
      expectPage(paced, 429, "A code was sent to the new address a moment ago. You can try again in 45 seconds.");
      expect(paced.headers["retry-after"]).toBe("45");
      expect(smtp.received).toEqual([]);
      expect((await t.deps.store.findUserById(userId))?.email).toBe("alice@example.com");
    });

    it("throttles code guesses with the wait shown", async () => {
      const browser = await signedInBrowser();
      await browser.visit("/account/email");
      await browser.post("/account/email", { email: "new@example.org" });
      const code = codeOf(await smtp.next());
      await browser.visit("/account/email/confirm");
      for (let n = 0; n < 5; n++) {
        expect((await browser.post("/account/email/confirm", { code: otherThan(code) })).statusCode).toBe(401);
      }
      const throttled = await browser.post("/account/email/confirm", { code });
      expectPage(throttled, 429, "Too many wrong codes. You can try again in 1 second.");
      expect((await t.deps.store.findUserById(userId))?.email).toBe("alice@example.com");
    });

    it("lets one of two concurrent confirmations with the same code through", async () => {
      const browser = await signedInBrowser();
      await browser.visit("/account/email");
      await browser.post("/account/email", { email: "new@example.org" });
      const code = codeOf(await smtp.next());
      await browser.visit("/account/email/confirm");
      const results = await Promise.all([
        browser.post("/account/email/confirm", { code }),
        browser.post("/account/email/confirm", { code }),
      ]);
      expect(results.map((res) => res.statusCode).sort()).toEqual([303, 401]);
      expect((await t.deps.store.findUserById(userId))?.email).toBe("new@example.org");
      expect(smtp.pending()).toHaveLength(1);
    });

    it("asks for the second factor before a change when 2FA is on", async () => {
      await t.deps.store.deleteUser(userId);
      const { totp } = await enrolTotp(t);
      const browser = new PageClient(t);
      await browser.get("/login");
      await browser.post("/login", { email: "alice@example.com", password: PASSWORD });
      await browser.post("/login/second-factor", { method: "totp", code: codeAt(totp, t.clock.now()) });
      expectPage(await browser.get("/account/email"), 200, "Change your email address");
      t.clock.advanceSeconds(301);
      const late = await browser.post("/account/email", { email: "new@example.org" });
      expect(late.statusCode).toBe(303);
      expect(String(late.headers.location)).toMatch(/^\/reauth\?next=/);
      expect(smtp.received).toEqual([]);
      // Completing needs a sign-in only, as PUT /user/email does.
      expectPage(await browser.visit("/account/email/confirm"), 200, "Confirm your new email address");
    });
  });

  it("answers missing and oversized fields with a 400 page, changing nothing", async () => {
    const browser = await signedInBrowser();
    const before = await snapshot(t);
    const cases: [string, Record<string, string>][] = [
      ["/password/forgot", {}],
      ["/password/forgot", { email: `${"a".repeat(250)}@example.com` }],
      ["/password/reset", { email: "alice@example.com", code: "123456" }],
      ["/password/reset", { email: "alice@example.com", code: "1".repeat(65), password: NEW_PASSWORD }],
      ["/password/reset", { email: "alice@example.com", code: "123456", password: `A1${"a".repeat(1100)}` }],
      ["/account/password", { password: NEW_PASSWORD }],
      ["/account/password", { current: "x".repeat(257), password: NEW_PASSWORD }],
      ["/account/email", {}],
      ["/account/email/confirm", { code: "9".repeat(65) }],
      ["/account/email/confirm", {}],
    ];
    for (const [url, fields] of cases) {
      // The error page has no form: each form comes from its page.
      await browser.get("/account/password");
      const res = await browser.post(url, fields);
      expectPage(res, 400, "Something in the form was missing or too long.");
    }
    expect(await snapshot(t)).toBe(before);
    expect(smtp.received).toEqual([]);
    expect(await passwordWorks("alice@example.com", PASSWORD)).toBe(true);
  });
});
