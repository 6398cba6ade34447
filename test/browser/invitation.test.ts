import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MailApp, otherThan, startMailApp } from "../mail-flows/fixture.js";
import { describeBrowser, errorText, look, newContext, serveApp, submit, useBrowser } from "../support/browser.js";
import { testDialects } from "../support/harness.js";
import { call, NEW_PASSWORD } from "../support/http.js";
import { linkOf, mailDirWithInviteLink } from "../support/invitations.js";
import { codeOf, type ReceivedMail } from "../support/smtp.js";

// The invitation page in Chromium: opened from the mailed link, every outcome checked by axe and shot
// at both screens (the page as it is, a form's answer included, narrowed to the phone's width and back).

const ADMIN_TOKEN = "admin-token-0123456789abcdefghijklmnopqrstuvwxyz";

describeBrowser("the invitation page in a browser", () => {
  const browser = useBrowser();

  describe.each(testDialects())("on $name", (dialect) => {
    let m: MailApp;
    let base: string;
    let mailDir: string;

    beforeAll(async () => {
      mailDir = mailDirWithInviteLink();
      m = await startMailApp(dialect, { LATCHKEY_ADMIN_TOKEN: ADMIN_TOKEN, LATCHKEY_MAIL_DIR: mailDir });
      base = await serveApp(m.t);
    });
    afterAll(async () => {
      await m?.close();
      rmSync(mailDir, { recursive: true, force: true });
    });

    /** The next mail to `to`; other tests' mails before it are passed over. */
    async function mailTo(to: string): Promise<ReceivedMail> {
      for (;;) {
        const mail = await m.smtp.next();
        if (mail.to.includes(to)) return mail;
      }
    }

    async function invite(email: string, language = "en"): Promise<{ userId: number; mail: ReceivedMail }> {
      const res = await call(m.t, "POST", "/admin/users", ADMIN_TOKEN, { email, invite: { language } });
      expect(res.statusCode, res.body).toBe(201);
      return { userId: res.json().userId, mail: await mailTo(email) };
    }

    it("opens the mailed link, chooses a password and lands on the account page, signed in", async () => {
      const { mail } = await invite("newcomer@example.com");
      const context = await newContext(browser());
      try {
        const page = await context.newPage();
        const answer = await page.goto(`${base}${linkOf(mail)}`);
        expect(answer?.headers()["referrer-policy"]).toBe("no-referrer");
        // The address and the code came with the link; the password field has the focus.
        await expect(page.getByLabel("Email address").inputValue()).resolves.toBe("newcomer@example.com");
        await expect(page.getByLabel("Code from the invitation").inputValue()).resolves.toBe(codeOf(mail));
        await expect(page.evaluate<string>("document.activeElement.id")).resolves.toBe("password");
        await look(page, "invitation from the link");

        await page.getByLabel("Your password").fill("short1A");
        await submit(page, "Save the password and sign in");
        expect(await errorText(page)).toContain("The new password must be at least 8 characters long.");
        // The code stays in the form: the password rules are checked before it.
        await expect(page.getByLabel("Code from the invitation").inputValue()).resolves.toBe(codeOf(mail));
        await look(page, "invitation weak password");

        await page.getByLabel("Your password").fill(NEW_PASSWORD);
        await submit(page, "Save the password and sign in", `${base}/account`);
        await expect(page.locator("h1").textContent()).resolves.toContain("Your account");
        await look(page, "invitation accepted account");

        // Signed out, the new password signs in.
        await submit(page, "Sign out", `${base}/login?done=signed-out`);
        await page.getByLabel("Email address").fill("newcomer@example.com");
        await page.getByLabel("Password").fill(NEW_PASSWORD);
        await submit(page, "Sign in", `${base}/account`);
      } finally {
        await context.close();
      }
    });

    it("refuses a wrong code, then throttles guesses; a new invitation's code works after the wait", async () => {
      const { t } = m;
      const { userId, mail } = await invite("guesser@example.com");
      const context = await newContext(browser());
      try {
        const page = await context.newPage();
        await page.goto(`${base}/invitation`);
        await look(page, "invitation empty");
        const attempt = async (code: string) => {
          await page.getByLabel("Email address").fill("guesser@example.com");
          await page.getByLabel("Code from the invitation").fill(code);
          await page.getByLabel("Your password").fill(NEW_PASSWORD);
          await submit(page, "Save the password and sign in");
        };
        await attempt(otherThan(codeOf(mail)));
        expect(await errorText(page)).toContain("That code is not correct, has expired or was replaced");
        await look(page, "invitation wrong code");
        for (let n = 0; n < 4; n++) await attempt(otherThan(codeOf(mail)));
        await attempt(codeOf(mail));
        expect(await errorText(page)).toBe("Too many wrong codes. You can try again in 1 second.");
        await look(page, "invitation throttled");

        // Five wrong tries used that code up: the operator sends a new invitation.
        const resend = await call(t, "POST", `/admin/users/${userId}/invitation`, ADMIN_TOKEN, {});
        expect(resend.statusCode).toBe(204);
        const fresh = await mailTo("guesser@example.com");
        t.clock.advanceSeconds(1);
        await page.goto(`${base}${linkOf(fresh)}`);
        await page.getByLabel("Your password").fill(NEW_PASSWORD);
        await submit(page, "Save the password and sign in", `${base}/account`);
      } finally {
        await context.close();
      }
    });

    it("speaks Dutch, French and German", async () => {
      const { mail } = await invite("polyglot@example.com", "nl");
      for (const [lang, title] of [
        ["nl", "Kies uw wachtwoord"],
        ["fr", "Choisir votre mot de passe"],
        ["de", "Passwort wählen"],
      ] as const) {
        const context = await newContext(browser(), { locale: lang });
        try {
          const page = await context.newPage();
          await page.goto(`${base}${linkOf(mail)}`);
          await expect(page.locator("h1").textContent()).resolves.toContain(title);
          await look(page, `invitation ${lang}`);
        } finally {
          await context.close();
        }
      }
    });
  });
});
