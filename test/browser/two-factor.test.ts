import { readFileSync } from "node:fs";
import { Secret, TOTP } from "otpauth";
import type { Page } from "playwright-core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type MailApp, startMailApp } from "../mail-flows/fixture.js";
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
import { type TestApp, testDialects } from "../support/harness.js";
import { PASSWORD } from "../support/http.js";
import { codeOf } from "../support/smtp.js";
import { codeAt, enrolTotp, wrongCodeAt } from "../two-factor/support.js";

const EMAIL = "alice@example.com";

/** Checks the page with axe and keeps a full-page shot of it at the context's screen. */
async function look(page: Page, name: string): Promise<void> {
  await expectAccessible(page);
  await screenshot(page, `two-factor ${name}`);
}

/** Clicks a button or link and waits for the page it leads to. */
async function follow(page: Page, role: "button" | "link", name: string): Promise<void> {
  await Promise.all([page.waitForEvent("load"), page.getByRole(role, { name, exact: true }).click()]);
}

async function heading(page: Page): Promise<string> {
  return (await page.locator("h1").textContent()) ?? "";
}

async function signInWithPassword(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/login`);
  await page.getByLabel("Email address").fill(EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await follow(page, "button", "Sign in");
}

async function signOut(page: Page): Promise<void> {
  await follow(page, "button", "Sign out");
  expect(new URL(page.url()).pathname).toBe("/login");
}

describeBrowser("two-factor pages in Chromium", () => {
  const browser = useBrowser();

  describe.each(testDialects())("$name", (dialect) => {
    let mail: MailApp;
    let t: TestApp;
    let base: string;
    beforeEach(async () => {
      mail = await startMailApp(dialect);
      t = mail.t;
      base = await serveApp(t);
    });
    afterEach(async () => mail.close());

    for (const screen of [DESKTOP, PHONE] satisfies Screen[]) {
      it(`enrols the authenticator app from the key on the page, then signs in with a code and with a recovery code (${screen.name})`, async () => {
        await t.createUser(EMAIL);
        const context = await newContext(browser(), { viewport: screen });
        try {
          const page = await context.newPage();
          await signInWithPassword(page, base);

          await page.goto(`${base}/account/two-factor`);
          expect(await page.getByText("Two-step verification is off.").isVisible()).toBe(true);
          await look(page, "overview off");

          await follow(page, "link", "Set up an authenticator app");
          expect(await heading(page)).toBe("Set up an authenticator app");
          await look(page, "totp intro");

          await follow(page, "button", "Show the QR code");
          expect(await heading(page)).toBe("Scan the QR code");
          const qr = page.getByRole("img", { name: "QR code to add this account to an authenticator app" });
          expect(await qr.isVisible()).toBe(true);
          expect(await qr.getAttribute("style")).toBeNull();
          // With script on, the copy button shows.
          expect(await page.getByRole("button", { name: "Copy the key" }).isVisible()).toBe(true);
          const key = ((await page.locator("#totp-key").textContent()) ?? "").trim();
          expect(key).toMatch(/^[A-Z2-7]{16,}$/);
          await look(page, "totp qr");
          const app = new TOTP({ secret: Secret.fromBase32(key), algorithm: "SHA1", digits: 6, period: 30 });

          await page.getByLabel("6-digit code from the app").fill(wrongCodeAt(app, t.clock.now()));
          await follow(page, "button", "Turn on");
          expect(await page.getByRole("alert").textContent()).toContain("That code is not correct");
          await look(page, "totp wrong code");

          await page.getByLabel("6-digit code from the app").fill(codeAt(app, t.clock.now()));
          await follow(page, "button", "Turn on");
          expect(await heading(page)).toBe("Your recovery codes");
          expect(await page.getByText("Save these codes now").isVisible()).toBe(true);
          const codes = await page.locator("#recovery-codes li").allTextContents();
          expect(codes).toHaveLength(10);
          expect(await page.getByRole("button", { name: "Print" }).isVisible()).toBe(true);
          await look(page, "recovery codes");
          // The download is a file of the codes, made without a request to the server.
          const [download] = await Promise.all([
            page.waitForEvent("download"),
            page.getByRole("link", { name: "Download as a text file" }).click(),
          ]);
          expect(download.suggestedFilename()).toBe("recovery-codes.txt");
          const file = readFileSync(await download.path(), "utf8");
          for (const code of codes) expect(file).toContain(code);

          await follow(page, "link", "I have saved them");
          expect(await page.locator("#recovery-codes").count()).toBe(0);
          expect(await page.getByText("Unused codes: 10 of 10.").isVisible()).toBe(true);
          await look(page, "overview on");
          // Reloading shows the overview again, never the codes.
          await page.reload();
          for (const code of codes) expect(await page.content()).not.toContain(code);

          // Sign out, then in again with a code of the app (a fresh step: the enabling one is spent).
          t.clock.advanceSeconds(30);
          await signOut(page);
          await signInWithPassword(page, base);
          expect(new URL(page.url()).pathname).toBe("/login/second-factor");
          await page.getByLabel("6-digit code").fill(codeAt(app, t.clock.now()));
          await follow(page, "button", "Verify");
          expect(new URL(page.url()).pathname).toBe("/account");

          // And with a recovery code, as shown on the page.
          await page.goto(`${base}/account/two-factor`);
          await signOut(page);
          await signInWithPassword(page, base);
          await follow(page, "link", "Use a recovery code");
          await page.getByLabel("Recovery code").fill(codes[0] ?? "");
          await follow(page, "button", "Verify");
          expect(new URL(page.url()).pathname).toBe("/account");
          await page.goto(`${base}/account/two-factor`);
          expect(await page.getByText("Unused codes: 9 of 10.").isVisible()).toBe(true);
        } finally {
          await context.close();
        }
      });

      it(`sets up codes by email, makes new recovery codes, and turns both methods off after /reauth (${screen.name})`, async () => {
        const { totp } = await enrolTotp(t, EMAIL);
        const context = await newContext(browser(), { viewport: screen });
        try {
          const page = await context.newPage();
          await signInWithPassword(page, base);
          await page.getByLabel("6-digit code").fill(codeAt(totp, t.clock.now()));
          await follow(page, "button", "Verify");

          await page.goto(`${base}/account/two-factor`);
          await follow(page, "link", "Set up codes by email");
          expect(await heading(page)).toBe("Set up codes by email");
          await look(page, "email");

          await follow(page, "button", "Send the code");
          expect(await page.getByRole("status").first().textContent()).toContain("A code is on its way to");
          await look(page, "email sent");
          const code = codeOf(await mail.smtp.next());

          // A new code at once is refused, with the wait in words.
          await follow(page, "button", "Send a new code");
          expect(await page.getByRole("alert").textContent()).toContain("You can try again in");
          await look(page, "email throttled");

          await page.getByLabel("6-digit code from the email").fill(code === "000000" ? "111111" : "000000");
          await follow(page, "button", "Turn on");
          expect(await page.getByRole("alert").textContent()).toContain("That code is not correct or has expired.");
          await look(page, "email wrong code");

          await page.getByLabel("6-digit code from the email").fill(code);
          await follow(page, "button", "Turn on");
          expect(new URL(page.url()).pathname).toBe("/account/two-factor");
          expect(await page.getByText("Codes by email are on.").isVisible()).toBe(true);
          await look(page, "overview both on");

          await follow(page, "link", "Make new recovery codes");
          expect(await heading(page)).toBe("Make new recovery codes");
          await look(page, "recovery confirm");
          await follow(page, "button", "Make new codes");
          expect(await page.locator("#recovery-codes li").count()).toBe(10);
          await look(page, "recovery codes new");
          await follow(page, "link", "I have saved them");

          // Minutes later the sudo token is gone: turning a method off asks for the second factor.
          t.clock.advanceSeconds(10 * 60);
          await follow(page, "link", "Turn off the authenticator app");
          expect(new URL(page.url()).pathname).toBe("/reauth");
          await look(page, "reauth");
          await page.getByLabel("6-digit code").fill(codeAt(totp, t.clock.now()));
          await follow(page, "button", "Verify");
          expect(new URL(page.url()).pathname).toBe("/account/two-factor/totp/off");
          await look(page, "totp off");
          await follow(page, "button", "Turn off the authenticator app");
          expect(await page.getByText("The authenticator app is off.").isVisible()).toBe(true);

          await follow(page, "link", "Turn off codes by email");
          expect(await page.getByText("This is your last method").isVisible()).toBe(true);
          await look(page, "email off last");
          await follow(page, "button", "Turn off codes by email");
          expect(await page.getByText("Two-step verification is off: no method is left").isVisible()).toBe(true);
          await look(page, "overview turned off");
        } finally {
          await context.close();
        }
      });
    }

    it("with JavaScript off, keeps the buttons that need it hidden: the codes page offers the download, not Print", async () => {
      await t.createUser(EMAIL);
      const context = await newContext(browser(), { javaScriptEnabled: false });
      try {
        const page = await context.newPage();
        await signInWithPassword(page, base);
        await page.goto(`${base}/account/two-factor/totp`);
        await follow(page, "button", "Show the QR code");
        const key = ((await page.locator("#totp-key").textContent()) ?? "").replace(/\s/g, "");
        expect(await page.getByRole("button", { name: "Copy the key" }).isVisible()).toBe(false);
        const app = new TOTP({ secret: Secret.fromBase32(key), algorithm: "SHA1", digits: 6, period: 30 });
        await page.getByLabel("6-digit code from the app").fill(codeAt(app, t.clock.now()));
        await follow(page, "button", "Turn on");
        expect(await page.locator("#recovery-codes li").count()).toBe(10);
        expect(await page.getByRole("link", { name: "Download as a text file" }).isVisible()).toBe(true);
        expect(await page.getByRole("button", { name: "Print" }).isVisible()).toBe(false);
        await screenshot(page, "two-factor recovery codes no script");
      } finally {
        await context.close();
      }
    });
  });
});
