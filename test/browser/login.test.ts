import { cpSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import type { BrowserContext, Page } from "playwright-core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_MAIL_DIR } from "../../src/mail/index.js";
import { startMailApp } from "../mail-flows/fixture.js";
import {
  DESKTOP,
  describeBrowser,
  expectAccessible,
  newContext,
  PHONE,
  type Screen,
  screenshot,
  serveApp,
  useBrowser,
} from "../support/browser.js";
import { type TestApp, tempDir, testDialects } from "../support/harness.js";
import { call, expectNoContent, PASSWORD, signIn } from "../support/http.js";
import { codeOf, type SmtpSink } from "../support/smtp.js";
import { codeAt, enrolTotp, wrongCodeAt } from "../two-factor/support.js";

// The sign-in pages in Chromium: every path through /login, its second factor, /reauth and sign-out,
// at a desktop and a phone screen, with axe on each page and a screenshot of each.

const LOGO =
  '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">' +
  '<rect width="64" height="64" rx="14" fill="#7a1f5c"/><path d="M18 46 32 16l14 30h-8l-6-14-6 14z" fill="#fff"/></svg>';

interface ReturnApp {
  app: FastifyInstance;
  /** The allowed return URL. */
  url: string;
  logoUrl: string;
}

/** The application a sign-in returns to: a second server, on another port (another origin), with a logo. */
async function startReturnApp(): Promise<ReturnApp> {
  const app = Fastify();
  app.get("/done", (_request, reply) => {
    reply
      .type("text/html; charset=utf-8")
      .send(
        '<!doctype html><html lang="en"><head><title>The app</title></head><body><h1>Back at the app</h1></body></html>',
      );
  });
  app.get("/logo.svg", (_request, reply) => {
    reply.type("image/svg+xml").send(LOGO);
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return { app, url: `${origin}/done`, logoUrl: `${origin}/logo.svg` };
}

/** A mail directory with the shipped origin and "acme", whose look is its own. */
function brandedMailDir(logoUrl: string): string {
  const dir = tempDir("latchkey-browser-mail-");
  cpSync(join(DEFAULT_MAIL_DIR, "default"), join(dir, "default"), { recursive: true });
  cpSync(join(DEFAULT_MAIL_DIR, "default"), join(dir, "acme"), { recursive: true });
  const brand = { name: "Acme Shop", logoUrl, accentColor: "#7a1f5c", backgroundColor: "#fbf7f2" };
  writeFileSync(
    join(dir, "acme", "origin.json"),
    JSON.stringify({ from: "hello@acme.example", fromName: "Acme Shop", defaultLanguage: "en", brand }),
  );
  return dir;
}

/** The text of the page's card, spaces folded. */
async function mainText(page: Page): Promise<string> {
  return ((await page.locator("main").textContent()) ?? "").replace(/\s+/g, " ").trim();
}

/** Runs `action` (a click that sends a form or follows a link) and waits for the page it leads to. */
async function follow(page: Page, action: Promise<unknown>): Promise<void> {
  const navigated = page.waitForEvent("framenavigated", { predicate: (frame) => frame === page.mainFrame() });
  await action;
  await navigated;
  await page.waitForLoadState();
}

/** axe, then a screenshot named after the screen. */
async function look(page: Page, name: string): Promise<void> {
  await expectAccessible(page);
  await screenshot(page, name);
}

describeBrowser("sign-in pages in Chromium", () => {
  const browser = useBrowser();

  describe.each(testDialects())("on $name", (dialect) => {
    let t: TestApp;
    let smtp: SmtpSink;
    let base: string;
    let returnApp: ReturnApp;
    let mailDir: string;
    let close: () => Promise<void>;
    const contexts: BrowserContext[] = [];

    beforeEach(async () => {
      returnApp = await startReturnApp();
      mailDir = brandedMailDir(returnApp.logoUrl);
      const mailApp = await startMailApp(dialect, { LATCHKEY_RETURN_URLS: returnApp.url, LATCHKEY_MAIL_DIR: mailDir });
      ({ t, smtp } = mailApp);
      close = () => mailApp.close();
      base = await serveApp(t);
    });
    afterEach(async () => {
      for (const context of contexts.splice(0)) await context.close();
      await close?.();
      await returnApp?.app.close();
      rmSync(mailDir, { recursive: true, force: true });
    });

    async function open(screen: Screen = DESKTOP, locale?: string): Promise<Page> {
      const context = await newContext(browser(), { viewport: screen, ...(locale ? { locale } : {}) });
      contexts.push(context);
      return context.newPage();
    }

    /** Fills and sends the password step; waits for the page it leads to. */
    async function passwordStep(page: Page, email: string, password = PASSWORD, path = "/login") {
      if (!page.url().startsWith(`${base}${path}`)) await page.goto(`${base}${path}`);
      await page.getByLabel("Email address").fill(email);
      await page.getByLabel("Password", { exact: true }).fill(password);
      await follow(page, page.getByRole("button", { name: "Sign in", exact: true }).click());
    }

    /** Types a code and presses Verify; waits for the next page. */
    async function enterCode(page: Page, label: string, code: string) {
      await page.getByLabel(label).fill(code);
      await follow(page, page.getByRole("button", { name: "Verify" }).click());
    }

    async function sessionCookie(page: Page) {
      return (await page.context().cookies(base)).find((cookie) => cookie.name === "latchkey_session");
    }

    /** A user with email OTP on, set up through the API. */
    async function enrolEmailOtp(email: string): Promise<string[]> {
      await t.createUser(email);
      const session = await signIn(t, email);
      expectNoContent(await call(t, "POST", "/user/2fa/email-otp/setup", session.access, { email }));
      const enable = await call(t, "POST", "/user/2fa/email-otp/enable", session.access, {
        otp: codeOf(await smtp.next()),
      });
      expect(enable.statusCode).toBe(200);
      return enable.json().recoveryCodes;
    }

    it("signs in without a second factor, after a wrong password", async () => {
      await t.createUser("plain@example.com");
      for (const screen of [DESKTOP, PHONE]) {
        const page = await open(screen);
        await page.goto(`${base}/login`);
        await expect(page.title()).resolves.toBe("Sign in · Latchkey");
        await look(page, "login");
        await passwordStep(page, "plain@example.com", "Wrong1Password");
        expect(await mainText(page)).toContain("The email address or password is not correct.");
        await expect(page.getByLabel("Email address").inputValue()).resolves.toBe("plain@example.com");
        await expect(page.getByLabel("Password", { exact: true }).inputValue()).resolves.toBe("");
        await look(page, "login-wrong-password");
        await passwordStep(page, "plain@example.com");
        expect(new URL(page.url()).pathname).toBe("/account");
        expect(await sessionCookie(page)).toMatchObject({ httpOnly: true, secure: true, sameSite: "Lax" });
      }
    });

    it("signs in with TOTP: a wrong code first, then the one of the ManualClock's time", async () => {
      for (const screen of [DESKTOP, PHONE]) {
        const email = `totp-${screen.name}@example.com`;
        const { totp } = await enrolTotp(t, email);
        const page = await open(screen);
        await passwordStep(page, email);
        expect(new URL(page.url()).pathname).toBe("/login/second-factor");
        expect(await sessionCookie(page)).toBeUndefined();
        expect(await mainText(page)).toContain("Enter the 6-digit code from your authenticator app.");
        await expect(page.getByLabel("6-digit code").getAttribute("autocomplete")).resolves.toBe("one-time-code");
        await look(page, "second-factor-totp");
        await enterCode(page, "6-digit code", wrongCodeAt(totp, t.clock.now()));
        expect(await mainText(page)).toContain("That code is not correct, or it was already used.");
        await look(page, "second-factor-totp-wrong");
        await enterCode(page, "6-digit code", codeAt(totp, t.clock.now()));
        expect(new URL(page.url()).pathname).toBe("/account");
        expect(await sessionCookie(page)).toBeDefined();
      }
    });

    it("throttles TOTP guesses with the wait in words, and takes the right code after it", async () => {
      for (const screen of [DESKTOP, PHONE]) {
        const email = `throttled-${screen.name}@example.com`;
        const { totp } = await enrolTotp(t, email);
        const page = await open(screen);
        await passwordStep(page, email);
        for (let n = 0; n < 5; n++) await enterCode(page, "6-digit code", wrongCodeAt(totp, t.clock.now()));
        const refused = page.waitForResponse((response) => response.request().method() === "POST");
        await enterCode(page, "6-digit code", codeAt(totp, t.clock.now()));
        const response = await refused;
        expect(response.status()).toBe(429);
        expect(response.headers()["retry-after"]).toBe("1");
        expect(await mainText(page)).toContain("Too many wrong codes. You can try again in 1 second.");
        await look(page, "second-factor-totp-throttled");
        t.clock.advanceSeconds(1);
        await enterCode(page, "6-digit code", codeAt(totp, t.clock.now()));
        expect(new URL(page.url()).pathname).toBe("/account");
      }
    });

    it("signs in with a code by email, read from the SMTP server", async () => {
      for (const screen of [DESKTOP, PHONE]) {
        const email = `mail-${screen.name}@example.com`;
        await enrolEmailOtp(email);
        const page = await open(screen);
        await passwordStep(page, email);
        expect(await mainText(page)).toContain("We can email you a 6-digit code: ask for one, then enter it below.");
        await look(page, "second-factor-email");
        await follow(page, page.getByRole("button", { name: "Email me a code" }).click());
        expect(await mainText(page)).toContain("A code is on its way to your email address.");
        expect(await mainText(page)).toContain("A new code can be sent in 60 seconds.");
        expect(await mainText(page)).toContain("Enter the 6-digit code from the email we sent you.");
        await look(page, "second-factor-email-sent");
        const mail = await smtp.next();
        expect(mail.to).toEqual([email]);
        // Nothing of the code is in the address bar.
        expect(page.url()).not.toContain(codeOf(mail));
        await enterCode(page, "6-digit code", codeOf(mail));
        expect(new URL(page.url()).pathname).toBe("/account");
        expect(await sessionCookie(page)).toBeDefined();
      }
    });

    it("signs in with a recovery code through “try another way”", async () => {
      for (const screen of [DESKTOP, PHONE]) {
        const email = `recovery-${screen.name}@example.com`;
        const { recoveryCodes } = await enrolTotp(t, email);
        const page = await open(screen);
        await passwordStep(page, email);
        await expect(page.getByRole("link", { name: "Get a code by email" }).count()).resolves.toBe(0);
        await follow(page, page.getByRole("link", { name: "Use a recovery code" }).click());
        expect(await mainText(page)).toContain("Enter one of the recovery codes you saved.");
        await look(page, "second-factor-recovery");
        await enterCode(page, "Recovery code", "aaaa-bbbb-cccc");
        expect(await mainText(page)).toContain("That recovery code is not correct, or it was already used.");
        await look(page, "second-factor-recovery-wrong");
        await enterCode(page, "Recovery code", recoveryCodes[0] ?? "");
        expect(new URL(page.url()).pathname).toBe("/account");
      }
    });

    it("returns to the allowed URL of another server after the sign-in", async () => {
      const { totp } = await enrolTotp(t, "returning@example.com");
      const page = await open();
      await page.goto(`${base}/login?return_to=${encodeURIComponent(returnApp.url)}`);
      await passwordStep(page, "returning@example.com");
      await enterCode(page, "6-digit code", codeAt(totp, t.clock.now()));
      expect(page.url()).toBe(returnApp.url);
      await expect(page.locator("h1").textContent()).resolves.toBe("Back at the app");
    });

    it("refuses a return URL that is not allowed with the error page", async () => {
      for (const screen of [DESKTOP, PHONE]) {
        const page = await open(screen);
        const response = await page.goto(`${base}/login?return_to=${encodeURIComponent("https://evil.example/")}`);
        expect(response?.status()).toBe(400);
        expect(await mainText(page)).toContain("The address to return to after signing in is not allowed.");
        await look(page, "error");
        await follow(page, page.getByRole("link", { name: "Continue" }).click());
        expect(new URL(page.url()).pathname).toBe("/login");
      }
    });

    it("shows the 404 page", async () => {
      for (const screen of [DESKTOP, PHONE]) {
        const page = await open(screen);
        const response = await page.goto(`${base}/no/such/page`);
        expect(response?.status()).toBe(404);
        await expect(page.locator("h1").textContent()).resolves.toBe("Page not found");
        await look(page, "not-found");
      }
    });

    it("asks /reauth for a code, returns to next, and signs out from its header", async () => {
      for (const screen of [DESKTOP, PHONE]) {
        const email = `reauth-${screen.name}@example.com`;
        const { totp } = await enrolTotp(t, email);
        const page = await open(screen);
        await passwordStep(page, email);
        await enterCode(page, "6-digit code", codeAt(totp, t.clock.now()));
        t.clock.advanceSeconds(t.config.tokens.sudoTtlSeconds + 1);
        await page.goto(`${base}/reauth?next=%2Faccount%2Fsecurity`);
        await expect(page.locator("h1").textContent()).resolves.toBe("Confirm it is you before this change");
        await look(page, "reauth");
        await enterCode(page, "6-digit code", codeAt(totp, t.clock.now()));
        expect(page.url()).toBe(`${base}/account/security`);

        t.clock.advanceSeconds(t.config.tokens.sudoTtlSeconds + 1);
        await page.goto(`${base}/reauth`);
        await follow(page, page.getByRole("button", { name: "Sign out" }).click());
        expect(page.url()).toBe(`${base}/login?done=signed-out`);
        expect(await mainText(page)).toContain("You are signed out.");
        await look(page, "login-signed-out");
        expect(await sessionCookie(page)).toBeUndefined();
        await page.goto(`${base}/reauth`);
        expect(new URL(page.url()).pathname).toBe("/login");
      }
    });

    it("switches language with the switcher and keeps it; picks the browser's language first", async () => {
      const page = await open(PHONE, "de-DE");
      await page.goto(`${base}/login`);
      await expect(page.locator("h1").textContent()).resolves.toBe("Anmelden");
      await follow(page, page.getByRole("link", { name: "Français" }).click());
      await expect(page.locator("h1").textContent()).resolves.toBe("Connexion");
      await expect(page.locator("html").getAttribute("lang")).resolves.toBe("fr");
      await expect(page.getByRole("link", { name: "Français" }).getAttribute("aria-current")).resolves.toBe("true");
      await look(page, "login-fr");
      await page.goto(`${base}/login`);
      await expect(page.locator("h1").textContent()).resolves.toBe("Connexion");
      await expect(page.getByLabel("Mot de passe").getAttribute("autocomplete")).resolves.toBe("current-password");
    });

    it("shows an origin's name, logo and accent colour under the strict policy", async () => {
      for (const screen of [DESKTOP, PHONE]) {
        const page = await open(screen);
        await page.goto(`${base}/login?origin=acme`);
        await expect(page.title()).resolves.toBe("Sign in · Acme Shop");
        await expect(page.locator(".brand-name").textContent()).resolves.toBe("Acme Shop");
        // The logo of another origin loads: the policy lists its origin for images.
        await expect(page.evaluate("document.querySelector('img.logo').naturalWidth")).resolves.toBe(64);
        await expect(
          page.evaluate("getComputedStyle(document.querySelector('button[type=submit]')).backgroundColor"),
        ).resolves.toBe("rgb(122, 31, 92)");
        await expect(page.evaluate("getComputedStyle(document.body).backgroundColor")).resolves.toBe(
          "rgb(251, 247, 242)",
        );
        await look(page, "login-branded");
        // The next page remembers the origin.
        await passwordStep(page, "nobody@example.com", "Wrong1Password");
        await expect(page.locator(".brand-name").textContent()).resolves.toBe("Acme Shop");
      }
    });

    it("signs in with TOTP with JavaScript off", async () => {
      const { totp } = await enrolTotp(t, "noscript@example.com");
      const context = await browser().newContext({
        javaScriptEnabled: false,
        locale: "en-US",
        timezoneId: "UTC",
        viewport: { width: DESKTOP.width, height: DESKTOP.height },
      });
      contexts.push(context);
      const page = await context.newPage();
      await passwordStep(page, "noscript@example.com");
      expect(new URL(page.url()).pathname).toBe("/login/second-factor");
      await enterCode(page, "6-digit code", wrongCodeAt(totp, t.clock.now()));
      expect(await mainText(page)).toContain("That code is not correct");
      await enterCode(page, "6-digit code", codeAt(totp, t.clock.now()));
      expect(new URL(page.url()).pathname).toBe("/account");
      expect(await sessionCookie(page)).toBeDefined();
    });
  });
});
