import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "../support/harness.js";
import { PASSWORD } from "../support/http.js";
import { expectPage, PageClient, textOf } from "../support/pages.js";
import { codeAt, enrolTotp, wrongCodeAt } from "../two-factor/support.js";

const RETURN_URL = "https://app.example.com/after-login";

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

  it("shows the 404 page to browsers and the envelope to API clients", async () => {
    const browser = new PageClient(t, { "accept-language": "fr" });
    expectPage(await browser.get("/no/such/page"), 404, "Il n’y a pas de page à cette adresse.");
    const api = await t.app.inject({ method: "GET", url: "/no/such/page" });
    expect(api.json()).toEqual({ statusCode: 404, error: "Not Found", message: "ROUTE_NOT_FOUND" });
  });
});
