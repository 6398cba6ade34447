import { rmSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type MailApp, otherThan, startMailApp } from "../mail-flows/fixture.js";
import { type TestApp, testDialects } from "../support/harness.js";
import { call, NEW_PASSWORD } from "../support/http.js";
import { linkOf, mailDirWithInviteLink } from "../support/invitations.js";
import { expectPage, PageClient, textOf } from "../support/pages.js";
import { codeOf, type ReceivedMail, type SmtpSink } from "../support/smtp.js";
import { snapshot } from "../support/snapshot.js";

const ADMIN_TOKEN = "admin-token-0123456789abcdefghijklmnopqrstuvwxyz";

describe.each(testDialects())("invitation page ($name)", (dialect) => {
  let m: MailApp | undefined;
  let t: TestApp;
  let smtp: SmtpSink;
  let mailDir: string;

  beforeEach(async () => {
    mailDir = mailDirWithInviteLink();
    m = await startMailApp(dialect, { LATCHKEY_ADMIN_TOKEN: ADMIN_TOKEN, LATCHKEY_MAIL_DIR: mailDir });
    ({ t, smtp } = m);
  });
  afterEach(async () => {
    await m?.close();
    m = undefined;
    rmSync(mailDir, { recursive: true, force: true });
  });

  async function invite(email: string, language = "en"): Promise<{ userId: number; mail: ReceivedMail }> {
    const res = await call(t, "POST", "/admin/users", ADMIN_TOKEN, { email, invite: { language } });
    expect(res.statusCode, res.body).toBe(201);
    return { userId: res.json().userId, mail: await smtp.next() };
  }

  async function passwordWorks(email: string, password: string): Promise<boolean> {
    const res = await call(t, "POST", "/auth/login", undefined, { username: email, password });
    return res.statusCode === 200;
  }

  it("opens the mailed link with the form filled in, sets the password, signs in and lands on /account", async () => {
    const { userId, mail } = await invite("ann+team@example.com");
    const link = linkOf(mail);
    expect(link).toBe(`/invitation?email=ann%2Bteam%40example.com&code=${codeOf(mail)}`);

    const browser = new PageClient(t);
    const form = await browser.get(link);
    expectPage(form, 200, "Enter the 6-digit code from your invitation");
    expect(form.headers["referrer-policy"]).toBe("no-referrer");
    expect(form.headers["cache-control"]).toBe("no-store");
    expect(form.body).toContain('value="ann+team@example.com"');
    expect(form.body).toContain(`value="${codeOf(mail)}"`);
    expect(form.body).toContain('autocomplete="new-password"');
    expect(form.body).toContain('autocomplete="one-time-code"');
    expect(textOf(form.body)).toContain("a lower-case letter, a capital letter and a digit");

    const done = await browser.post("/invitation", {
      email: "ann+team@example.com",
      code: codeOf(mail),
      password: NEW_PASSWORD,
    });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe("/account");
    const account = await browser.visit("/account");
    expectPage(account, 200, "Your account");
    expect(textOf(account.body).replace(/\s/g, "")).toContain("ann+team@example.com");
    expect(await passwordWorks("ann+team@example.com", NEW_PASSWORD)).toBe(true);
    const detail = (await call(t, "GET", `/admin/users/${userId}`, ADMIN_TOKEN)).json();
    expect(detail.invitation).toBeUndefined();
    expect(detail.sessions).toBe(2);

    // The link again: the code is spent.
    const again = new PageClient(t);
    await again.get(link);
    const used = await again.post("/invitation", {
      email: "ann+team@example.com",
      code: codeOf(mail),
      password: "Other8Password",
    });
    expectPage(used, 401, "That code is not correct, has expired or was replaced by a newer invitation.");
    expect(again.cookies.has("latchkey_session")).toBe(false);
  });

  it("speaks the reader's language; the plain page sends the usual referrer policy", async () => {
    const browser = new PageClient(t, { "accept-language": "de-DE,de;q=0.9" });
    const plain = await browser.get("/invitation");
    expectPage(plain, 200, "Passwort wählen");
    expect(plain.headers["referrer-policy"]).toBe("same-origin");
    expect(plain.body).toContain("Ihr Passwort");
    const wrong = await browser.post("/invitation", {
      email: "nobody@example.com",
      code: "123456",
      password: NEW_PASSWORD,
    });
    expectPage(wrong, 401, "Dieser Code ist falsch, abgelaufen oder wurde durch eine neuere Einladung ersetzt.");
    const nl = new PageClient(t);
    expectPage(await nl.get("/invitation?lang=nl"), 200, "Kies uw wachtwoord");
    const fr = new PageClient(t);
    expectPage(await fr.get("/invitation?lang=fr"), 200, "Choisir votre mot de passe");
  });

  it("refuses a wrong code and an unknown address alike, keeps the code after a refused password", async () => {
    const { mail } = await invite("bea@example.com");
    const code = codeOf(mail);
    const browser = new PageClient(t);
    await browser.get(linkOf(mail));
    const before = await snapshot(t);

    const weak = await browser.post("/invitation", { email: "bea@example.com", code, password: "short1A" });
    expectPage(weak, 400, "The new password must be at least 8 characters long.");
    expect(weak.body).toContain(`value="${code}"`);
    expect(await snapshot(t)).toBe(before);

    const wrong = await browser.post("/invitation", {
      email: "bea@example.com",
      code: otherThan(code),
      password: NEW_PASSWORD,
    });
    const unknown = await browser.post("/invitation", { email: "bo@example.com", code, password: NEW_PASSWORD });
    expectPage(wrong, 401, "That code is not correct");
    expect([unknown.statusCode, textOf(unknown.body)]).toEqual([wrong.statusCode, textOf(wrong.body)]);
    expect(wrong.body).not.toContain(`value="${otherThan(code)}"`);

    // Spaces typed into the code are dropped, as on the other code forms.
    const done = await browser.post("/invitation", {
      email: " bea@example.com ",
      code: `${code.slice(0, 3)} ${code.slice(3)}`,
      password: NEW_PASSWORD,
    });
    expect(done.headers.location).toBe("/account");
  });

  it("shows the wait once guesses are throttled, with Retry-After", async () => {
    const { mail } = await invite("cy@example.com");
    const browser = new PageClient(t);
    await browser.get("/invitation");
    for (let n = 0; n < 5; n++) {
      const res = await browser.post("/invitation", {
        email: "cy@example.com",
        code: otherThan(codeOf(mail)),
        password: NEW_PASSWORD,
      });
      expect(res.statusCode).toBe(401);
    }
    const throttled = await browser.post("/invitation", {
      email: "cy@example.com",
      code: codeOf(mail),
      password: NEW_PASSWORD,
    });
    expectPage(throttled, 429, "Too many wrong codes. You can try again in 1 second.");
    expect(throttled.headers["retry-after"]).toBe("1");
  });

  it("two browsers racing with one code: exactly one is signed in", async () => {
    const { mail } = await invite("dee@example.com");
    const browsers = [new PageClient(t), new PageClient(t), new PageClient(t)];
    for (const browser of browsers) await browser.get(linkOf(mail));
    const answers = await Promise.all(
      browsers.map((browser, i) =>
        browser.post("/invitation", { email: "dee@example.com", code: codeOf(mail), password: `Racer${i}Password` }),
      ),
    );
    expect(answers.map((res) => res.statusCode).sort()).toEqual([303, 401, 401]);
    expect(browsers.filter((browser) => browser.cookies.has("latchkey_session"))).toHaveLength(1);
    const winner = answers.findIndex((res) => res.statusCode === 303);
    expect(await passwordWorks("dee@example.com", `Racer${winner}Password`)).toBe(true);
  });

  it("answers bad input with a 400 page, changing nothing; a link with junk fills nothing in", async () => {
    const { mail } = await invite("eve@example.com");
    const code = codeOf(mail);
    const browser = new PageClient(t);
    const junk = await browser.get(
      `/invitation?email=${encodeURIComponent("eve@example.com\r\nBcc: x@evil.example")}&code=12ab56`,
    );
    expectPage(junk, 200, "Choose your password");
    expect(junk.body).not.toMatch(/<input id="email"[^>]* value=/);
    expect(junk.body).not.toMatch(/<input id="code"[^>]* value=/);
    const before = await snapshot(t);
    const cases: [Record<string, string>, number, string][] = [
      [{ email: "eve.example.com", code, password: NEW_PASSWORD }, 400, "Enter a valid email address"],
      [{ email: "eve@example.com\r\nBcc: x@evil.example", code, password: NEW_PASSWORD }, 400, "Enter a valid email"],
      [{ email: "eve@example.com", code: "12345", password: NEW_PASSWORD }, 400, "Enter the 6-digit code"],
      [{ email: "eve@example.com", code: "12345a", password: NEW_PASSWORD }, 400, "Enter the 6-digit code"],
      [{ email: "eve@example.com", code }, 400, "Something in the form was missing or too long"],
      [{ email: `${"e".repeat(300)}@example.com`, code, password: NEW_PASSWORD }, 400, "missing or too long"],
      [{ email: "eve@example.com", code, password: "A1a".repeat(400) }, 400, "missing or too long"],
    ];
    for (const [fields, status, text] of cases) {
      await browser.get("/invitation");
      expectPage(await browser.post("/invitation", fields), status, text);
    }
    await browser.get("/invitation");
    const forged = await browser.post("/invitation", {
      _csrf: "",
      email: "eve@example.com",
      code,
      password: NEW_PASSWORD,
    });
    expect(forged.statusCode).toBe(403);
    expect(await snapshot(t)).toBe(before);
    expect(smtp.pending()).toEqual([]);
  });
});
