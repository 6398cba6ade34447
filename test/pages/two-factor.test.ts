import { Secret, TOTP } from "otpauth";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type MailApp, startMailApp } from "../mail-flows/fixture.js";
import { type TestApp, testDialects } from "../support/harness.js";
import { PASSWORD } from "../support/http.js";
import { expectPage, PageClient, textOf } from "../support/pages.js";
import { codeOf } from "../support/smtp.js";
import { authenticatorFrom, codeAt, enrolTotp, wrongCodeAt } from "../two-factor/support.js";

const EMAIL = "alice@example.com";

/** Signs the browser in with the password, and with a TOTP code when the account asks for one. */
async function signIn(t: TestApp, browser: PageClient, totp?: TOTP): Promise<void> {
  await browser.get("/login");
  const first = await browser.post("/login", { email: EMAIL, password: PASSWORD });
  if (first.headers.location === "/login/second-factor") {
    if (!totp) throw new Error("the account asks for a second factor");
    await browser.get("/login/second-factor");
    const second = await browser.post("/login/second-factor", { method: "totp", code: codeAt(totp, t.clock.now()) });
    expect(second.statusCode).toBe(303);
  } else {
    expect(first.headers.location).toBe("/account");
  }
}

/** The key the setup page shows, as the text a person would type into an app (groups joined). */
function keyOf(html: string): string {
  const match = /<p class="secret key" id="totp-key"[^>]*>([\s\S]*?)<\/p>/.exec(html);
  if (!match?.[1]) throw new Error("no key on the page");
  return textOf(match[1]).replace(/\s/g, "");
}

/** The first group of `pattern` in `html`, as the browser reads the attribute (entities decoded). */
function attribute(pattern: RegExp, html: string): string {
  const value = pattern.exec(html)?.[1];
  if (value === undefined) throw new Error(`nothing matches ${pattern}`);
  return value
    .replace(/&#x3D;/g, "=")
    .replace(/&#x27;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&");
}

/** The authenticator app a person sets up by typing the key from the page. */
function appFromKey(key: string): TOTP {
  return new TOTP({ secret: Secret.fromBase32(key), algorithm: "SHA1", digits: 6, period: 30 });
}

/** The recovery codes listed on a page, as shown (grouped with dashes). */
function codesOn(html: string): string[] {
  const list = /<ul class="codes" id="recovery-codes"[^>]*>([\s\S]*?)<\/ul>/.exec(html)?.[1] ?? "";
  return [...list.matchAll(/<li>([^<]+)<\/li>/g)].map((m) => m[1] ?? "");
}

async function twoFactorOf(t: TestApp, userId: number) {
  return t.deps.store.twoFactor(userId);
}

/** Sets up the authenticator app on the pages and turns it on; returns the app and the codes page. */
async function enrolOnPages(t: TestApp, browser: PageClient) {
  await browser.visit("/account/two-factor/totp");
  const setup = await browser.post("/account/two-factor/totp/setup");
  expectPage(setup, 200, "Scan this code with your authenticator app.");
  const app = appFromKey(keyOf(setup.body));
  const enabled = await browser.post("/account/two-factor/totp/enable", { code: codeAt(app, t.clock.now()) });
  expectPage(enabled, 200, "Save these codes now");
  // The enabling code's step is spent; the next step gives a fresh code.
  t.clock.advanceSeconds(30);
  return { app, codes: codesOn(enabled.body), page: enabled };
}

describe.each(testDialects())("two-factor pages ($name)", (dialect) => {
  let mail: MailApp;
  let t: TestApp;
  beforeEach(async () => {
    mail = await startMailApp(dialect);
    t = mail.t;
  });
  afterEach(async () => mail.close());

  it("sends a browser that is not signed in to the sign-in page, and refuses its forms with a page", async () => {
    const browser = new PageClient(t);
    for (const path of ["/account/two-factor", "/account/two-factor/totp", "/account/two-factor/email"]) {
      const res = await browser.get(path);
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe("/login");
    }
    await browser.get("/login");
    expectPage(await browser.post("/account/two-factor/totp/setup"), 401, "Your session has ended.");
  });

  it("enrols the authenticator app: QR code as inline SVG, the key in fours, a wrong code refused, then the recovery codes once", async () => {
    const userId = await t.createUser(EMAIL);
    const browser = new PageClient(t);
    await signIn(t, browser);
    const overview = await browser.visit("/account/two-factor");
    expectPage(overview, 200, "Two-step verification is off.");

    const intro = await browser.visit("/account/two-factor/totp");
    expectPage(intro, 200, "Show the QR code");
    const setup = await browser.post("/account/two-factor/totp/setup");
    expectPage(setup, 200, "Scan this code with your authenticator app.");

    // The QR code: server-made SVG, named, with no inline style (the CSP forbids it).
    const svg = /<svg[\s\S]*?<\/svg>/.exec(setup.body)?.[0] ?? "";
    expect(svg).toMatch(/^<svg role="img" aria-label="QR code to add this account to an authenticator app"/);
    expect(svg).not.toMatch(/\sstyle=/);
    expect(setup.body).not.toMatch(/<script>|\son\w+=/);
    // The key: in groups of four, and the same secret as the otpauth link of the page.
    const groups = [...(/id="totp-key"[^>]*>(.*?)<\/p>/.exec(setup.body)?.[1] ?? "").matchAll(/<span>(\w+)<\/span>/g)];
    expect(groups.length).toBeGreaterThan(4);
    for (const group of groups.slice(0, -1)) expect(group[1]).toHaveLength(4);
    const key = keyOf(setup.body);
    const link = /href="(otpauth:[^"]+)"/
      .exec(setup.body)?.[1]
      ?.replace(/&#x3D;/g, "=")
      .replace(/&amp;/g, "&");
    expect(authenticatorFrom(link ?? "").secret.base32).toBe(key);
    expect(link).toContain("alice%40example.com");
    // The secret is nowhere in a URL the browser was sent to.
    expect(setup.headers.location).toBeUndefined();
    expect(setup.body).toContain('autocomplete="one-time-code"');

    const app = appFromKey(key);
    const wrong = await browser.post("/account/two-factor/totp/enable", { code: wrongCodeAt(app, t.clock.now()) });
    expectPage(wrong, 401, "That code is not correct");
    expect(codesOn(wrong.body)).toEqual([]);
    // The same pending secret is shown again, so the user can scan it if the app did not take it.
    expect(wrong.body).toMatch(/<svg role="img"/);
    expect(keyOf(wrong.body)).toBe(key);
    let record = await twoFactorOf(t, userId);
    expect(record.totp?.enabledAt ?? null).toBeNull();
    expect(record.recoveryCodes).toBeUndefined();

    const right = await browser.post("/account/two-factor/totp/enable", { code: codeAt(app, t.clock.now()) });
    expectPage(right, 200, "Save these codes now: this is the only time they are shown.");
    expectPage(right, 200, "The authenticator app is on.");
    const codes = codesOn(right.body);
    expect(codes).toHaveLength(10);
    for (const code of codes) expect(code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    // A download that works without script, and a print button that needs it.
    const href = attribute(/<a class="button secondary" download="recovery-codes.txt" href="([^"]+)"/, right.body);
    expect(href.startsWith("data:text/plain;charset=utf-8,")).toBe(true);
    const file = decodeURIComponent(href.slice("data:text/plain;charset=utf-8,".length));
    for (const code of codes) expect(file).toContain(code);
    expect(file).toContain("Recovery codes for alice@example.com");
    expect(right.body).toMatch(/<button type="button" class="secondary" data-print hidden data-needs-script>/);
    record = await twoFactorOf(t, userId);
    expect(record.totp?.enabledAt).not.toBeNull();
    expect(record.recoveryCodes?.remaining).toBe(10);

    // Shown once: sending the form again, or coming back, shows no codes.
    const again = await browser.post("/account/two-factor/totp/enable", { code: codeAt(app, t.clock.now()) });
    expectPage(again, 409, "There is no setup waiting for a code");
    expect(codesOn(again.body)).toEqual([]);
    const back = await browser.visit("/account/two-factor");
    expectPage(back, 200, "Two-step verification is on");
    expectPage(back, 200, "Unused codes: 10 of 10.");
    expect(codesOn(back.body)).toEqual([]);
    for (const code of codes) expect(back.body).not.toContain(code);
  });

  it("turns the app on once when the same code is sent twice at the same moment: one page has the codes", async () => {
    const userId = await t.createUser(EMAIL);
    const browser = new PageClient(t);
    await signIn(t, browser);
    await browser.visit("/account/two-factor/totp");
    const setup = await browser.post("/account/two-factor/totp/setup");
    const code = codeAt(appFromKey(keyOf(setup.body)), t.clock.now());
    const answers = await Promise.all([
      browser.post("/account/two-factor/totp/enable", { code }),
      browser.post("/account/two-factor/totp/enable", { code }),
    ]);
    const withCodes = answers.filter((res) => codesOn(res.body).length === 10);
    expect(withCodes).toHaveLength(1);
    const other = answers.find((res) => !withCodes.includes(res));
    expect([401, 409]).toContain(other?.statusCode);
    expect(codesOn(other?.body ?? "")).toEqual([]);
    expect((await twoFactorOf(t, userId)).recoveryCodes?.remaining).toBe(10);
  });

  it("with 2FA on, turning the app off goes through /reauth and comes back; the last method off turns 2FA off", async () => {
    const userId = await t.createUser(EMAIL);
    const browser = new PageClient(t);
    await signIn(t, browser);
    const { app } = await enrolOnPages(t, browser);
    // The session signed in with a password alone: no second factor checked, no sudo token.
    expect(browser.cookies.has("latchkey_sudo")).toBe(false);

    const overview = await browser.visit("/account/two-factor");
    expect(overview.body).toContain('href="/account/two-factor/totp/off"');
    // Without the sudo token: a POST changes nothing and goes to /reauth; so does the confirm page.
    await browser.post("/account/two-factor/totp/off").then((res) => {
      expect(res.statusCode).toBe(303);
      expect(String(res.headers.location)).toMatch(/^\/reauth\?next=/);
    });
    expect((await twoFactorOf(t, userId)).totp?.enabledAt).not.toBeNull();
    const off = await browser.get("/account/two-factor/totp/off");
    expect(off.statusCode).toBe(303);
    expect(off.headers.location).toBe(`/reauth?next=${encodeURIComponent("/account/two-factor/totp/off")}`);
    // Setting the app up again also wants it, once 2FA is on.
    const again = await browser.get("/account/two-factor/totp");
    expect(again.headers.location).toBe(`/reauth?next=${encodeURIComponent("/account/two-factor/totp")}`);

    const reauth = await browser.visit(String(off.headers.location));
    expectPage(reauth, 200, "Enter the 6-digit code from your authenticator app.");
    const checked = await browser.post("/reauth", {
      method: "totp",
      code: codeAt(app, t.clock.now()),
      next: "/account/two-factor/totp/off",
    });
    expect(checked.statusCode).toBe(303);
    expect(checked.headers.location).toBe("/account/two-factor/totp/off");
    const confirm = await browser.visit("/account/two-factor/totp/off");
    expectPage(confirm, 200, "Codes from your authenticator app will no longer be accepted.");
    expectPage(confirm, 200, "This is your last method");

    const done = await browser.submit("/account/two-factor/totp/off");
    expectPage(done, 200, "Two-step verification is off: no method is left, and your recovery codes were deleted.");
    const record = await twoFactorOf(t, userId);
    expect(record.totp?.enabledAt ?? null).toBeNull();
    expect(record.recoveryCodes).toBeUndefined();
    // The notice mail of the change went to the account's address.
    const notice = await mail.smtp.next();
    expect(notice.to).toEqual([EMAIL]);

    // Sending the form again (another tab): already off, back to the overview, nothing breaks.
    await browser.get("/account/two-factor");
    const repeat = await browser.post("/account/two-factor/totp/off");
    expect(repeat.statusCode).toBe(303);
  });

  it("enrols codes by email to the account's address: the mailed code turns it on; a wrong one and a quick resend are refused", async () => {
    const userId = await t.createUser(EMAIL);
    const browser = new PageClient(t, { "accept-language": "de-DE,de;q=0.9" });
    await signIn(t, browser);
    const page = await browser.visit("/account/two-factor/email");
    expectPage(page, 200, "Wir senden einen 6-stelligen Code an alice@example.com.");
    expect(page.body).not.toContain('name="code"');

    const sent = await browser.submit("/account/two-factor/email/setup");
    expectPage(sent, 200, "Ein Code ist unterwegs an alice@example.com.");
    expectPage(sent, 200, "Ein neuer Code kann in");
    expect(sent.body).toContain('autocomplete="one-time-code"');
    const message = await mail.smtp.next();
    expect(message.to).toEqual([EMAIL]);
    const code = codeOf(message);

    // The resend rule: a second mail at once is refused, with the wait in words.
    const resend = await browser.post("/account/two-factor/email/setup");
    expectPage(resend, 429, "Sie können es in");
    expect(resend.headers["retry-after"]).toBeDefined();
    expect(mail.smtp.pending()).toEqual([]);

    const wrong = await browser.post("/account/two-factor/email/enable", {
      code: code === "000000" ? "111111" : "000000",
    });
    expectPage(wrong, 401, "Dieser Code ist falsch oder abgelaufen.");
    expect((await twoFactorOf(t, userId)).emailOtp?.enabledAt ?? null).toBeNull();

    const right = await browser.post("/account/two-factor/email/enable", { code });
    expectPage(right, 200, "Speichern Sie diese Codes jetzt");
    expectPage(right, 200, "Codes per E-Mail sind eingeschaltet.");
    expect(codesOn(right.body)).toHaveLength(10);
    const record = await twoFactorOf(t, userId);
    expect(record.emailOtp?.email).toBe(EMAIL);
    expect(record.emailOtp?.enabledAt).not.toBeNull();
    expectPage(await browser.visit("/account/two-factor"), 200, "Die Codes gehen an alice@example.com.");
  });

  it("with 2FA on, a wrong code shows the pending key again only while the sudo token lasts", async () => {
    await t.createUser(EMAIL);
    const browser = new PageClient(t);
    await signIn(t, browser);
    const { app } = await enrolOnPages(t, browser);
    t.clock.advanceSeconds(30);
    // Replacing the app: /reauth first, then a new secret is pending.
    await browser.get("/reauth?next=/account/two-factor/totp");
    await browser.post("/reauth", {
      method: "totp",
      code: codeAt(app, t.clock.now()),
      next: "/account/two-factor/totp",
    });
    await browser.visit("/account/two-factor/totp");
    const setup = await browser.post("/account/two-factor/totp/setup");
    const key = keyOf(setup.body);
    const pending = appFromKey(key);
    const wrong = await browser.post("/account/two-factor/totp/enable", { code: wrongCodeAt(pending, t.clock.now()) });
    expectPage(wrong, 401, "That code is not correct");
    expect(keyOf(wrong.body)).toBe(key);
    // Past the sudo token's lifetime the access token alone may confirm, but not read the secret back.
    t.clock.advanceSeconds(t.config.tokens.sudoTtlSeconds + 1);
    const late = await browser.post("/account/two-factor/totp/enable", { code: wrongCodeAt(pending, t.clock.now()) });
    expectPage(late, 401, "That code is not correct");
    expect(late.body).not.toContain(`${key.slice(0, 4)}</span>`);
    expect(late.body).not.toMatch(/<svg|otpauth:/);
  });

  it("a second method goes on without new codes; turning one of two off keeps 2FA on", async () => {
    const { userId, totp } = await enrolTotp(t, EMAIL);
    const browser = new PageClient(t);
    // Signing in with the app checks a second factor: the session has the sudo token for a while.
    await signIn(t, browser, totp);
    expect(browser.cookies.has("latchkey_sudo")).toBe(true);
    await browser.visit("/account/two-factor/email");
    await browser.submit("/account/two-factor/email/setup");
    const code = codeOf(await mail.smtp.next());
    const on = await browser.post("/account/two-factor/email/enable", { code });
    expect(on.statusCode).toBe(303);
    expect(on.headers.location).toBe("/account/two-factor?done=email-on");
    const overview = await browser.visit(String(on.headers.location));
    expectPage(overview, 200, "Codes by email are on.");
    expect(codesOn(overview.body)).toEqual([]);

    const confirm = await browser.visit("/account/two-factor/email/off");
    expectPage(confirm, 200, "Codes sent to alice@example.com will no longer be accepted.");
    expect(textOf(confirm.body)).not.toContain("This is your last method");
    const off = await browser.submit("/account/two-factor/email/off");
    expectPage(off, 200, "Codes by email are off.");
    const record = await twoFactorOf(t, userId);
    expect(record.emailOtp?.enabledAt ?? null).toBeNull();
    expect(record.totp?.enabledAt).not.toBeNull();
    expect(record.recoveryCodes?.remaining).toBe(10);
  });

  it("makes new recovery codes, shown once: an old code then fails at sign-in, a new one works", async () => {
    const { userId, totp, recoveryCodes: old } = await enrolTotp(t, EMAIL);
    const browser = new PageClient(t);
    await signIn(t, browser, totp);
    const confirm = await browser.visit("/account/two-factor/recovery-codes");
    expectPage(confirm, 200, "all your current codes stop working immediately (unused now: 10)");
    const made = await browser.post("/account/two-factor/recovery-codes");
    expectPage(made, 200, "You have new recovery codes. The old ones no longer work.");
    const fresh = codesOn(made.body);
    expect(fresh).toHaveLength(10);
    for (const code of old) expect(fresh.map((c) => c.replaceAll("-", ""))).not.toContain(code);
    expect(codesOn((await browser.visit("/account/two-factor")).body)).toEqual([]);
    expect((await twoFactorOf(t, userId)).recoveryCodes?.remaining).toBe(10);

    // Sign out, then in again with an old code (refused) and with a new one.
    await browser.post("/logout");
    await browser.get("/login");
    await browser.post("/login", { email: EMAIL, password: PASSWORD });
    await browser.get("/login/second-factor?method=recovery");
    const refused = await browser.post("/login/second-factor", { method: "recovery", code: old[0] ?? "" });
    expectPage(refused, 401, "That recovery code is not correct");
    const accepted = await browser.post("/login/second-factor", { method: "recovery", code: fresh[0] ?? "" });
    expect(accepted.statusCode).toBe(303);
    expect(accepted.headers.location).toBe("/account");
  });

  it("new recovery codes need the second factor just checked; without it the browser goes to /reauth", async () => {
    const { userId, totp } = await enrolTotp(t, EMAIL);
    const browser = new PageClient(t);
    await signIn(t, browser, totp);
    // The sudo token lasts minutes; later the change asks for the second factor again.
    t.clock.advanceSeconds(10 * 60);
    const before = await t.deps.store.twoFactor(userId);
    await browser.visit("/account/two-factor");
    const res = await browser.post("/account/two-factor/recovery-codes");
    expect(res.statusCode).toBe(303);
    expect(String(res.headers.location)).toMatch(/^\/reauth\?next=/);
    expect(codesOn(res.body)).toEqual([]);
    expect((await t.deps.store.twoFactor(userId)).recoveryCodes).toEqual(before.recoveryCodes);
  });

  it("answers a missing or oversized code with a 400 page, changing nothing", async () => {
    const userId = await t.createUser(EMAIL);
    const browser = new PageClient(t);
    await signIn(t, browser);
    await browser.visit("/account/two-factor/totp");
    await browser.post("/account/two-factor/totp/setup");
    for (const [url, fields] of [
      ["/account/two-factor/totp/enable", {}],
      ["/account/two-factor/totp/enable", { code: "1".repeat(65) }],
      ["/account/two-factor/email/enable", {}],
      ["/account/two-factor/email/enable", { code: "1".repeat(65) }],
    ] as const) {
      await browser.visit("/account/two-factor");
      const res = await browser.post(url, fields);
      expectPage(res, 400, "Something in the form was missing or too long.");
    }
    const record = await twoFactorOf(t, userId);
    expect(record.totp?.enabledAt ?? null).toBeNull();
    expect(record.recoveryCodes).toBeUndefined();
  });

  it("shows the overview in each language", async () => {
    const { totp } = await enrolTotp(t, EMAIL);
    const browser = new PageClient(t);
    const expected = {
      en: "Unused codes: 10 of 10.",
      nl: "Ongebruikte codes: 10 van 10.",
      fr: "Codes inutilisés : 10 sur 10.",
      de: "Unbenutzte Codes: 10 von 10.",
    };
    await signIn(t, browser, totp);
    for (const [lang, text] of Object.entries(expected)) {
      expectPage(await browser.visit(`/account/two-factor?lang=${lang}`), 200, text);
    }
  });
});
