import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "../support/harness.js";
import { login, PASSWORD, post, signIn } from "../support/http.js";
import { expectPage, PageClient, textOf } from "../support/pages.js";
import { authenticatorFrom, codeAt } from "../two-factor/support.js";

/** A page's text as a reader sees it: a <wbr> (where a long address may wrap) is no space. */
function shownText(html: string): string {
  return textOf(html.replace(/<wbr>/g, ""));
}

/** A browser signed in on the pages as `email` (2FA off). */
async function signedInBrowser(t: TestApp, email: string, headers: Record<string, string> = {}) {
  const browser = new PageClient(t, headers);
  await browser.get("/login");
  const res = await browser.post("/login", { email, password: PASSWORD });
  expect(res.headers.location).toBe("/account");
  return browser;
}

describe.each(testDialects())("account page ($name)", (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect);
  });
  afterEach(async () => t.close());

  it("shows the email address, two-step verification off, then on with its methods after enrolling through the API", async () => {
    await t.createUser("alice@example.com");
    const browser = await signedInBrowser(t, "alice@example.com");
    const before = await browser.visit("/account");
    expectPage(before, 200, "Email address");
    expect(before.body).toContain("alice<wbr>@example<wbr>.com");
    const text = shownText(before.body);
    expect(text).toContain("Email address alice@example.com");
    expect(text).toContain("Two-step verification Off");
    expect(text).toContain("Set up two-step verification");
    expect(text).toContain("You are signed in on 1 device: this one.");
    for (const href of ["/account/two-factor", "/account/sessions", "/account/password", "/account/email"]) {
      expect(before.body).toContain(`href="${href}"`);
    }

    // Enrolled through the API from another session, while 2FA was off (no sudo needed).
    const { access } = await signIn(t, "alice@example.com");
    const setup = await post(t, "/user/2fa/totp/setup", access, {});
    const totp = authenticatorFrom(setup.json().url);
    const enable = await post(t, "/user/2fa/totp/enable", access, { totp: codeAt(totp, t.clock.now()) });
    expect(enable.statusCode).toBe(200);

    const after = await browser.visit("/account");
    expectPage(after, 200, "Two-step verification On");
    const afterText = textOf(after.body);
    expect(afterText).toContain("Authenticator app");
    expect(afterText).toContain("Recovery codes (10 left)");
    expect(afterText).toContain("Manage two-step verification");
    expect(afterText).toContain("You are signed in on 2 devices.");
  });

  it("sends a browser that is not signed in to /login, and a stale session too, clearing its cookies", async () => {
    const stranger = new PageClient(t);
    const res = await stranger.get("/account");
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe("/login");

    await t.createUser("alice@example.com");
    const browser = await signedInBrowser(t, "alice@example.com");
    await browser.post("/logout");
    browser.cookies.set("latchkey_session", "not-a-token");
    const stale = await browser.get("/account");
    expect(stale.statusCode).toBe(303);
    expect(stale.headers.location).toBe("/login");
    expect(browser.cookies.has("latchkey_session")).toBe(false);
  });

  it("shows each notice another page asks for with ?done=, in the reader's language, and ignores unknown words", async () => {
    await t.createUser("alice@example.com");
    const browser = await signedInBrowser(t, "alice@example.com");
    const expected: Record<string, string> = {
      "password-changed": "Your password was changed.",
      "email-changed": "Your email address was changed.",
      "two-factor-on": "Two-step verification is on.",
      "two-factor-off": "Two-step verification is off.",
      "session-ended": "That device was signed out.",
      "others-signed-out": "You were signed out on every other device.",
    };
    for (const [done, words] of Object.entries(expected)) {
      const res = await browser.get(`/account?done=${done}`);
      expectPage(res, 200, words);
      expect(res.body).toContain('role="status"');
    }
    for (const done of ["toString", "__proto__", "nonsense"]) {
      const res = await browser.get(`/account?done=${done}`);
      expectPage(res, 200, "Your account");
      expect(shownText(res.body)).toContain("alice@example.com");
      expect(res.body).not.toContain('role="status"');
    }
    const dutch = await browser.get("/account?done=password-changed&lang=nl");
    expectPage(dutch, 200, "Uw wachtwoord is gewijzigd.");
    expect(textOf(dutch.body)).toContain("Verificatie in twee stappen Uit");
  });

  it("shows the signed-in user's own address only, whoever else is signed in", async () => {
    await t.createUser("alice@example.com");
    await t.createUser("bob@example.com");
    await login(t, "bob@example.com");
    const alice = await signedInBrowser(t, "alice@example.com");
    const page = await alice.visit("/account");
    expectPage(page, 200, "Your account");
    expect(shownText(page.body)).toContain("alice@example.com");
    expect(shownText(page.body)).not.toContain("bob");
  });
});
