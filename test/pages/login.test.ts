import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LightMyRequestResponse } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/core/errors.js";
import { DEFAULT_MAIL_DIR } from "../../src/mail/index.js";
import { type MailApp, otherThan, startMailApp } from "../mail-flows/fixture.js";
import { createTestApp, type TestApp, tempDir, testDialects } from "../support/harness.js";
import { call, expectNoContent, get, PASSWORD, signIn } from "../support/http.js";
import { expectPage, PageClient, textOf } from "../support/pages.js";
import { codeOf, type SmtpSink } from "../support/smtp.js";
import { codeAt, enrolTotp, wrongCodeAt } from "../two-factor/support.js";

const RETURN_URL = "https://app.example.com/after-login";

/** An origin with a look of its own, next to the shipped one. */
const ACME = {
  from: "hello@acme.example",
  fromName: "Acme Shop",
  defaultLanguage: "en",
  brand: {
    name: "Acme",
    logoUrl: "https://cdn.acme.example/logo.svg",
    accentColor: "#7A1F5C",
    backgroundColor: "#FBF7F2",
  },
};

/** A mail directory with the shipped origin and "acme" (the same templates, its own origin.json). */
function brandedMailDir(): string {
  const dir = tempDir("latchkey-pages-mail-");
  cpSync(join(DEFAULT_MAIL_DIR, "default"), join(dir, "default"), { recursive: true });
  cpSync(join(DEFAULT_MAIL_DIR, "default"), join(dir, "acme"), { recursive: true });
  writeFileSync(join(dir, "acme", "origin.json"), JSON.stringify(ACME));
  return dir;
}

/** The password step of /login, as a browser submits it. */
async function passwordStep(browser: PageClient, email = "alice@example.com", path = "/login") {
  await browser.get(path);
  return browser.post("/login", { email, password: PASSWORD });
}

/** The Set-Cookie line that sets `name`, if the answer has one. */
function setCookie(res: LightMyRequestResponse, name: string): string | undefined {
  return ([] as string[]).concat(res.headers["set-cookie"] ?? []).find((line) => line.startsWith(`${name}=`));
}

/** The switcher's links of a page: language code → href. */
function languageLinks(html: string): Record<string, string> {
  const links: Record<string, string> = {};
  for (const match of html.matchAll(/<a href="([^"]+)" hreflang="([a-z]{2})"/g)) {
    links[match[2] ?? ""] = (match[1] ?? "").replaceAll("&#x3D;", "=").replaceAll("&amp;", "&");
  }
  return links;
}

describe.each(testDialects())("login pages ($name)", (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect, { env: { LATCHKEY_RETURN_URLS: RETURN_URL } });
  });
  afterEach(async () => t.close());

  it("signs in without a second factor and lands on the account page; the session cookie is HttpOnly, Secure, Lax", async () => {
    await t.createUser("alice@example.com");
    const browser = new PageClient(t);
    await browser.get("/login");
    const res = await browser.post("/login", { email: "alice@example.com", password: PASSWORD });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe("/account");
    const cookie = ([] as string[])
      .concat(res.headers["set-cookie"] ?? [])
      .find((c) => c.startsWith("latchkey_session="));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Secure/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Path=\//);
  });

  it("answers a wrong password and an unknown account with the same page", async () => {
    await t.createUser("alice@example.com");
    const browser = new PageClient(t);
    await browser.get("/login");
    const wrong = await browser.post("/login", { email: "alice@example.com", password: "Wrong1Password" });
    await browser.get("/login");
    const unknown = await browser.post("/login", { email: "nobody@example.com", password: "Wrong1Password" });
    expectPage(wrong, 401, "The email address or password is not correct.");
    expectPage(unknown, 401, "The email address or password is not correct.");
    const strip = (html: string) => textOf(html).replace(/alice@example\.com|nobody@example\.com/g, "");
    expect(strip(wrong.body)).toBe(strip(unknown.body));
    expect(browser.cookies.has("latchkey_session")).toBe(false);
  });

  it("goes through the second factor with a TOTP code, refusing a wrong one first, then returns to an allowed URL", async () => {
    const { totp } = await enrolTotp(t);
    const browser = new PageClient(t);
    await browser.get(`/login?return_to=${encodeURIComponent(RETURN_URL)}`);
    const first = await browser.post("/login", { email: "alice@example.com", password: PASSWORD });
    expect(first.headers.location).toBe("/login/second-factor");
    expect(browser.cookies.has("latchkey_session")).toBe(false);
    const step = await browser.visit("/login/second-factor");
    expectPage(step, 200, "Enter the 6-digit code from your authenticator app.");
    expect(step.body).toContain('autocomplete="one-time-code"');
    const wrong = await browser.post("/login/second-factor", {
      method: "totp",
      code: wrongCodeAt(totp, t.clock.now()),
    });
    expectPage(wrong, 401, "That code is not correct");
    const right = await browser.post("/login/second-factor", { method: "totp", code: codeAt(totp, t.clock.now()) });
    expect(right.statusCode).toBe(303);
    expect(right.headers.location).toBe(RETURN_URL);
    expect(browser.cookies.has("latchkey_session")).toBe(true);
    expect(browser.cookies.has("latchkey_sudo")).toBe(true);
    expect(browser.cookies.has("latchkey_partial")).toBe(false);
  });

  it("refuses a return URL that is not on the allow-list, changing nothing", async () => {
    const browser = new PageClient(t);
    for (const url of ["https://evil.example.com/", `${RETURN_URL}/more`, "//evil.example.com", "/account"]) {
      const res = await browser.get(`/login?return_to=${encodeURIComponent(url)}`);
      expectPage(res, 400, "The address to return to after signing in is not allowed.");
    }
    expect(browser.cookies.has("latchkey_return")).toBe(false);
  });

  it("refuses a form without the CSRF token, or with another browser's, and signs nobody in", async () => {
    await t.createUser("alice@example.com");
    const browser = new PageClient(t);
    await browser.get("/login");
    const missing = await browser.post("/login", { _csrf: "", email: "alice@example.com", password: PASSWORD });
    expectPage(missing, 403, "This form has expired or did not come from this site.");
    const other = new PageClient(t);
    await other.get("/login");
    const foreign = await browser.post("/login", {
      _csrf: other.csrf(),
      email: "alice@example.com",
      password: PASSWORD,
    });
    expectPage(foreign, 403, "This form has expired or did not come from this site.");
    expect(browser.cookies.has("latchkey_session")).toBe(false);
  });

  it("answers a missing or oversized field with a page in the reader's language", async () => {
    const browser = new PageClient(t, { "accept-language": "nl-NL,nl;q=0.9,en;q=0.5" });
    await browser.get("/login");
    const missing = await browser.post("/login", { email: "alice@example.com" });
    expectPage(missing, 400, "Er ontbrak iets in het formulier of iets was te lang.");
    await browser.get("/login");
    const long = await browser.post("/login", { email: "a".repeat(300), password: PASSWORD });
    expectPage(long, 400, "Er ontbrak iets in het formulier of iets was te lang.");
  });

  it("signs out: the session ends for the API as well, and the cookies are cleared", async () => {
    await t.createUser("alice@example.com");
    const browser = new PageClient(t);
    await browser.get("/login");
    await browser.post("/login", { email: "alice@example.com", password: PASSWORD });
    const refresh = browser.cookies.get("latchkey_session") ?? "";
    expect(refresh).not.toBe("");
    // The form of the sign-out button carries the same browser's token as the sign-in form did.
    const out = await browser.post("/logout");
    expect(out.headers.location).toBe("/login?done=signed-out");
    expect(browser.cookies.has("latchkey_session")).toBe(false);
    const validate = await t.app.inject({
      method: "GET",
      url: "/auth/refreshtoken/validate",
      headers: { authorization: `Bearer ${refresh}` },
    });
    expect(validate.json().message).toBe("TOKEN_REVOKED");
  });

  it("ignores a ?done= word it does not know, names of the object prototype included", async () => {
    await t.createUser("alice@example.com");
    const browser = new PageClient(t);
    for (const word of ["constructor", "__proto__", "toString", "hasOwnProperty", "nonsense"]) {
      const res = await browser.get(`/login?done=${word}`);
      expect(res.statusCode).toBe(200);
      expect(res.body).not.toMatch(/class="alert/);
    }
    await browser.post("/login", { email: "alice@example.com", password: PASSWORD });
    for (const path of [
      "/account",
      "/account/two-factor",
      "/account/sessions",
      "/account/password",
      "/account/email",
    ]) {
      const res = await browser.get(`${path}?done=constructor`);
      expect(res.statusCode, path).toBe(200);
    }
  });

  it("shows the 404 page to browsers and the envelope to API clients", async () => {
    const browser = new PageClient(t, { "accept-language": "fr" });
    expectPage(await browser.get("/no/such/page"), 404, "Il n’y a pas de page à cette adresse.");
    const api = await t.app.inject({ method: "GET", url: "/no/such/page" });
    expect(api.json()).toEqual({ statusCode: 404, error: "Not Found", message: "ROUTE_NOT_FOUND" });
  });
});

describe.each(testDialects())("second factor on the pages ($name)", (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect);
  });
  afterEach(async () => t.close());

  it("offers another way only for the methods the account has, and falls back from one it has not", async () => {
    await enrolTotp(t);
    const browser = new PageClient(t);
    await passwordStep(browser);
    const step = await browser.visit("/login/second-factor");
    expectPage(step, 200, "Try another way");
    expect(step.body).toContain('href="/login/second-factor?method&#x3D;recovery"');
    expect(step.body).not.toContain("method&#x3D;email");
    expect(step.body).not.toContain("Email me a code");
    // Asking for the mailed code of an account without it shows the authenticator form.
    const email = await browser.get("/login/second-factor?method=email");
    expectPage(email, 200, "Enter the 6-digit code from your authenticator app.");
    expect(email.body).toContain('name="method" value="totp"');
    const recovery = await browser.get("/login/second-factor?method=recovery");
    expectPage(recovery, 200, "Enter one of the recovery codes you saved.");
    expect(recovery.body).toContain('href="/login/second-factor?method&#x3D;totp"');
    expect(recovery.body).not.toContain("method&#x3D;email");
  });

  it("signs in with a recovery code after a wrong one; the code works once", async () => {
    const { recoveryCodes } = await enrolTotp(t);
    const code = recoveryCodes[0] ?? "";
    const browser = new PageClient(t);
    await passwordStep(browser);
    const step = await browser.visit("/login/second-factor?method=recovery");
    expect(step.body).toContain('name="method" value="recovery"');
    expect(step.body).toContain('autocomplete="off"');
    const wrong = await browser.post("/login/second-factor", {
      method: "recovery",
      // Recovery codes are read case-blind: the first character changes to another letter.
      code: code.replace(/./, (c) => (c.toUpperCase() === "A" ? "B" : "A")),
    });
    expectPage(wrong, 401, "That recovery code is not correct, or it was already used.");
    expect(wrong.body).toContain('name="method" value="recovery"');
    expect(browser.cookies.has("latchkey_session")).toBe(false);
    const right = await browser.post("/login/second-factor", { method: "recovery", code: ` ${code} ` });
    expect(right.statusCode).toBe(303);
    expect(right.headers.location).toBe("/account");
    expect(browser.cookies.has("latchkey_session")).toBe(true);
    expect(browser.cookies.has("latchkey_partial")).toBe(false);

    const again = new PageClient(t);
    await passwordStep(again);
    await again.visit("/login/second-factor?method=recovery");
    expectPage(
      await again.post("/login/second-factor", { method: "recovery", code }),
      401,
      "That recovery code is not correct, or it was already used.",
    );
    expect(again.cookies.has("latchkey_session")).toBe(false);
  });

  it("lets one recovery code, sent from three sign-ins at once, sign in only one of them", async () => {
    const { recoveryCodes } = await enrolTotp(t);
    const browsers = [new PageClient(t), new PageClient(t), new PageClient(t)];
    for (const browser of browsers) {
      await passwordStep(browser);
      await browser.visit("/login/second-factor?method=recovery");
    }
    const answers = await Promise.all(
      browsers.map((browser) =>
        browser.post("/login/second-factor", { method: "recovery", code: recoveryCodes[1] ?? "" }),
      ),
    );
    expect(answers.map((res) => res.statusCode).sort()).toEqual([303, 401, 401]);
    expect(browsers.filter((browser) => browser.cookies.has("latchkey_session"))).toHaveLength(1);
    for (const res of answers.filter((answer) => answer.statusCode === 401)) {
      expectPage(res, 401, "That recovery code is not correct, or it was already used.");
    }
  });

  it("throttles TOTP guesses: the page gives the wait of the next-guess rule and a Retry-After header", async () => {
    const { totp } = await enrolTotp(t);
    const browser = new PageClient(t);
    await passwordStep(browser);
    await browser.visit("/login/second-factor");
    const partial = browser.cookies.get("latchkey_partial") ?? "";
    const nextGuess = async () => (await get(t, "/user/2fa/totp/next-guess", partial)).json().duration as number;
    // Five free failures, then waits of 1, 2, 4 … s: waiting out each wait, seven failures leave 4 s.
    for (let failures = 1; failures <= 7; failures++) {
      t.clock.advanceSeconds(await nextGuess());
      const wrong = await browser.post("/login/second-factor", {
        method: "totp",
        code: wrongCodeAt(totp, t.clock.now()),
      });
      expectPage(wrong, 401, "That code is not correct");
    }
    const wait = await nextGuess();
    expect(wait).toBe(4);
    // Refused before the code is looked at: the right code does not pass either.
    const throttled = await browser.post("/login/second-factor", { method: "totp", code: codeAt(totp, t.clock.now()) });
    expectPage(throttled, 429, "Too many wrong codes. You can try again in 4 seconds.");
    // The refusal gives the wait; the page does not say it twice.
    expect(textOf(throttled.body)).not.toContain("Too many tries");
    expect(throttled.headers["retry-after"]).toBe(String(wait));
    expect(browser.cookies.has("latchkey_session")).toBe(false);
    // The page shows the wait when opened again, too.
    expectPage(await browser.get("/login/second-factor"), 200, "the next code can be checked in 4 seconds");

    t.clock.advanceSeconds(wait);
    const right = await browser.post("/login/second-factor", { method: "totp", code: codeAt(totp, t.clock.now()) });
    expect(right.statusCode).toBe(303);
    expect(browser.cookies.has("latchkey_session")).toBe(true);
  });

  it("sends a sign-in that took longer than the partial token's lifetime back to /login, signing nobody in", async () => {
    const { totp } = await enrolTotp(t);
    const browser = new PageClient(t);
    await passwordStep(browser);
    await browser.visit("/login/second-factor");
    t.clock.advanceSeconds(t.config.tokens.partialTtlSeconds + 1);
    const code = codeAt(totp, t.clock.now());
    const late = await browser.post("/login/second-factor", { method: "totp", code });
    expect(late.statusCode).toBe(303);
    expect(late.headers.location).toBe("/login?done=expired");
    expect(browser.cookies.has("latchkey_session")).toBe(false);
    const page = await browser.visit("/login/second-factor");
    expectPage(page, 200, "Signing in took too long. Please start again.");
    expect(page.body).toContain('action="/login"');
    // The code was not spent: a new sign-in takes it.
    await passwordStep(browser);
    await browser.visit("/login/second-factor");
    expect((await browser.post("/login/second-factor", { method: "totp", code })).statusCode).toBe(303);
  });
});

describe.each(testDialects())("page session and /reauth ($name)", (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect);
  });
  afterEach(async () => t.close());

  /** Signs in with TOTP; the sudo token of that check is then let run out. */
  async function signedInWithTotp(browser: PageClient) {
    const enrolled = await enrolTotp(t);
    await passwordStep(browser);
    await browser.visit("/login/second-factor");
    const done = await browser.post("/login/second-factor", {
      method: "totp",
      code: codeAt(enrolled.totp, t.clock.now()),
    });
    expect(done.statusCode).toBe(303);
    t.clock.advanceSeconds(t.config.tokens.sudoTtlSeconds + 1);
    return enrolled;
  }

  it("lets /reauth pass straight to next while the account has no second factor", async () => {
    await t.createUser("alice@example.com");
    const browser = new PageClient(t);
    await passwordStep(browser);
    const res = await browser.get("/reauth?next=%2Faccount%2Fpassword");
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe("/account/password");
  });

  it("asks for a code on /reauth while 2FA is on, then returns to next with a sudo token", async () => {
    const browser = new PageClient(t);
    const { totp } = await signedInWithTotp(browser);

    const ask = await browser.get("/reauth?next=%2Faccount%2Fsecurity");
    expectPage(ask, 200, "Confirm it is you before this change");
    expect(ask.body).toContain('<input type="hidden" name="next" value="/account/security">');
    expect(ask.body).toContain('href="/reauth?method&#x3D;recovery&amp;next&#x3D;%2Faccount%2Fsecurity"');
    const wrong = await browser.post("/reauth", {
      method: "totp",
      code: wrongCodeAt(totp, t.clock.now()),
      next: "/account/security",
    });
    expectPage(wrong, 401, "That code is not correct");
    expect(wrong.body).toContain('name="next" value="/account/security"');
    expect(setCookie(wrong, "latchkey_sudo") ?? "").not.toMatch(/^latchkey_sudo=[^;]/);
    const right = await browser.post("/reauth", {
      method: "totp",
      code: codeAt(totp, t.clock.now()),
      next: "/account/security",
    });
    expect(right.statusCode).toBe(303);
    expect(right.headers.location).toBe("/account/security");
    expect(setCookie(right, "latchkey_sudo")).toMatch(/HttpOnly; Secure; SameSite=Lax/);
    // With the sudo token fresh, /reauth passes straight on.
    expect((await browser.get("/reauth?next=%2Faccount%2Femail")).headers.location).toBe("/account/email");
  });

  const OFF_SITE = [
    "//evil.example",
    "https://evil.example",
    "/\\evil.example",
    "/%2F%2Fevil.example",
    "javascript:alert(1)",
  ];

  it("never lets next leave the server, with 2FA off (GET) or on (the form)", async () => {
    await t.createUser("bob@example.com");
    const plain = new PageClient(t);
    await passwordStep(plain, "bob@example.com");
    for (const next of OFF_SITE) {
      const res = await plain.get(`/reauth?next=${encodeURIComponent(next)}`);
      expect(res.statusCode, next).toBe(303);
      expect(res.headers.location, next).toBe("/account");
    }

    const browser = new PageClient(t);
    const { totp } = await signedInWithTotp(browser);
    const ask = await browser.get(`/reauth?next=${encodeURIComponent("//evil.example")}`);
    expect(ask.body).toContain('name="next" value="/account"');
    for (const next of OFF_SITE) {
      t.clock.advanceSeconds(t.config.tokens.sudoTtlSeconds + 30);
      await browser.get("/reauth");
      const res = await browser.post("/reauth", { method: "totp", code: codeAt(totp, t.clock.now()), next });
      expect(res.statusCode, next).toBe(303);
      expect(res.headers.location, next).toBe("/account");
    }
  });

  it("ends the page session with the refresh token's lifetime: GET goes to /login, a form gets a page and changes nothing", async () => {
    await t.createUser("alice@example.com");
    const browser = new PageClient(t);
    await passwordStep(browser);
    await browser.get("/login?lang=en");
    t.clock.advanceSeconds(t.config.tokens.refreshTtlSeconds + 1);
    for (const path of ["/", "/reauth?next=%2Faccount%2Fpassword"]) {
      const res = await browser.get(path);
      expect(res.statusCode, path).toBe(303);
      expect(res.headers.location, path).toBe("/login");
    }
    const form = await browser.post("/reauth", { method: "totp", code: "123456", next: "/account" });
    expectPage(form, 401, "Your session has ended. Please sign in again; nothing was changed.");
    expect(form.body).toContain('href="/login"');
    expect(browser.cookies.has("latchkey_session")).toBe(false);
    expectPage(await browser.visit("/login"), 200, "Email address");
  });

  it("ends the page session when the API revokes it: no code is checked and no sudo token is made", async () => {
    const browser = new PageClient(t);
    const { totp, userId } = await signedInWithTotp(browser);
    const ask = await browser.get("/reauth?next=%2Faccount");
    expectPage(ask, 200, "Confirm it is you before this change");
    const csrf = browser.csrf();
    expectNoContent(await call(t, "POST", "/auth/logout", browser.cookies.get("latchkey_session")));
    const eventsBefore = await t.db.selectFrom("audit_events").select("type").where("user_id", "=", userId).execute();
    const code = codeAt(totp, t.clock.now());
    const form = await browser.post("/reauth", { method: "totp", code, next: "/account" });
    expectPage(form, 401, "Your session has ended. Please sign in again; nothing was changed.");
    expect(setCookie(form, "latchkey_sudo") ?? "").not.toMatch(/^latchkey_sudo=[^;]/);
    const send = await browser.post("/reauth/send", { _csrf: csrf, next: "/account" });
    expectPage(send, 401, "Your session has ended.");
    const eventsAfter = await t.db.selectFrom("audit_events").select("type").where("user_id", "=", userId).execute();
    expect(eventsAfter).toEqual(eventsBefore);
    expect((await browser.get("/reauth?next=%2Faccount")).headers.location).toBe("/login");
    // The code's step is still unspent: the API takes it.
    const partial = (
      await call(t, "POST", "/auth/login", undefined, { username: "alice@example.com", password: PASSWORD })
    ).body;
    expect((await call(t, "POST", "/user/2fa/totp/authenticate", partial, { totp: code })).statusCode).toBe(200);
  });
});

describe.each(testDialects())("languages and looks of the pages ($name)", (dialect) => {
  let t: TestApp;
  let mailDir: string;
  beforeEach(async () => {
    mailDir = brandedMailDir();
    t = await createTestApp(dialect, { env: { LATCHKEY_MAIL_DIR: mailDir } });
  });
  afterEach(async () => {
    await t.close();
    rmSync(mailDir, { recursive: true, force: true });
  });

  it("switches to ?lang= and remembers it over Accept-Language", async () => {
    const browser = new PageClient(t, { "accept-language": "de-DE,de;q=0.9" });
    expectPage(await browser.get("/login"), 200, "E-Mail-Adresse");
    const french = await browser.get("/login?lang=fr");
    expectPage(french, 200, "Adresse e-mail");
    expect(french.body).toContain('<html lang="fr">');
    expect(setCookie(french, "latchkey_lang")).toMatch(
      /^latchkey_lang=fr; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    );
    const later = await browser.get("/login");
    expectPage(later, 200, "Connexion");
    expect(setCookie(later, "latchkey_lang")).toBeUndefined();
    // An unknown language changes nothing.
    expectPage(await browser.get("/login?lang=xx"), 200, "Adresse e-mail");
  });

  it("picks the first language of Accept-Language it speaks, else the origin's default", async () => {
    const cases: [string, string][] = [
      ["nl-BE,nl;q=0.9,en;q=0.5", "Wachtwoord"],
      ["es-ES, fr;q=0.4, de;q=0.6", "Passwort"],
      ["en-GB", "Password"],
      ["ja", "Password"],
      ["fr;q=0, nl", "Wachtwoord"],
    ];
    for (const [header, word] of cases) {
      const res = await new PageClient(t, { "accept-language": header }).get("/login");
      expectPage(res, 200, word);
    }
  });

  it("links each language of the switcher to the same page, marking the current one", async () => {
    await enrolTotp(t);
    const browser = new PageClient(t);
    await passwordStep(browser);
    const page = await browser.visit("/login/second-factor?method=recovery");
    expect(languageLinks(page.body)).toEqual({
      en: "/login/second-factor?method=recovery&lang=en",
      nl: "/login/second-factor?method=recovery&lang=nl",
      fr: "/login/second-factor?method=recovery&lang=fr",
      de: "/login/second-factor?method=recovery&lang=de",
    });
    expect(page.body).toMatch(/hreflang="en" lang="en" aria-current="true">English</);
    expect(page.body).not.toMatch(/hreflang="nl" lang="nl" aria-current/);
    const dutch = await browser.get(languageLinks(page.body).nl ?? "");
    expectPage(dutch, 200, "Voer een van de herstelcodes in die u hebt bewaard.");
    expect(dutch.body).toMatch(/hreflang="nl" lang="nl" aria-current="true">Nederlands</);
  });

  it("links the switcher of a page answered to a form to a page that can be opened", async () => {
    await enrolTotp(t);
    const browser = new PageClient(t);
    await passwordStep(browser);
    await browser.visit("/login/second-factor");
    // The account has no mailed codes: the send form's answer is a refusal rendered at /…/send.
    const refused = await browser.post("/login/second-factor/send");
    expect(refused.statusCode).toBe(409);
    for (const href of Object.values(languageLinks(refused.body))) {
      expect(href).toMatch(/^\/login\/second-factor\?lang=[a-z]{2}$/);
      expect((await browser.get(href)).statusCode).toBe(200);
    }
  });

  it("shows an origin's name, logo and colours after ?origin=, and remembers it", async () => {
    const browser = new PageClient(t);
    const plain = await browser.get("/login");
    expect(plain.body).toContain('<span class="brand-name">Latchkey</span>');
    expect(plain.body).not.toContain('class="logo"');
    expect(plain.body).toContain('href="/pages/brand/default.css"');
    const acme = await browser.get("/login?origin=acme");
    expect(acme.body).toContain('<span class="brand-name">Acme</span>');
    expect(acme.body).toContain('<img class="logo" src="https://cdn.acme.example/logo.svg" alt="">');
    expect(acme.body).toContain('href="/pages/brand/acme.css"');
    expect(acme.body).toContain("<title>Sign in · Acme</title>");
    expect(setCookie(acme, "latchkey_origin")).toMatch(/^latchkey_origin=acme; .*HttpOnly; Secure; SameSite=Lax$/);
    expect((await browser.get("/login")).body).toContain('<span class="brand-name">Acme</span>');
    // The policy lets the logo's host serve images, nothing else.
    expect(acme.headers["content-security-policy"]).toContain("img-src 'self' data: https://cdn.acme.example;");
    // An unknown origin changes nothing.
    expect((await browser.get("/login?origin=nope")).body).toContain('<span class="brand-name">Acme</span>');

    const css = await browser.get("/pages/brand/acme.css");
    expect(css.statusCode).toBe(200);
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");
    expect(css.body).toBe(":root{--accent:#7a1f5c;--background:#fbf7f2}\n");
    expect((await browser.get("/pages/brand/default.css")).body).toBe(":root{--accent:#1f5fbf;--background:#f3f5f8}\n");
    expectPage(await browser.get("/pages/brand/nope.css"), 404, "There is no page at this address.");
  });
});

describe.each(testDialects())("second factor by email on the pages ($name)", (dialect) => {
  let m: MailApp | undefined;
  let t: TestApp;
  let smtp: SmtpSink;
  let mailDir: string;
  beforeEach(async () => {
    mailDir = brandedMailDir();
    m = await startMailApp(dialect, { LATCHKEY_MAIL_DIR: mailDir });
    ({ t, smtp } = m);
  });
  afterEach(async () => {
    await m?.close();
    m = undefined;
    rmSync(mailDir, { recursive: true, force: true });
  });

  /** A user with email OTP on (set up through the API): the recovery codes it brought. */
  async function enrolEmailOtp(): Promise<string[]> {
    await t.createUser("alice@example.com");
    const session = await signIn(t, "alice@example.com");
    expectNoContent(
      await call(t, "POST", "/user/2fa/email-otp/setup", session.access, { email: "alice.2fa@example.com" }),
    );
    const enable = await call(t, "POST", "/user/2fa/email-otp/enable", session.access, {
      otp: codeOf(await smtp.next()),
    });
    expect(enable.statusCode).toBe(200);
    return enable.json().recoveryCodes;
  }

  it("mails the code from the send button in the page's language and origin, then signs in with it", async () => {
    await enrolEmailOtp();
    const browser = new PageClient(t);
    await passwordStep(browser, "alice@example.com", "/login?origin=acme&lang=fr");
    const step = await browser.visit("/login/second-factor");
    expectPage(step, 200, "Nous pouvons vous envoyer un code à 6 chiffres par e-mail : demandez-le");
    expect(step.body).toContain(">M’envoyer un code</button>");
    expect(step.body).toContain('action="/login/second-factor/send"');
    expect(step.body).toContain('href="/login/second-factor?method&#x3D;recovery"');
    expect(step.body).not.toContain("method&#x3D;totp");
    expect(smtp.pending()).toEqual([]);

    const sent = await browser.submit("/login/second-factor/send");
    expectPage(sent, 200, "Un code est en route vers votre adresse e-mail.");
    expectPage(sent, 200, "Un nouveau code pourra être envoyé dans 60 secondes.");
    expectPage(sent, 200, "Saisissez le code à 6 chiffres de l’e-mail que nous vous avons envoyé.");
    expect(sent.body).toContain(">M’envoyer un nouveau code</button>");
    const mail = await smtp.next();
    expect(mail.to).toEqual(["alice.2fa@example.com"]);
    expect(mail.subject).toBe("Votre code de connexion Acme Shop");
    expect(mail.parsed.from?.value[0]?.address).toBe("hello@acme.example");
    // The code travels in the mail and the form's body only, never in an address.
    expect(JSON.stringify(sent.headers)).not.toContain(codeOf(mail));

    const wrong = await browser.post("/login/second-factor", { method: "email", code: otherThan(codeOf(mail)) });
    expectPage(wrong, 401, "Ce code est incorrect ou a expiré.");
    expect(wrong.body).toContain('name="method" value="email"');
    const right = await browser.post("/login/second-factor", { method: "email", code: ` ${codeOf(mail)} ` });
    expect(right.statusCode).toBe(303);
    expect(right.headers.location).toBe("/account");
    expect(browser.cookies.has("latchkey_session")).toBe(true);
  });

  it("refuses a second mail within the minute with the wait, and sends again after it", async () => {
    await enrolEmailOtp();
    const browser = new PageClient(t, { "accept-language": "nl" });
    await passwordStep(browser);
    await browser.visit("/login/second-factor");
    await browser.submit("/login/second-factor/send");
    await smtp.next();
    t.clock.advanceSeconds(15);
    const again = await browser.post("/login/second-factor/send");
    expectPage(again, 429, "Er is net een code verstuurd. U kunt het over 45 seconden opnieuw proberen.");
    expect(again.headers["retry-after"]).toBe("45");
    expect(smtp.pending()).toEqual([]);
    t.clock.advanceSeconds(45);
    expectPage(await browser.submit("/login/second-factor/send"), 200, "Er is een code onderweg naar uw e-mailadres.");
    const mail = await smtp.next();
    expect(mail.subject).toBe("Je inlogcode voor Latchkey");
  });

  it("asks /reauth for a mailed code and returns to next", async () => {
    await enrolEmailOtp();
    const browser = new PageClient(t);
    await passwordStep(browser);
    await browser.visit("/login/second-factor");
    await browser.submit("/login/second-factor/send");
    await browser.post("/login/second-factor", { method: "email", code: codeOf(await smtp.next()) });
    t.clock.advanceSeconds(t.config.tokens.sudoTtlSeconds + 1);

    const ask = await browser.get("/reauth?next=%2Faccount%2Fsecurity");
    expectPage(ask, 200, "We can email you a 6-digit code: ask for one, then enter it below.");
    expect(ask.body).toContain('action="/reauth/send"');
    const sent = await browser.post("/reauth/send", { next: "/account/security" });
    expect(sent.headers.location).toBe("/reauth?method=email&done=code-sent&next=%2Faccount%2Fsecurity");
    expectPage(await browser.visit(String(sent.headers.location)), 200, "A code is on its way to your email address.");
    const right = await browser.post("/reauth", {
      method: "email",
      code: codeOf(await smtp.next()),
      next: "/account/security",
    });
    expect(right.statusCode).toBe(303);
    expect(right.headers.location).toBe("/account/security");
    expect(setCookie(right, "latchkey_sudo")).toBeDefined();
  });
});

describe.each(testDialects())("per-address limit on the public forms ($name)", (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect, { env: { LATCHKEY_RATE_LIMIT_PER_MINUTE: "3" } });
  });
  afterEach(async () => t.close());

  it("answers POST /login over the limit with a page giving the wait, and signs nobody in", async () => {
    await t.createUser("alice@example.com");
    const browser = new PageClient(t, { "accept-language": "de" });
    for (let n = 0; n < 3; n++) {
      await browser.get("/login");
      expectPage(
        await browser.post("/login", { email: "alice@example.com", password: "Wrong1Password" }),
        401,
        "nicht korrekt",
      );
    }
    await browser.get("/login");
    const limited = await browser.post("/login", { email: "alice@example.com", password: PASSWORD });
    expectPage(
      limited,
      429,
      /^.*Zu viele Versuche aus Ihrem Netzwerk\. Sie können es in (\d+) Sekunden erneut versuchen\./,
    );
    const wait = /in (\d+) Sekunden/.exec(textOf(limited.body))?.[1];
    expect(Number(wait)).toBeGreaterThan(0);
    expect(limited.headers["retry-after"]).toBe(wait);
    expect(limited.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(browser.cookies.has("latchkey_session")).toBe(false);
    // The pages themselves stay open.
    expect((await browser.get("/login")).statusCode).toBe(200);
  });
});

describe.each(testDialects())("security headers and assets of the pages ($name)", (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect, { env: { LATCHKEY_RETURN_URLS: `${RETURN_URL},http://localhost:3000/done` } });
  });
  afterEach(async () => t.close());

  const POLICY =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "form-action 'self' https://app.example.com http://localhost:3000; frame-ancestors 'none'; base-uri 'none'";

  function expectHeaders(res: LightMyRequestResponse, what: string) {
    expect(res.headers["content-security-policy"], what).toBe(POLICY);
    expect(res.headers["referrer-policy"], what).toBe("same-origin");
    expect(res.headers["x-frame-options"], what).toBe("DENY");
    expect(res.headers["x-content-type-options"], what).toBe("nosniff");
    expect(res.headers["cache-control"], what).toBe("no-store");
  }

  it("sends the strict policy, no framing, no referrer off-site and no-store with every page", async () => {
    const { totp } = await enrolTotp(t);
    const browser = new PageClient(t);
    const pages: [string, LightMyRequestResponse][] = [];
    pages.push(["login", await browser.get("/login")]);
    pages.push([
      "refused login",
      await browser.post("/login", { email: "alice@example.com", password: "Wrong1Password" }),
    ]);
    await passwordStep(browser);
    pages.push(["second factor", await browser.visit("/login/second-factor")]);
    pages.push(["csrf refusal", await browser.post("/login/second-factor", { _csrf: "", method: "totp", code: "1" })]);
    await browser.get("/login/second-factor");
    pages.push([
      "redirect",
      await browser.post("/login/second-factor", { method: "totp", code: codeAt(totp, t.clock.now()) }),
    ]);
    t.clock.advanceSeconds(t.config.tokens.sudoTtlSeconds + 1);
    pages.push(["reauth", await browser.get("/reauth")]);
    pages.push(["error", await browser.get("/login?return_to=https%3A%2F%2Fevil.example%2F")]);
    pages.push(["not found", await browser.get("/no/such/page")]);
    await browser.get("/reauth");
    pages.push(["bad form", await browser.post("/reauth", { method: "totp" })]);
    for (const [what, res] of pages) expectHeaders(res, what);
    const html = pages.filter(([, res]) => String(res.headers["content-type"]).startsWith("text/html"));
    expect(html.length).toBe(pages.length - 1);
    for (const [what, res] of html) {
      // No inline script, style or handler anywhere: the policy would block them.
      expect(res.body, what).not.toMatch(/<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=/i);
    }
  });

  it("serves the stylesheet and the script with their types, and nothing else from the assets", async () => {
    const browser = new PageClient(t);
    const css = await browser.get("/pages/assets/latchkey.css");
    expect(css.statusCode).toBe(200);
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");
    expect(css.body).toBe(readFileSync(new URL("../../pages/assets/latchkey.css", import.meta.url), "utf8"));
    expect(css.headers["x-content-type-options"]).toBe("nosniff");
    const js = await browser.get("/pages/assets/latchkey.js");
    expect(js.statusCode).toBe(200);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    for (const path of ["/pages/assets/missing.css", "/pages/assets/..%2F..%2Fpackage.json", "/pages/assets/%2e%2e"]) {
      expectPage(await browser.get(path), 404, "There is no page at this address.");
    }
  });
});

describe("words of the pages", () => {
  it("has words for every code of the error registry, in every language", () => {
    const strings = JSON.parse(readFileSync(new URL("../../pages/strings/errors.json", import.meta.url), "utf8"));
    for (const lang of ["en", "nl", "fr", "de"]) {
      const missing = Object.keys(ERROR_CODES).filter((code) => typeof strings[lang]?.[code] !== "string");
      expect(missing, lang).toEqual([]);
    }
  });
});

describe.each(testDialects())("pages turned off ($name)", (dialect) => {
  it("answers every page path with the API's 404 envelope, and the API works as before", async () => {
    const t = await createTestApp(dialect, { env: { LATCHKEY_PAGES: "off" } });
    try {
      await t.createUser("alice@example.com");
      for (const path of [
        "/",
        "/login",
        "/account",
        "/account/sessions",
        "/password/forgot",
        "/pages/assets/latchkey.css",
      ]) {
        const res = await t.app.inject({ method: "GET", url: path, headers: { accept: "text/html" } });
        expect(res.statusCode, path).toBe(404);
        expect(res.json()).toEqual({ statusCode: 404, error: "Not Found", message: "ROUTE_NOT_FOUND" });
      }
      const form = await t.app.inject({
        method: "POST",
        url: "/login",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        payload: "email=alice%40example.com&password=Correct7Horse",
      });
      expect(form.statusCode).toBe(404);
      expect(form.json().message).toBe("ROUTE_NOT_FOUND");
      const api = await t.app.inject({
        method: "POST",
        url: "/auth/login",
        payload: { username: "alice@example.com", password: PASSWORD },
      });
      expect(api.statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});
