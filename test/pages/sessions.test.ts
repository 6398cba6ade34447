import type { LightMyRequestResponse } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { formatTime } from "../../src/http/pages/page.js";
import { createTestApp, type TestApp, testDialects } from "../support/harness.js";
import { accessFor, get, PASSWORD, post, sessionIdOf } from "../support/http.js";
import { expectPage, PageClient, textOf } from "../support/pages.js";

const CHROME_LINUX =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
const SAFARI_IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0";

/** `POST /auth/login` from a client that says what it is: the refresh token. */
async function apiLogin(t: TestApp, email: string, userAgent?: string): Promise<string> {
  const res = await t.app.inject({
    method: "POST",
    url: "/auth/login",
    headers: userAgent === undefined ? {} : { "user-agent": userAgent },
    payload: { username: email, password: PASSWORD },
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.body;
}

/** A browser signed in on the pages as `email` (2FA off), on the sessions page. */
async function signedInBrowser(t: TestApp, email: string, headers: Record<string, string> = {}) {
  const browser = new PageClient(t, { "user-agent": CHROME_LINUX, ...headers });
  await browser.get("/login");
  const res = await browser.post("/login", { email, password: PASSWORD });
  expect(res.headers.location).toBe("/account");
  return browser;
}

function pageSessionOf(browser: PageClient): string {
  return sessionIdOf(browser.cookies.get("latchkey_session") ?? "");
}

async function validate(t: TestApp, refresh: string): Promise<LightMyRequestResponse> {
  return get(t, "/auth/refreshtoken/validate", refresh);
}

/** The `<li>` of each session on the sessions page, as text. */
function sessionItems(html: string): string[] {
  return [...html.matchAll(/<li>\s*<h2[\s\S]*?<\/li>/g)].map((m) => textOf(m[0]));
}

describe.each(testDialects())("sessions page ($name)", (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect);
  });
  afterEach(async () => t.close());

  it("lists this browser's session and an API login's, each device read from its user agent, this one marked", async () => {
    await t.createUser("alice@example.com");
    const browser = await signedInBrowser(t, "alice@example.com");
    const signedInAt = t.clock.now();
    t.clock.advanceSeconds(600);
    const phone = await apiLogin(t, "alice@example.com", SAFARI_IPHONE);
    const phoneAt = t.clock.now();
    t.clock.advanceSeconds(3600);
    await accessFor(t, phone);
    const phoneUsedAt = t.clock.now();

    const res = await browser.visit("/account/sessions");
    expectPage(res, 200, "Where you are signed in");
    const items = sessionItems(res.body);
    expect(items).toHaveLength(2);
    // This browser first, marked; it was last used when the page renewed its access token.
    expect(items[0]).toContain("Chrome 156 on Linux This device");
    expect(items[0]).toContain("IP address 127.0.0.1");
    expect(items[0]).toContain(`Signed in ${formatTime("en", signedInAt)}`);
    expect(items[0]).toContain(`Last used ${formatTime("en", t.clock.now())}`);
    expect(items[0]).toContain("Sign out here");
    expect(items[1]).toContain("Safari on iPhone");
    expect(items[1]).not.toContain("This device");
    expect(items[1]).toContain(`Signed in ${formatTime("en", phoneAt)}`);
    expect(items[1]).toContain(`Last used ${formatTime("en", phoneUsedAt)}`);
    expect(items[1]).toContain("Sign out this device");
    expect(res.body).toContain(`name="session" value="${sessionIdOf(phone)}"`);
    expect(res.body).toContain('action="/account/sessions/end-others"');
  });

  it("names an agent it cannot read, or none, an unknown device in the reader's language", async () => {
    await t.createUser("alice@example.com");
    await apiLogin(t, "alice@example.com", "curl/8.5.0");
    t.clock.advanceSeconds(1);
    await apiLogin(t, "alice@example.com", FIREFOX_WINDOWS);
    const browser = await signedInBrowser(t, "alice@example.com", { "accept-language": "de-DE,de;q=0.9" });
    const res = await browser.visit("/account/sessions");
    expectPage(res, 200, "Wo Sie angemeldet sind");
    const items = sessionItems(res.body);
    expect(items).toHaveLength(3);
    expect(items[0]).toContain("Chrome 156 auf Linux Dieses Gerät");
    expect(items[1]).toContain("Firefox 125 auf Windows");
    expect(items[2]).toContain("Unbekanntes Gerät");
  });

  it("ends another session: its tokens are refused by the API at once, and this browser stays signed in", async () => {
    await t.createUser("alice@example.com");
    const browser = await signedInBrowser(t, "alice@example.com");
    const phone = await apiLogin(t, "alice@example.com", SAFARI_IPHONE);
    const phoneAccess = await accessFor(t, phone);
    await browser.visit("/account/sessions");
    const res = await browser.post("/account/sessions/end", { session: sessionIdOf(phone) });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe("/account/sessions?done=session-ended");
    expect((await validate(t, phone)).json().message).toBe("TOKEN_REVOKED");
    expect((await get(t, "/user/sessions", phoneAccess)).json().message).toBe("TOKEN_REVOKED");

    const after = await browser.visit(String(res.headers.location));
    expectPage(after, 200, "That device was signed out.");
    expect(sessionItems(after.body)).toHaveLength(1);
    expect(textOf(after.body)).toContain("You are signed in on this device only.");
    expect(after.body).not.toContain('action="/account/sessions/end-others"');
  });

  it("refuses another user's session, an unknown id and a session already ended with a clear page, ending nothing", async () => {
    await t.createUser("alice@example.com");
    await t.createUser("bob@example.com");
    const bob = await apiLogin(t, "bob@example.com", FIREFOX_WINDOWS);
    const ended = await apiLogin(t, "alice@example.com");
    await post(t, "/auth/logout", ended);
    const browser = await signedInBrowser(t, "alice@example.com");
    for (const session of [sessionIdOf(bob), sessionIdOf(ended), "no-such-session", ""]) {
      await browser.visit("/account/sessions");
      const res = await browser.post("/account/sessions/end", { session });
      expectPage(res, 404, "That session was not found among yours, or it has already ended. Nothing was changed.");
      expect(sessionItems(res.body)).toHaveLength(1);
    }
    expect((await validate(t, bob)).statusCode).toBe(200);
    expect((await browser.visit("/account/sessions")).statusCode).toBe(200);
  });

  it("answers a missing or oversized field, or a form without its CSRF token, with a 400 or 403 page, ending nothing", async () => {
    await t.createUser("alice@example.com");
    const phone = await apiLogin(t, "alice@example.com", SAFARI_IPHONE);
    const browser = await signedInBrowser(t, "alice@example.com", { "accept-language": "fr" });
    await browser.visit("/account/sessions");
    expectPage(
      await browser.post("/account/sessions/end", {}),
      400,
      "Un élément du formulaire manquait ou était trop long.",
    );
    await browser.visit("/account/sessions");
    expectPage(
      await browser.post("/account/sessions/end", { session: "x".repeat(101) }),
      400,
      "Un élément du formulaire manquait",
    );
    const forged = await browser.post("/account/sessions/end", { _csrf: "", session: sessionIdOf(phone) });
    expectPage(forged, 403, "Ce formulaire a expiré");
    const forgedAll = await browser.post("/account/sessions/end-others", { _csrf: "" });
    expectPage(forgedAll, 403, "Ce formulaire a expiré");
    expect((await validate(t, phone)).statusCode).toBe(200);
  });

  it("ends this browser's own session from the list as a sign-out", async () => {
    await t.createUser("alice@example.com");
    const browser = await signedInBrowser(t, "alice@example.com");
    const refresh = browser.cookies.get("latchkey_session") ?? "";
    await browser.visit("/account/sessions");
    const res = await browser.post("/account/sessions/end", { session: pageSessionOf(browser) });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe("/login?done=signed-out");
    expect(browser.cookies.has("latchkey_session")).toBe(false);
    expect(browser.cookies.has("latchkey_access")).toBe(false);
    expect((await validate(t, refresh)).json().message).toBe("TOKEN_REVOKED");
    expectPage(await browser.visit(String(res.headers.location)), 200, "You are signed out.");
    const again = await browser.get("/account/sessions");
    expect(again.headers.location).toBe("/login");
  });

  it("signs out everywhere else: this browser stays signed in, every other session ends", async () => {
    await t.createUser("alice@example.com");
    const phone = await apiLogin(t, "alice@example.com", SAFARI_IPHONE);
    const laptop = await apiLogin(t, "alice@example.com", FIREFOX_WINDOWS);
    const other = await signedInBrowser(t, "alice@example.com");
    const browser = await signedInBrowser(t, "alice@example.com");
    const list = await browser.visit("/account/sessions");
    expect(sessionItems(list.body)).toHaveLength(4);
    const res = await browser.post("/account/sessions/end-others");
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe("/account/sessions?done=others-signed-out");
    for (const refresh of [phone, laptop, other.cookies.get("latchkey_session") ?? ""]) {
      expect((await validate(t, refresh)).json().message).toBe("TOKEN_REVOKED");
    }
    const after = await browser.visit(String(res.headers.location));
    expectPage(after, 200, "You were signed out on every other device.");
    expect(sessionItems(after.body)).toHaveLength(1);
    expect((await validate(t, browser.cookies.get("latchkey_session") ?? "")).statusCode).toBe(200);
    // The other browser's next page view goes to sign in.
    const gone = await other.get("/account/sessions");
    expect(gone.statusCode).toBe(303);
    expect(gone.headers.location).toBe("/login");
  });

  it("sends a browser whose session was ended elsewhere (the API's revoke-others) to /login on its next page view", async () => {
    await t.createUser("alice@example.com");
    const browser = await signedInBrowser(t, "alice@example.com");
    expect((await browser.visit("/account/sessions")).statusCode).toBe(200);
    // The browser holds a fresh access token; the session behind it is read on every use.
    expect(browser.cookies.has("latchkey_access")).toBe(true);
    const api = await apiLogin(t, "alice@example.com");
    const revoke = await post(t, "/user/sessions/revoke-others", await accessFor(t, api), {});
    expect(revoke.statusCode).toBe(204);
    const res = await browser.get("/account/sessions");
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe("/login");
    expect(browser.cookies.has("latchkey_session")).toBe(false);
    const account = await browser.get("/account");
    expect(account.headers.location).toBe("/login");
  });

  it("answers a form from a browser whose session has ended with a page, changing nothing", async () => {
    await t.createUser("alice@example.com");
    const phone = await apiLogin(t, "alice@example.com", SAFARI_IPHONE);
    const browser = await signedInBrowser(t, "alice@example.com");
    await browser.visit("/account/sessions");
    const csrf = browser.csrf();
    const api = await apiLogin(t, "alice@example.com");
    // The browser's session is ended through the API, from another session of the same user.
    const ended = await t.app.inject({
      method: "DELETE",
      url: `/user/sessions/${pageSessionOf(browser)}`,
      headers: { authorization: `Bearer ${await accessFor(t, api)}` },
    });
    expect(ended.statusCode).toBe(204);
    const res = await browser.post("/account/sessions/end", { session: sessionIdOf(phone) });
    expectPage(res, 401, "Your session has ended. Please sign in again; nothing was changed.");
    const all = await browser.post("/account/sessions/end-others", { _csrf: csrf });
    expectPage(all, 401, "Your session has ended.");
    expect((await validate(t, phone)).statusCode).toBe(200);
    expect((await validate(t, api)).statusCode).toBe(200);
  });

  it("ends a session once when the same form is sent twice at the same moment", async () => {
    await t.createUser("alice@example.com");
    const phone = await apiLogin(t, "alice@example.com", SAFARI_IPHONE);
    const browser = await signedInBrowser(t, "alice@example.com");
    await browser.visit("/account/sessions");
    const results = await Promise.all(
      Array.from({ length: 4 }, () => browser.post("/account/sessions/end", { session: sessionIdOf(phone) })),
    );
    const statuses = results.map((res) => res.statusCode).sort();
    expect(statuses).toEqual([303, 404, 404, 404]);
    expect((await validate(t, phone)).json().message).toBe("TOKEN_REVOKED");
    const ends = await t.db
      .selectFrom("audit_events")
      .select("details")
      .where("type", "=", "session.revoked")
      .execute();
    expect(ends).toHaveLength(1);
  });
});
