import { afterEach, describe, expect, it } from "vitest";
import { type MailApp, otherThan, startMailApp } from "../mail-flows/fixture.js";
import { type TestApp, testDialects } from "../support/harness.js";
import { call, NEW_PASSWORD, PASSWORD } from "../support/http.js";
import { expectPage, PageClient, textOf } from "../support/pages.js";
import { codeOf, type SmtpSink } from "../support/smtp.js";
import { snapshot } from "../support/snapshot.js";

const SIGNUP_COOKIE = "latchkey_signup_email";

describe.each(testDialects())("sign-up pages ($name)", (dialect) => {
  let m: MailApp | undefined;
  let t: TestApp;
  let smtp: SmtpSink;

  async function start(env: Record<string, string> = { LATCHKEY_SIGNUP: "open" }): Promise<void> {
    m = await startMailApp(dialect, env);
    ({ t, smtp } = m);
  }
  afterEach(async () => {
    await m?.close();
    m = undefined;
  });

  async function passwordWorks(email: string, password: string): Promise<boolean> {
    const res = await call(t, "POST", "/auth/login", undefined, { username: email, password });
    return res.statusCode === 200;
  }

  /** A browser that filled in the sign-up form; the answer is not followed. */
  async function signUp(browser: PageClient, email: string, password = PASSWORD) {
    await browser.get("/signup");
    return browser.post("/signup", { email, password });
  }

  describe("off (the default)", () => {
    it("answers the 404 page at /signup and /signup/confirm, and /login has no link to it", async () => {
      await start({});
      const browser = new PageClient(t);
      expectPage(await browser.get("/signup"), 404, "There is no page at this address.");
      expectPage(await browser.get("/signup/confirm"), 404, "There is no page at this address.");
      const login = await browser.get("/login");
      expectPage(login, 200, "Sign in");
      expect(login.body).not.toContain('href="/signup"');
      const before = await snapshot(t);
      expectPage(await browser.post("/signup", { email: "new@example.com", password: PASSWORD }), 404, "no page");
      await browser.get("/login");
      expectPage(await browser.post("/signup/confirm", { email: "new@example.com", code: "123456" }), 404, "no page");
      expect(await snapshot(t)).toBe(before);
      expect(smtp.received).toEqual([]);
    });
  });

  describe("on", () => {
    it("/login links to /signup; the form shows the password rules with the right autocomplete", async () => {
      await start();
      const browser = new PageClient(t);
      const login = await browser.get("/login");
      expect(login.body).toContain('href="/signup"');
      expect(textOf(login.body)).toContain("Create an account");
      const form = await browser.get("/signup");
      expectPage(form, 200, "Create an account");
      expect(textOf(form.body)).toContain("a lower-case letter, a capital letter and a digit");
      expect(form.body).toContain('autocomplete="email"');
      expect(form.body).toContain('autocomplete="new-password"');
      expect(form.body).toContain('href="/login"');
    });

    it("signs up: a code by mail, the address carried in a cookie, the account made, signed in on /account", async () => {
      await start();
      const browser = new PageClient(t);
      const asked = await signUp(browser, " New@example.com ");
      expect(asked.statusCode).toBe(303);
      expect(asked.headers.location).toBe("/signup/confirm?done=sent");
      const cookie = ([] as string[])
        .concat(asked.headers["set-cookie"] ?? [])
        .find((c) => c.startsWith(SIGNUP_COOKIE));
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/Secure/);
      expect(cookie).toMatch(/Max-Age=600/);

      const mail = await smtp.next();
      expect(mail.to).toEqual(["new@example.com"]);
      expect(mail.subject).toBe("Confirm your Latchkey account");

      const confirm = await browser.visit(String(asked.headers.location));
      expectPage(confirm, 200, "We sent an email to your address.");
      expect(confirm.body).toContain('value="New@example.com"');
      expect(confirm.body).toContain('autocomplete="one-time-code"');

      const done = await browser.post("/signup/confirm", { email: "New@example.com", code: codeOf(mail) });
      expect(done.statusCode).toBe(303);
      expect(done.headers.location).toBe("/account");
      expect(browser.cookies.has(SIGNUP_COOKIE)).toBe(false);
      expect(browser.cookies.has("latchkey_session")).toBe(true);
      const account = await browser.visit("/account");
      expectPage(account, 200, "Your account");
      expect(textOf(account.body).replace(/\s/g, "")).toContain("New@example.com");
      expect(await passwordWorks("new@example.com", PASSWORD)).toBe(true);
      // Signed in, /signup has nothing to offer.
      expect((await browser.get("/signup")).headers.location).toBe("/account");
    });

    it("answers an address that has an account exactly as a new one, and mails it a notice", async () => {
      await start();
      await t.createUser("alice@example.com");
      const known = await signUp(new PageClient(t), "alice@example.com", NEW_PASSWORD);
      const fresh = await signUp(new PageClient(t), "fresh@example.com", NEW_PASSWORD);
      expect(known.statusCode).toBe(303);
      expect(known.headers.location).toBe(fresh.headers.location);
      expect(known.body).toBe(fresh.body);
      expect((await smtp.next()).subject).toBe("Someone tried to create a Latchkey account with your address");
      expect((await smtp.next()).subject).toBe("Confirm your Latchkey account");
      expect(await passwordWorks("alice@example.com", PASSWORD)).toBe(true);
    });

    it("shows refusals in words on the form, keeping the address: rules, domain, pacing, wrong code", async () => {
      await start({ LATCHKEY_SIGNUP: "domains:example.com" });
      const browser = new PageClient(t);
      const before = await snapshot(t);
      const common = await signUp(browser, "new@example.com", "Password1");
      expectPage(common, 400, "too common");
      expect(common.body).toContain('value="new@example.com"');
      expectPage(await browser.post("/signup", { email: "new@example.com", password: "short" }), 400, /8|eight/i);
      expectPage(
        await browser.post("/signup", { email: "new@example.org", password: PASSWORD }),
        403,
        "Accounts cannot be created with an address of this domain.",
      );
      expectPage(
        await browser.post("/signup", { email: "not an address", password: PASSWORD }),
        400,
        "Enter a valid email address",
      );
      expect(await snapshot(t)).toBe(before);
      expect(smtp.received).toEqual([]);

      expect((await browser.post("/signup", { email: "new@example.com", password: PASSWORD })).statusCode).toBe(303);
      const code = codeOf(await smtp.next());
      await browser.get("/signup");
      const again = await browser.post("/signup", { email: "new@example.com", password: PASSWORD });
      expectPage(again, 429, "A code was sent to this address a moment ago. You can try again in 60 seconds.");
      expect(again.headers["retry-after"]).toBe("60");

      await browser.get("/signup/confirm");
      const wrong = await browser.post("/signup/confirm", { email: "new@example.com", code: otherThan(code) });
      expectPage(wrong, 401, "That code is not correct or has expired.");
      expect(wrong.body).toContain('value="new@example.com"');
      expectPage(
        await browser.post("/signup/confirm", { email: "new@example.com", code: "12" }),
        400,
        "Enter the 6-digit code from the email.",
      );
      const right = await browser.post("/signup/confirm", {
        email: "new@example.com",
        code: code.replace(/(\d{3})/, "$1 "),
      });
      expect(right.headers.location).toBe("/account");
    });

    it("throttles wrong codes with the wait in words", async () => {
      await start({ LATCHKEY_SIGNUP: "open", LATCHKEY_MAIL_RESEND_SECONDS: "0" });
      const browser = new PageClient(t);
      await signUp(browser, "new@example.com");
      let code = codeOf(await smtp.next());
      await browser.get("/signup/confirm");
      for (let i = 0; i < t.config.codes.maxTries; i++) {
        await browser.post("/signup/confirm", { email: "new@example.com", code: otherThan(code) });
      }
      await signUp(browser, "new@example.com");
      code = codeOf(await smtp.next());
      await browser.get("/signup/confirm");
      let res = await browser.post("/signup/confirm", { email: "new@example.com", code: otherThan(code) });
      for (let i = 0; res.statusCode === 401 && i < 5; i++) {
        res = await browser.post("/signup/confirm", { email: "new@example.com", code: otherThan(code) });
      }
      expectPage(res, 429, /Too many wrong codes\. You can try again in \d+ seconds?\./);
      const throttled = await browser.post("/signup/confirm", { email: "new@example.com", code });
      expect(throttled.statusCode).toBe(429);
      t.clock.advanceSeconds(Number(throttled.headers["retry-after"]));
      expect((await browser.post("/signup/confirm", { email: "new@example.com", code })).headers.location).toBe(
        "/account",
      );
    });

    it("speaks the reader's language, and mails in it", async () => {
      await start();
      const browser = new PageClient(t);
      expectPage(await browser.get("/signup?lang=nl"), 200, "Account aanmaken");
      const asked = await browser.post("/signup", { email: "nieuw@example.com", password: PASSWORD });
      expect(asked.statusCode).toBe(303);
      expect((await smtp.next()).subject).toBe("Bevestig je Latchkey-account");
      expectPage(await browser.visit("/signup/confirm?done=sent"), 200, "We hebben een e-mail naar uw adres gestuurd.");
      expectPage(await browser.get("/signup?lang=fr"), 200, "Créer un compte");
      expectPage(await browser.get("/signup?lang=de"), 200, "Konto anlegen");
    });

    it("refuses bad forms with a 400 page and changes nothing: missing and oversized fields, a bad CSRF token", async () => {
      await start();
      const browser = new PageClient(t);
      await browser.get("/signup");
      const before = await snapshot(t);
      expectPage(await browser.post("/signup", { email: "new@example.com" }), 400, "");
      await browser.get("/signup");
      expectPage(await browser.post("/signup", { email: "a".repeat(300), password: PASSWORD }), 400, "");
      await browser.get("/signup");
      expectPage(
        await browser.post("/signup", { email: "new@example.com", password: `Aa1${"x".repeat(1100)}` }),
        400,
        "",
      );
      await browser.get("/signup");
      expectPage(
        await browser.post("/signup", { email: "new@example.com\r\nBcc: x@evil.example", password: PASSWORD }),
        400,
        "Enter a valid email address",
      );
      await browser.get("/signup");
      expectPage(await browser.post("/signup", { email: "new@example.com", password: PASSWORD, _csrf: "x" }), 403, "");
      await browser.get("/signup/confirm");
      expectPage(await browser.post("/signup/confirm", { email: "new@example.com", code: "1".repeat(100) }), 400, "");
      expect(await snapshot(t)).toBe(before);
      expect(smtp.received).toEqual([]);
    });
  });
});
