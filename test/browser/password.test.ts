import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MailApp, otherThan, startMailApp } from "../mail-flows/fixture.js";
import {
  describeBrowser,
  errorText,
  look,
  newContext,
  noticeText,
  serveApp,
  submit,
  useBrowser,
} from "../support/browser.js";
import { testDialects } from "../support/harness.js";
import { NEW_PASSWORD, PASSWORD } from "../support/http.js";
import { codeOf, type ReceivedMail } from "../support/smtp.js";

// The password and email pages in Chromium: each page and each outcome checked by axe and shot at
// both screens (the page as it is, a form's answer included, narrowed to the phone's width and back).

describeBrowser("password and email pages in a browser", () => {
  const browser = useBrowser();

  describe.each(testDialects())("on $name", (dialect) => {
    let m: MailApp;
    let base: string;

    beforeAll(async () => {
      m = await startMailApp(dialect);
      base = await serveApp(m.t);
    });
    afterAll(async () => {
      await m?.close();
    });

    /** The next mail to `to`; the other suites' mails before it (notices) are passed over. */
    async function mailTo(to: string): Promise<ReceivedMail> {
      for (;;) {
        const mail = await m.smtp.next();
        if (mail.to.includes(to)) return mail;
      }
    }

    async function signedIn(email: string, password: string): Promise<{ context: BrowserContext; page: Page }> {
      const context = await newContext(browser());
      const page = await context.newPage();
      await page.goto(`${base}/login`);
      await page.getByLabel("Email address").fill(email);
      await page.getByLabel("Password").fill(password);
      await submit(page, "Sign in", `${base}/account`);
      return { context, page };
    }

    it("resets a forgotten password: a wrong code, throttled guesses, then the right code and a sign-in", async () => {
      const { t } = m;
      await t.createUser("reset@example.com");
      const context = await newContext(browser());
      try {
        const page = await context.newPage();
        await page.goto(`${base}/login`);
        await Promise.all([
          page.waitForURL(`${base}/password/forgot`),
          page.getByRole("link", { name: "Forgot your password?" }).click(),
        ]);
        await look(page, "password forgot");

        await page.getByLabel("Email address").fill("not an address");
        await submit(page, "Email me a code");
        expect(await errorText(page)).toContain("Enter a valid email address");
        await look(page, "password forgot invalid address");

        await page.getByLabel("Email address").fill("reset@example.com");
        await submit(page, "Email me a code", `${base}/password/reset?done=sent`);
        expect(await noticeText(page)).toContain("If an account exists for that address, a code is on its way.");
        // The address came along without the URL, and the code field has the focus.
        await expect(page.getByLabel("Email address").inputValue()).resolves.toBe("reset@example.com");
        await expect(page.evaluate<string>("document.activeElement.id")).resolves.toBe("code");
        await look(page, "password reset");
        const code = codeOf(await mailTo("reset@example.com"));

        await page.getByLabel("Code from the email").fill(otherThan(code));
        await page.getByLabel("New password").fill(NEW_PASSWORD);
        await submit(page, "Save the new password");
        expect(await errorText(page)).toContain("That code is not correct or has expired.");
        await look(page, "password reset wrong code");

        for (let n = 0; n < 4; n++) {
          await page.getByLabel("Code from the email").fill(otherThan(code));
          await page.getByLabel("New password").fill(NEW_PASSWORD);
          await submit(page, "Save the new password");
        }
        await page.getByLabel("Code from the email").fill(code);
        await page.getByLabel("New password").fill(NEW_PASSWORD);
        await submit(page, "Save the new password");
        expect(await errorText(page)).toBe("Too many wrong codes. You can try again in 1 second.");
        await look(page, "password reset throttled");

        // Five wrong tries killed that code: a new one, once the pacing allows it.
        t.clock.advanceSeconds(60);
        await Promise.all([
          page.waitForURL(`${base}/password/forgot`),
          page.getByRole("link", { name: "No code, or has it expired? Ask for a new one" }).click(),
        ]);
        await expect(page.getByLabel("Email address").inputValue()).resolves.toBe("reset@example.com");
        await submit(page, "Email me a code", `${base}/password/reset?done=sent`);
        const fresh = codeOf(await mailTo("reset@example.com"));
        await page.getByLabel("Code from the email").fill(fresh);
        await page.getByLabel("New password").fill("short");
        await submit(page, "Save the new password");
        expect(await errorText(page)).toBe("The new password must be at least 8 characters long.");
        await look(page, "password reset password rule");

        await page.getByLabel("New password").fill(NEW_PASSWORD);
        await submit(page, "Save the new password", `${base}/login?done=password-reset`);
        expect(await noticeText(page)).toContain("Your password was changed.");
        await page.getByLabel("Email address").fill("reset@example.com");
        await page.getByLabel("Password").fill(NEW_PASSWORD);
        await submit(page, "Sign in", `${base}/account`);
        expect((await context.cookies()).map((c) => c.name)).toContain("latchkey_session");
        expect((await context.cookies()).map((c) => c.name)).not.toContain("latchkey_reset_email");
      } finally {
        await context.close();
      }
    });

    it("shows the wait of a second reset mail asked for too soon", async () => {
      const context = await newContext(browser(), { locale: "de-DE" });
      try {
        const page = await context.newPage();
        await page.goto(`${base}/password/forgot`);
        await look(page, "password forgot de");
        await page.getByLabel("E-Mail-Adresse").fill("paced@example.com");
        await submit(page, "Code per E-Mail senden", `${base}/password/reset?done=sent`);
        await page.goto(`${base}/password/forgot`);
        await page.getByLabel("E-Mail-Adresse").fill("paced@example.com");
        await submit(page, "Code per E-Mail senden");
        expect(await errorText(page)).toBe(
          "Soeben wurde ein Code zum Zurücksetzen gesendet. Sie können es in 60 Sekunden erneut versuchen.",
        );
        await look(page, "password forgot paced de");
      } finally {
        await context.close();
      }
    });

    it("changes the password, refusing a wrong current one, and stays signed in", async () => {
      await m.t.createUser("change@example.com");
      const { context, page } = await signedIn("change@example.com", PASSWORD);
      try {
        await page.goto(`${base}/account/password`);
        await look(page, "password change");

        await page.getByLabel("Current password").fill("Wrong7Horse");
        await page.getByLabel("New password").fill(NEW_PASSWORD);
        await submit(page, "Change password");
        expect(await errorText(page)).toBe("The current password is not correct.");
        await look(page, "password change wrong password");

        await page.getByLabel("Current password").fill(PASSWORD);
        await page.getByLabel("New password").fill(NEW_PASSWORD);
        await submit(page, "Change password", `${base}/account?done=password-changed`);
        await page.goto(`${base}/account/password`);
        expect(page.url()).toBe(`${base}/account/password`);
        await expect(page.getByRole("button", { name: "Sign out" }).isVisible()).resolves.toBe(true);
      } finally {
        await context.close();
      }
    });

    it("changes the email address with a code mailed to the new one", async () => {
      await m.t.createUser("move@example.com");
      const { context, page } = await signedIn("move@example.com", PASSWORD);
      try {
        await page.goto(`${base}/account/email`);
        await look(page, "email change");

        await page.getByLabel("New email address").fill("x@10minutemail.com");
        await submit(page, "Email a code to the new address");
        expect(await errorText(page)).toBe("Addresses of throw-away mail services cannot be used.");
        await look(page, "email change refused");

        await page.getByLabel("New email address").fill("moved@example.org");
        await submit(page, "Email a code to the new address", `${base}/account/email/confirm?done=sent`);
        expect(await noticeText(page)).toBe("A code is on its way to the new address.");
        await look(page, "email confirm");
        const mail = await mailTo("moved@example.org");

        await page.getByLabel("Code from the email").fill(otherThan(codeOf(mail)));
        await submit(page, "Change email address");
        expect(await errorText(page)).toContain("That code is not correct or has expired.");
        await look(page, "email confirm wrong code");

        await page.getByLabel("Code from the email").fill(codeOf(mail));
        await submit(page, "Change email address", `${base}/account?done=email-changed`);
        expect((await mailTo("move@example.com")).subject).toBe("Your Latchkey email address was changed");
        await page.goto(`${base}/account/email`);
        await expect(page.locator("main").textContent()).resolves.toContain("You sign in with moved@example.org.");
      } finally {
        await context.close();
      }
    });
  });
});
