import type { BrowserContext, Locator, Page } from "playwright-core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
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
import { createTestApp, type TestApp, testDialects } from "../support/harness.js";
import { get, PASSWORD, sessionIdOf } from "../support/http.js";
import { codeAt, enrolTotp } from "../two-factor/support.js";

// The account overview and the sessions page in Chromium: two browsers signed in as one user, the
// first ending the second's session; every path of the sessions page; each page checked with axe
// and shot at both screens.

const SAFARI_IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

describeBrowser("account and sessions pages", () => {
  const browser = useBrowser();

  describe.each(testDialects())("($name)", (dialect) => {
    let t: TestApp;
    let base: string;
    const contexts: BrowserContext[] = [];

    beforeEach(async () => {
      t = await createTestApp(dialect);
      base = await serveApp(t);
    });
    afterEach(async () => {
      for (const context of contexts.splice(0)) await context.close();
      await t.close();
    });

    /** An API client signed in with a user agent of its own: its refresh token. */
    async function apiLogin(email: string, userAgent: string): Promise<string> {
      const res = await t.app.inject({
        method: "POST",
        url: "/auth/login",
        headers: { "user-agent": userAgent },
        payload: { username: email, password: PASSWORD },
      });
      expect(res.statusCode, res.body).toBe(200);
      return res.body;
    }

    /** A fresh browser at `screen`, signed in on the login page (with its TOTP code when `totp` is given). */
    async function signedIn(
      email: string,
      options: { screen?: Screen; locale?: string; totp?: Parameters<typeof codeAt>[0] } = {},
    ): Promise<{ context: BrowserContext; page: Page }> {
      const context = await newContext(browser(), {
        viewport: options.screen ?? DESKTOP,
        ...(options.locale ? { locale: options.locale } : {}),
      });
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(`${base}/login`);
      await page.locator('input[name="email"]').fill(email);
      await page.locator('input[name="password"]').fill(PASSWORD);
      await Promise.all([
        page.waitForURL(/\/(account|login\/second-factor)$/),
        page.locator('form[action="/login"] button[type="submit"]').click(),
      ]);
      if (options.totp) {
        // Each sign-in spends its step: the next one waits for a fresh code.
        t.clock.advanceSeconds(30);
        await page.locator('input[name="code"]').fill(codeAt(options.totp, t.clock.now()));
        await Promise.all([page.waitForURL(`${base}/account`), page.locator('button[type="submit"].full').click()]);
      }
      expect(page.url()).toBe(`${base}/account`);
      return { context, page };
    }

    async function sessionOf(context: BrowserContext): Promise<string> {
      const cookie = (await context.cookies(base)).find((c) => c.name === "latchkey_session");
      expect(cookie).toBeDefined();
      return sessionIdOf(cookie?.value ?? "");
    }

    /** The button of the form that ends `sessionId`. */
    function endButton(page: Page, sessionId: string) {
      return page.locator(`form:has(input[name="session"][value="${sessionId}"]) button`);
    }

    const items = (page: Page) => page.locator("ul.sessions > li");

    /** An element's text, spaces folded as a reader sees them. */
    async function textIn(locator: Locator): Promise<string> {
      return ((await locator.textContent()) ?? "").replace(/\s+/g, " ").trim();
    }

    it("ends another browser's session from the sessions page: that browser's next navigation lands on /login", async () => {
      await t.createUser("alice@example.com");
      const phone = await apiLogin("alice@example.com", SAFARI_IPHONE);
      const a = await signedIn("alice@example.com");
      const b = await signedIn("alice@example.com");
      const bSession = await sessionOf(b.context);

      await a.page.goto(`${base}/account`);
      await expect(textIn(a.page.locator("main"))).resolves.toContain("You are signed in on 3 devices.");
      await expectAccessible(a.page);

      await a.page.goto(`${base}/account/sessions`);
      await expect(items(a.page).count()).resolves.toBe(3);
      await expect(textIn(items(a.page).first())).resolves.toContain("This device");
      await expect(textIn(a.page.locator("main"))).resolves.toContain("Safari on iPhone");
      await expectAccessible(a.page);

      await Promise.all([
        a.page.waitForURL(`${base}/account/sessions?done=session-ended`),
        endButton(a.page, bSession).click(),
      ]);
      await expect(textIn(a.page.getByRole("status"))).resolves.toBe("That device was signed out.");
      await expect(items(a.page).count()).resolves.toBe(2);
      await expect(endButton(a.page, bSession).count()).resolves.toBe(0);
      await expectAccessible(a.page);
      await screenshot(a.page, "sessions-ended");

      // B, still holding its cookies, is sent to sign in on its next page, and its cookies go.
      const response = await b.page.goto(`${base}/account/sessions`);
      expect(response?.status()).toBe(200);
      expect(b.page.url()).toBe(`${base}/login`);
      expect((await b.context.cookies(base)).map((c) => c.name)).not.toContain("latchkey_session");
      // The API client's session was not touched.
      expect((await get(t, "/auth/refreshtoken/validate", phone)).statusCode).toBe(200);
    });

    it("refuses a session ended a moment ago from another tab, signs out everywhere else, then signs out here", async () => {
      await t.createUser("alice@example.com");
      const phone = await apiLogin("alice@example.com", SAFARI_IPHONE);
      const a = await signedIn("alice@example.com");
      const b = await signedIn("alice@example.com");
      const bSession = await sessionOf(b.context);

      // Two tabs of A on the list; the first ends B's session, the second still offers it.
      const stale = await a.context.newPage();
      await stale.goto(`${base}/account/sessions`);
      await a.page.goto(`${base}/account/sessions`);
      await Promise.all([
        a.page.waitForURL(`${base}/account/sessions?done=session-ended`),
        endButton(a.page, bSession).click(),
      ]);
      const [refused] = await Promise.all([
        stale.waitForResponse(/\/account\/sessions\/end$/),
        endButton(stale, bSession).click(),
      ]);
      expect(refused.status()).toBe(404);
      await stale.waitForLoadState();
      await expect(textIn(stale.getByRole("alert"))).resolves.toBe(
        "That session was not found among yours, or it has already ended. Nothing was changed.",
      );
      await expectAccessible(stale);
      await screenshot(stale, "sessions-not-found");
      await stale.close();

      await a.page.goto(`${base}/account/sessions`);
      await Promise.all([
        a.page.waitForURL(`${base}/account/sessions?done=others-signed-out`),
        a.page.getByRole("button", { name: "Sign out all other devices" }).click(),
      ]);
      await expect(textIn(a.page.getByRole("status"))).resolves.toBe("You were signed out on every other device.");
      await expect(items(a.page).count()).resolves.toBe(1);
      await expect(textIn(a.page.locator("main"))).resolves.toContain("You are signed in on this device only.");
      await expectAccessible(a.page);
      expect((await get(t, "/auth/refreshtoken/validate", phone)).json().message).toBe("TOKEN_REVOKED");

      await Promise.all([
        a.page.waitForURL(`${base}/login?done=signed-out`),
        a.page.getByRole("button", { name: "Sign out here" }).click(),
      ]);
      await expect(textIn(a.page.getByRole("status"))).resolves.toBe("You are signed out.");
      await a.page.goto(`${base}/account`);
      expect(a.page.url()).toBe(`${base}/login`);
    });

    it("shows the account page (two-step verification off and on) and the sessions page accessibly at both screens", async () => {
      await t.createUser("alice@example.com");
      await apiLogin("alice@example.com", SAFARI_IPHONE);
      const { totp } = await enrolTotp(t, "bob.with.a.rather.long.address@example.com");
      for (const screen of [DESKTOP, PHONE]) {
        const alice = await signedIn("alice@example.com", { screen });
        await alice.page.goto(`${base}/account`);
        await expect(textIn(alice.page.locator("main"))).resolves.toContain("Off");
        await expectAccessible(alice.page);
        await screenshot(alice.page, "account-two-factor-off");
        await alice.page.goto(`${base}/account/sessions`);
        await expectAccessible(alice.page);
        await screenshot(alice.page, "sessions");

        const bob = await signedIn("bob.with.a.rather.long.address@example.com", { screen, totp });
        await bob.page.goto(`${base}/account?done=two-factor-on`);
        await expect(textIn(bob.page.locator("main"))).resolves.toContain("Authenticator app");
        await expectAccessible(bob.page);
        await screenshot(bob.page, "account-two-factor-on");

        const german = await signedIn("alice@example.com", { screen, locale: "de-DE" });
        await german.page.goto(`${base}/account/sessions`);
        await expect(textIn(german.page.locator("h1"))).resolves.toBe("Wo Sie angemeldet sind");
        await expectAccessible(german.page);
        await screenshot(german.page, "sessions-de");
      }
    });
  });
});
