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
import { PASSWORD } from "../support/http.js";
import { codeOf, type ReceivedMail } from "../support/smtp.js";

// The sign-up pages in Chromium: each page and each outcome checked by axe and shot at both screens
// (the page as it is, a form's answer included, narrowed to the phone's width and back).

describeBrowser("sign-up pages in a browser", () => {
  const browser = useBrowser();

  describe.each(testDialects())("on $name", (dialect) => {
    let on: MailApp;
    let off: MailApp;
    let base: string;
    let offBase: string;

    beforeAll(async () => {
      on = await startMailApp(dialect, { LATCHKEY_SIGNUP: "open" });
      base = await serveApp(on.t);
      off = await startMailApp(dialect);
      offBase = await serveApp(off.t);
    });
    afterAll(async () => {
      await on?.close();
      await off?.close();
    });

    /** The next mail to `to`; mails of other tests before it are passed over. */
    async function mailTo(to: string): Promise<ReceivedMail> {
      for (;;) {
        const mail = await on.smtp.next();
        if (mail.to.includes(to)) return mail;
      }
    }

    it("signs up from /login: refusals, a wrong code, throttled guesses, a new code, then /account", async () => {
      const { t } = on;
      const context = await newContext(browser());
      try {
        const page = await context.newPage();
        await page.goto(`${base}/login`);
        await look(page, "signup login link");
        await Promise.all([
          page.waitForURL(`${base}/signup`),
          page.getByRole("link", { name: "Create an account" }).click(),
        ]);
        await look(page, "signup");

        await page.getByLabel("Email address").fill("not an address");
        await page.getByLabel("Password").fill(PASSWORD);
        await submit(page, "Create account");
        expect(await errorText(page)).toContain("Enter a valid email address");
        await look(page, "signup invalid address");

        await page.getByLabel("Email address").fill("new.person@example.com");
        await page.getByLabel("Password").fill("Password1");
        await submit(page, "Create account");
        expect(await errorText(page)).toContain("too common");
        await look(page, "signup common password");

        await page.getByLabel("Password").fill(PASSWORD);
        await submit(page, "Create account", `${base}/signup/confirm?done=sent`);
        expect(await noticeText(page)).toContain("We sent an email to your address.");
        // The address came along without the URL, and the code field has the focus.
        await expect(page.getByLabel("Email address").inputValue()).resolves.toBe("new.person@example.com");
        await expect(page.evaluate<string>("document.activeElement.id")).resolves.toBe("code");
        await look(page, "signup confirm");
        const code = codeOf(await mailTo("new.person@example.com"));

        await page.getByLabel("6-digit code").fill(otherThan(code));
        await submit(page, "Confirm and sign in");
        expect(await errorText(page)).toContain("That code is not correct or has expired.");
        await look(page, "signup confirm wrong code");

        for (let n = 0; n < 4; n++) {
          await page.getByLabel("6-digit code").fill(otherThan(code));
          await submit(page, "Confirm and sign in");
        }
        await page.getByLabel("6-digit code").fill(code);
        await submit(page, "Confirm and sign in");
        expect(await errorText(page)).toBe("Too many wrong codes. You can try again in 1 second.");
        await look(page, "signup confirm throttled");

        // Five wrong tries killed that code: a new one, once the pacing allows it.
        await Promise.all([
          page.waitForURL(`${base}/signup`),
          page.getByRole("link", { name: "Start again with a new code" }).click(),
        ]);
        await expect(page.getByLabel("Email address").inputValue()).resolves.toBe("new.person@example.com");
        await page.getByLabel("Password").fill(PASSWORD);
        await submit(page, "Create account");
        expect(await errorText(page)).toMatch(
          /^A code was sent to this address a moment ago\. You can try again in \d+ seconds\.$/,
        );
        await look(page, "signup paced");

        t.clock.advanceSeconds(60);
        await page.getByLabel("Password").fill(PASSWORD);
        await submit(page, "Create account", `${base}/signup/confirm?done=sent`);
        const fresh = codeOf(await mailTo("new.person@example.com"));
        await page.getByLabel("6-digit code").fill(fresh);
        await submit(page, "Confirm and sign in", `${base}/account`);
        expect((await context.cookies()).map((c) => c.name)).toContain("latchkey_session");
        expect(await page.locator(".account-email").textContent()).toBe("new.person@example.com");
        await look(page, "signup done account");
      } finally {
        await context.close();
      }
    });

    it("answers an address that has an account as a new one: the same page, and a notice by mail", async () => {
      await on.t.createUser("taken@example.com");
      const context = await newContext(browser());
      try {
        const page = await context.newPage();
        await page.goto(`${base}/signup?lang=nl`);
        await page.getByLabel("E-mailadres").fill("taken@example.com");
        await page.getByLabel("Wachtwoord").fill(PASSWORD);
        await submit(page, "Account aanmaken", `${base}/signup/confirm?done=sent`);
        expect(await noticeText(page)).toContain("We hebben een e-mail naar uw adres gestuurd.");
        await look(page, "signup confirm nl");
        const notice = await mailTo("taken@example.com");
        expect(notice.subject).toBe("Iemand probeerde een Latchkey-account aan te maken met je adres");
        expect(notice.text).not.toMatch(/\b\d{6}\b/);
      } finally {
        await context.close();
      }
    });

    it("while sign-up is off: no link on /login, and /signup is the 404 page", async () => {
      const context = await newContext(browser());
      try {
        const page = await context.newPage();
        await page.goto(`${offBase}/login`);
        await expect(page.getByRole("link", { name: "Create an account" }).count()).resolves.toBe(0);
        const res = await page.goto(`${offBase}/signup`);
        expect(res?.status()).toBe(404);
        await expect(page.getByRole("heading", { level: 1 }).textContent()).resolves.toBe("Page not found");
        await look(page, "signup off");
      } finally {
        await context.close();
      }
    });
  });
});
