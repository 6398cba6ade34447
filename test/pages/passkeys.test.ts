import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from "@simplewebauthn/server";
import type { LightMyRequestResponse } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type MailApp, startMailApp } from "../mail-flows/fixture.js";
import { createTestApp, type TestApp, testDialects } from "../support/harness.js";
import { PASSWORD } from "../support/http.js";
import { expectPage, PageClient, textOf } from "../support/pages.js";
import { newSigningKey, SoftAuthenticator } from "../support/webauthn.js";
import { codeAt, enrolTotp } from "../two-factor/support.js";

/** The relying party of the test app: its issuer, http://latchkey.test. */
const ORIGIN = "http://latchkey.test";
const RETURN_URL = "https://app.example.com/after-login";
const EMAIL = "alice@example.com";

/** The JSON an options route answered (the script's fetch). */
function json<T>(res: LightMyRequestResponse): T {
  expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
  expect(String(res.headers["content-type"])).toMatch(/^application\/json/);
  return res.json() as T;
}

/** A browser signed in with the password (2FA off, or asked for it: then the partial token is kept). */
async function passwordSignIn(browser: PageClient, email = EMAIL): Promise<LightMyRequestResponse> {
  await browser.get("/login");
  return browser.post("/login", { email, password: PASSWORD });
}

/** The passkeys page's forms run a ceremony: options from `optionsUrl`, the authenticator's answer posted to `action`. */
async function registerOnPages(
  browser: PageClient,
  authenticator: SoftAuthenticator,
  fields: Record<string, string> = {},
  tamper: Parameters<SoftAuthenticator["register"]>[1] = {},
): Promise<LightMyRequestResponse> {
  const page = await browser.visit("/account/passkeys/add");
  expectPage(page, 200, "Add a passkey");
  const options = json<PublicKeyCredentialCreationOptionsJSON>(await browser.post("/account/passkeys/add/options"));
  const credential = authenticator.register(options, tamper);
  return browser.post("/account/passkeys/add", { credential: JSON.stringify(credential), ...fields });
}

/** The recovery codes listed on a page. */
function codesOn(html: string): string[] {
  const list = /<ul class="codes" id="recovery-codes"[^>]*>([\s\S]*?)<\/ul>/.exec(html)?.[1] ?? "";
  return [...list.matchAll(/<li>([^<]+)<\/li>/g)].map((m) => m[1] ?? "");
}

function challengeCount(t: TestApp): Promise<number> {
  return t.db
    .selectFrom("webauthn_challenges")
    .select((eb) => eb.fn.countAll().as("n"))
    .executeTakeFirstOrThrow()
    .then((row) => Number(row.n));
}

describe.each(testDialects())("passkey pages ($name)", (dialect) => {
  let mail: MailApp;
  let t: TestApp;
  beforeEach(async () => {
    mail = await startMailApp(dialect, { LATCHKEY_RETURN_URLS: RETURN_URL });
    t = mail.t;
  });
  afterEach(async () => mail.close());

  /** Alice, signed in on the pages, with one passkey "Laptop" added there (her first method: 2FA on). */
  async function aliceWithPasskey() {
    const userId = await t.createUser(EMAIL);
    const browser = new PageClient(t);
    expect((await passwordSignIn(browser)).headers.location).toBe("/account");
    const authenticator = new SoftAuthenticator({ origin: ORIGIN, backedUp: true });
    const added = await registerOnPages(browser, authenticator, { name: "Laptop" });
    expectPage(added, 200, "The passkey was added, and two-step verification is on.");
    const passkeyId = authenticator.credentials[0]?.id ?? "";
    return { userId, browser, authenticator, passkeyId, codes: codesOn(added.body) };
  }

  it("offers a passkey on /login: a button the script shows, passkeys in the email field's autofill, and its script", async () => {
    const browser = new PageClient(t);
    const page = await browser.get("/login");
    expectPage(page, 200, "Sign in with a passkey");
    expect(page.body).toContain('autocomplete="username webauthn"');
    // Hidden until the script finds WebAuthn; said so without JavaScript; the password form as before.
    expect(page.body).toMatch(
      /<form method="post" action="\/login\/passkey" data-passkey="get" data-options="\/login\/passkey\/options" data-conditional hidden>/,
    );
    expect(page.body).toContain(
      '<noscript><p class="wait">Passkeys need JavaScript, which is off in this browser.</p></noscript>',
    );
    expect(page.body).toContain('<script src="/pages/assets/passkeys.js" defer></script>');
    expect(page.body).toMatch(/<form method="post" action="\/login" novalidate>/);
    // The script is an asset of this origin, as the CSP's script-src 'self' wants: no inline script.
    expect(String(page.headers["content-security-policy"])).toContain("script-src 'self'");
    expect(page.body).not.toMatch(/<script>|\son[a-z]+=/);
    const script = await browser.get("/pages/assets/passkeys.js");
    expect(script.statusCode).toBe(200);
    expect(String(script.headers["content-type"])).toMatch(/^text\/javascript/);
    expect(script.body).toContain("parseRequestOptionsFromJSON");
    // In the reader's language.
    expectPage(await browser.get("/login?lang=de"), 200, "Mit einem Passkey anmelden");
    expectPage(await browser.get("/login?lang=fr"), 200, "Se connecter avec une clé d’accès");
    expectPage(await browser.get("/login?lang=nl"), 200, "Aanmelden met een passkey");
  });

  it("adds a first passkey with 2FA off: the recovery codes once, 2FA on, the list with its name, times and sync, a notice by mail", async () => {
    const { userId, browser, passkeyId, codes } = await aliceWithPasskey();
    expect(codes).toHaveLength(10);
    const state = await t.deps.store.twoFactor(userId);
    expect(state.passkeys?.count).toBe(1);
    expect(state.recoveryCodes?.remaining).toBe(10);
    const notice = await mail.smtp.next();
    expect(notice.to).toEqual([EMAIL]);
    expect(notice.text).toContain("Laptop");

    const list = await browser.visit("/account/passkeys");
    expectPage(list, 200, "Your passkeys");
    const text = textOf(list.body);
    expect(text).toContain("Laptop Added");
    expect(text).toContain("Last used Not used yet");
    expect(text).toContain("Kept Synced to your other devices");
    // (Handlebars writes "=" in an attribute as "&#x3D;", which a browser reads as "=".)
    expect(list.body).toContain(`href="/account/passkeys/rename?passkey&#x3D;${passkeyId}"`);
    expect(list.body).toContain(`href="/account/passkeys/remove?passkey&#x3D;${passkeyId}"`);
    // The overviews show the method.
    expect(textOf((await browser.visit("/account")).body)).toContain("Passkeys (1)");
    const overview = textOf((await browser.visit("/account/two-factor")).body);
    expect(overview).toMatch(/Passkeys On .* 1 passkey\. The first was added .* \(UTC\)\. Manage your passkeys/);
  });

  it("signs in with a passkey alone through the page routes: a full session, to the return URL, the use shown on the list", async () => {
    const { userId, authenticator, passkeyId } = await aliceWithPasskey();
    const browser = new PageClient(t);
    await browser.get(`/login?return_to=${encodeURIComponent(RETURN_URL)}`);
    const before = await challengeCount(t);
    const options = json<PublicKeyCredentialRequestOptionsJSON>(await browser.post("/login/passkey/options"));
    // Any passkey of this site, with the user verified; the challenge kept on the server.
    expect(options.allowCredentials ?? []).toEqual([]);
    expect(options.userVerification).toBe("required");
    expect(await challengeCount(t)).toBe(before + 1);

    t.clock.advanceSeconds(60);
    const res = await browser.post("/login/passkey", { credential: JSON.stringify(authenticator.assert(options)) });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(RETURN_URL);
    for (const cookie of ["latchkey_session", "latchkey_access", "latchkey_sudo"]) {
      expect(browser.cookies.has(cookie)).toBe(true);
    }
    expect(browser.cookies.has("latchkey_partial")).toBe(false);
    expect(browser.cookies.has("latchkey_return")).toBe(false);
    const account = await browser.visit("/account");
    expectPage(account, 200, "Your account");
    // Signed in with the passkey's check of the user: a change that wants sudo opens at once.
    const remove = await browser.get(`/account/passkeys/remove?passkey=${passkeyId}`);
    expectPage(remove, 200, "Remove the passkey “Laptop”?");
    const events = await t.deps.store.listAuditEvents({ userId, offset: 0, limit: 10 });
    expect(events.events.find((e) => e.type === "login.succeeded")?.details).toEqual({ method: "passkey" });
    const list = textOf((await browser.visit("/account/passkeys")).body);
    expect(list).not.toContain("Not used yet");
  });

  it("refuses the passkey forms without this browser's CSRF token: nothing made, nobody signed in", async () => {
    const { authenticator } = await aliceWithPasskey();
    const browser = new PageClient(t);
    await browser.get("/login");
    const before = await challengeCount(t);
    expectPage(await browser.post("/login/passkey/options", { _csrf: "" }), 403, "did not come from this site");
    expectPage(await browser.post("/login/passkey/options", { _csrf: "forged" }), 403, "did not come from this site");
    expect(await challengeCount(t)).toBe(before);

    await browser.get("/login");
    const options = json<PublicKeyCredentialRequestOptionsJSON>(await browser.post("/login/passkey/options"));
    const credential = JSON.stringify(authenticator.assert(options));
    const token = browser.csrf();
    const refused = await browser.post("/login/passkey", { _csrf: "forged", credential });
    expectPage(refused, 403, "did not come from this site");
    expect(browser.cookies.has("latchkey_session")).toBe(false);
    // Another browser's token is no better.
    const other = new PageClient(t);
    await other.get("/login");
    const stolen = await browser.post("/login/passkey", { _csrf: other.csrf(), credential });
    expectPage(stolen, 403, "did not come from this site");
    expect(browser.cookies.has("latchkey_session")).toBe(false);
    // The challenge was not spent by the refused forms: the answer still signs in.
    expect((await browser.post("/login/passkey", { _csrf: token, credential })).headers.location).toBe("/account");
  });

  it("answers a credential that does not sign in with the login page and the error's words", async () => {
    const { authenticator } = await aliceWithPasskey();
    const browser = new PageClient(t);
    await browser.get("/login");
    const optionsNow = async () =>
      json<PublicKeyCredentialRequestOptionsJSON>(await browser.post("/login/passkey/options"));
    const expectRefused = (res: LightMyRequestResponse, status: number, words: string) => {
      expectPage(res, status, words);
      expect(res.body).toContain('action="/login"');
      expect(res.body).toContain('autocomplete="username webauthn"');
      expect(browser.cookies.has("latchkey_session")).toBe(false);
    };

    expectRefused(
      await browser.post("/login/passkey", { credential: "not json" }),
      400,
      "Your passkey's answer could not be read.",
    );
    expectRefused(
      await browser.post("/login/passkey", { credential: JSON.stringify({ id: "x" }) }),
      400,
      "Your passkey's answer could not be read.",
    );
    const forged = authenticator.assert(await optionsNow(), { signWith: newSigningKey() });
    expectRefused(
      await browser.post("/login/passkey", { credential: JSON.stringify(forged) }),
      401,
      "The passkey could not be verified.",
    );
    const stranger = new SoftAuthenticator({ origin: ORIGIN });
    stranger.register({
      challenge: "AAAA",
      rp: { id: "latchkey.test", name: "x" },
      user: { id: "dXNlcg", name: "u", displayName: "u" },
      pubKeyCredParams: [{ alg: -7, type: "public-key" }],
    });
    expectRefused(
      await browser.post("/login/passkey", { credential: JSON.stringify(stranger.assert(await optionsNow())) }),
      401,
      "This passkey is not registered here",
    );
    // A good answer is good once: the challenge is spent.
    const good = JSON.stringify(authenticator.assert(await optionsNow()));
    expect((await browser.post("/login/passkey", { credential: good })).statusCode).toBe(303);
    const replay = new PageClient(t);
    await replay.get("/login");
    const again = await replay.post("/login/passkey", { credential: good });
    expectPage(again, 401, "The passkey request has expired or was already used.");
    expect(replay.cookies.has("latchkey_session")).toBe(false);
  });

  it("finishes a password sign-in with the passkey as second step (offered first, other ways linked), to the return URL", async () => {
    const { authenticator, passkeyId } = await aliceWithPasskey();
    const browser = new PageClient(t);
    await browser.get(`/login?return_to=${encodeURIComponent(RETURN_URL)}`);
    expect((await passwordSignIn(browser)).headers.location).toBe("/login/second-factor");
    const step = await browser.visit("/login/second-factor");
    expectPage(step, 200, "Use your passkey");
    expect(step.body).toContain(
      'action="/login/second-factor" data-passkey="get" data-options="/login/second-factor/passkey/options"',
    );
    expect(step.body).toContain('<input type="hidden" name="method" value="passkey">');
    expect(step.body).toContain('<script src="/pages/assets/passkeys.js" defer></script>');
    expect(step.body).toContain('href="/login/second-factor?method&#x3D;recovery"');
    expect(step.body).not.toContain('name="code"');
    const recovery = await browser.visit("/login/second-factor?method=recovery");
    expectPage(recovery, 200, "Enter one of the recovery codes");
    expect(recovery.body).toContain('href="/login/second-factor?method&#x3D;passkey"');
    expect(textOf(recovery.body)).toContain("Use a passkey");

    await browser.visit("/login/second-factor?method=passkey");
    const options = json<PublicKeyCredentialRequestOptionsJSON>(
      await browser.post("/login/second-factor/passkey/options"),
    );
    expect(options.allowCredentials?.map((c) => c.id)).toEqual([passkeyId]);
    const forged = authenticator.assert(options, { signWith: newSigningKey() });
    const wrong = await browser.post("/login/second-factor", { method: "passkey", credential: JSON.stringify(forged) });
    expectPage(wrong, 401, "The passkey could not be verified.");
    expect(wrong.body).toContain('data-options="/login/second-factor/passkey/options"');
    expect(browser.cookies.has("latchkey_session")).toBe(false);

    const fresh = json<PublicKeyCredentialRequestOptionsJSON>(
      await browser.post("/login/second-factor/passkey/options"),
    );
    const res = await browser.post("/login/second-factor", {
      method: "passkey",
      credential: JSON.stringify(authenticator.assert(fresh)),
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(RETURN_URL);
    expect(browser.cookies.has("latchkey_session")).toBe(true);
    expect(browser.cookies.has("latchkey_partial")).toBe(false);

    // Without a pending sign-in, the options route sends the page back to /login.
    const late = new PageClient(t);
    await late.get("/login");
    const expired = await late.post("/login/second-factor/passkey/options");
    expect(expired.statusCode).toBe(303);
    expect(expired.headers.location).toBe("/login?done=expired");
  });

  it("removes a passkey behind the confirm page and /reauth with a passkey; the last one turns 2FA off", async () => {
    const { userId, browser, authenticator, passkeyId } = await aliceWithPasskey();
    // Signed in with the password while 2FA was off: no sudo token now that it is on.
    expect(browser.cookies.has("latchkey_sudo")).toBe(false);
    const confirmUrl = `/account/passkeys/remove?passkey=${passkeyId}`;
    const sent = await browser.get(confirmUrl);
    expect(sent.statusCode).toBe(303);
    expect(sent.headers.location).toBe(`/reauth?next=${encodeURIComponent(confirmUrl)}`);
    // The form without sudo changes nothing either.
    const early = await browser.post("/account/passkeys/remove", { passkey: passkeyId });
    expect(early.statusCode).toBe(303);
    expect(String(early.headers.location)).toMatch(/^\/reauth\?next=/);
    expect((await t.deps.store.twoFactor(userId)).passkeys?.count).toBe(1);

    const reauth = await browser.visit(String(sent.headers.location));
    expectPage(reauth, 200, "Confirm it is you before this change");
    expect(reauth.body).toContain('data-options="/reauth/passkey/options"');
    expect(reauth.body).toContain(`<input type="hidden" name="next" value="${confirmUrl.replace(/=/g, "&#x3D;")}">`);
    const options = json<PublicKeyCredentialRequestOptionsJSON>(await browser.post("/reauth/passkey/options"));
    const back = await browser.post("/reauth", {
      method: "passkey",
      credential: JSON.stringify(authenticator.assert(options)),
      next: confirmUrl,
    });
    expect(back.statusCode).toBe(303);
    expect(back.headers.location).toBe(confirmUrl);
    expect(browser.cookies.has("latchkey_sudo")).toBe(true);

    const confirm = await browser.visit(confirmUrl);
    expectPage(confirm, 200, "Remove the passkey “Laptop”? It will no longer sign you in.");
    expect(textOf(confirm.body)).toContain("This is your last method");
    const removed = await browser.submit("/account/passkeys/remove", { passkey: passkeyId });
    expectPage(removed, 200, "Two-step verification is off: no method is left");
    expect(textOf(removed.body)).toContain("You have no passkeys yet.");
    const state = await t.deps.store.twoFactor(userId);
    expect(state.passkeys).toBeUndefined();
    expect(state.recoveryCodes).toBeUndefined();
    // Sent again (another tab): the list says the passkey is not there; nothing else changes.
    await browser.visit("/account/passkeys");
    expectPage(
      await browser.post("/account/passkeys/remove", { passkey: passkeyId }),
      404,
      "That passkey does not exist.",
    );
    expectPage(await browser.get(confirmUrl), 404, "That passkey does not exist.");
  });

  it("adds a second passkey once 2FA is on only after /reauth, without new codes; the same one twice is refused", async () => {
    const { userId, authenticator, passkeyId, codes } = await aliceWithPasskey();
    // A new sign-in with password and recovery code: access, and a sudo token that lapses.
    const browser = new PageClient(t);
    await passwordSignIn(browser);
    await browser.visit("/login/second-factor?method=recovery");
    expect((await browser.post("/login/second-factor", { method: "recovery", code: codes[0] ?? "" })).statusCode).toBe(
      303,
    );
    t.clock.advanceSeconds(301);
    const add = await browser.get("/account/passkeys/add");
    expect(add.statusCode).toBe(303);
    expect(add.headers.location).toBe(`/reauth?next=${encodeURIComponent("/account/passkeys/add")}`);
    await browser.visit("/account");
    const options = await browser.post("/account/passkeys/add/options");
    expect(options.statusCode).toBe(303);
    expect(String(options.headers.location)).toMatch(/^\/reauth\?next=/);

    await browser.visit("/reauth?next=/account/passkeys/add&method=passkey");
    const check = json<PublicKeyCredentialRequestOptionsJSON>(await browser.post("/reauth/passkey/options"));
    const back = await browser.post("/reauth", {
      method: "passkey",
      credential: JSON.stringify(authenticator.assert(check)),
      next: "/account/passkeys/add",
    });
    expect(back.headers.location).toBe("/account/passkeys/add");

    // The authenticator already holding this account's passkey: refused, with the words on the page.
    const twice = await registerOnPages(browser, authenticator, { name: "Again" }, { credentialId: passkeyId });
    expectPage(twice, 409, "That passkey is registered already.");
    expect(twice.body).toContain('value="Again"');
    const phone = new SoftAuthenticator({ origin: ORIGIN });
    const second = await registerOnPages(browser, phone, { name: "  Phone " });
    expect(second.statusCode).toBe(303);
    expect(second.headers.location).toBe("/account/passkeys?done=added");
    const list = await browser.visit(String(second.headers.location));
    expectPage(list, 200, "The passkey was added.");
    expect(textOf(list.body)).toContain("Kept On one device only");
    expect((await t.deps.store.listPasskeys(userId)).map((p) => p.name).sort()).toEqual(["Laptop", "Phone"]);
    expect((await t.deps.store.twoFactor(userId)).recoveryCodes?.remaining).toBe(9);
  });

  it("renames a passkey with the access token; a blank name or another account's passkey is refused", async () => {
    const { userId, browser, passkeyId } = await aliceWithPasskey();
    const page = await browser.visit(`/account/passkeys/rename?passkey=${passkeyId}`);
    expectPage(page, 200, "Rename a passkey");
    expect(page.body).toContain('value="Laptop"');
    const blank = await browser.post("/account/passkeys/rename", { passkey: passkeyId, name: "   " });
    expectPage(blank, 400, "Please give the passkey a name.");
    const control = await browser.post("/account/passkeys/rename", { passkey: passkeyId, name: "Lap\u0007top" });
    expectPage(control, 400, "Please give the passkey a name.");
    const long = await browser.post("/account/passkeys/rename", { passkey: passkeyId, name: "x".repeat(65) });
    expect(long.statusCode).toBe(400);
    await browser.visit(`/account/passkeys/rename?passkey=${passkeyId}`);
    const renamed = await browser.submit("/account/passkeys/rename", { passkey: passkeyId, name: " Work laptop " });
    expectPage(renamed, 200, "The passkey was renamed.");
    expect(textOf(renamed.body)).toContain("Work laptop Added");
    expect((await t.deps.store.listPasskeys(userId))[0]?.name).toBe("Work laptop");

    // Bob cannot see nor rename Alice's passkey: the same answer as for an id that does not exist.
    await t.createUser("bob@example.com");
    const bob = new PageClient(t);
    await passwordSignIn(bob, "bob@example.com");
    expectPage(await bob.visit(`/account/passkeys/rename?passkey=${passkeyId}`), 404, "That passkey does not exist.");
    expectPage(
      await bob.post("/account/passkeys/rename", { passkey: passkeyId, name: "Mine" }),
      404,
      "That passkey does not exist.",
    );
    expectPage(await bob.visit("/account/passkeys/rename?passkey=nope"), 404, "That passkey does not exist.");
    expect((await t.deps.store.listPasskeys(userId))[0]?.name).toBe("Work laptop");
  });

  it("answers the options routes' refusals as JSON words for the script: a session that ended, a malformed registration", async () => {
    const browser = new PageClient(t);
    await browser.get("/login");
    const ended = await browser.post("/reauth/passkey/options");
    expect(ended.statusCode).toBe(401);
    expect(ended.json()).toEqual({ message: expect.stringContaining("Your session has ended") });

    await t.createUser(EMAIL);
    await passwordSignIn(browser);
    await browser.visit("/account/passkeys/add");
    const bad = await browser.post("/account/passkeys/add", { credential: "{}", name: "X" });
    expectPage(bad, 400, "Your passkey's answer could not be read.");
    const none = await browser.post("/account/passkeys/add", { name: "X" });
    expect(none.statusCode).toBe(400);
    expect(await t.deps.store.listPasskeys(await t.deps.store.findUserByEmail(EMAIL).then((u) => u?.id ?? 0))).toEqual(
      [],
    );
  });
  it("with the app and a passkey, turning the app off is not the last method: 2FA stays on, the passkey second step first", async () => {
    const { userId, totp } = await enrolTotp(t, EMAIL);
    const browser = new PageClient(t);
    await passwordSignIn(browser);
    // No passkey yet: the second step offers none.
    const step = await browser.visit("/login/second-factor");
    expect(step.body).not.toContain("data-passkey");
    expect(textOf(step.body)).not.toContain("Use a passkey");
    const signedIn = await browser.post("/login/second-factor", { method: "totp", code: codeAt(totp, t.clock.now()) });
    expect(signedIn.statusCode).toBe(303);
    // The second factor just checked opens the add page (sudo); with 2FA on already, no new codes.
    const added = await registerOnPages(browser, new SoftAuthenticator({ origin: ORIGIN }), { name: "Key" });
    expect(added.headers.location).toBe("/account/passkeys?done=added");
    const overview = textOf((await browser.visit("/account/two-factor")).body);
    expect(overview).toContain("1 passkey.");

    const off = await browser.visit("/account/two-factor/totp/off");
    expectPage(off, 200, "Codes from your authenticator app will no longer be accepted.");
    expect(textOf(off.body)).not.toContain("This is your last method");
    const done = await browser.submit("/account/two-factor/totp/off");
    expectPage(done, 200, "The authenticator app is off.");
    expect((await t.deps.store.twoFactor(userId)).recoveryCodes?.remaining).toBe(10);

    const again = new PageClient(t);
    await passwordSignIn(again);
    const second = await again.visit("/login/second-factor");
    expectPage(second, 200, "Use your passkey");
    expect(second.body).not.toContain("method=totp");
  });
});

describe.each(testDialects())("passkey pages while passkeys are off ($name)", (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    // An issuer at an address (not loopback) and no LATCHKEY_PASSKEY_RP_ID: no relying party.
    t = await createTestApp(dialect, { env: { LATCHKEY_ISSUER: "http://10.0.0.5:8080" } });
  });
  afterEach(async () => t.close());

  it("shows no passkey anywhere, and the passkey paths answer the 404 page", async () => {
    expect(t.deps.flow.settings.passkeys).toBeUndefined();
    await t.createUser(EMAIL);
    const browser = new PageClient(t);
    const login = await browser.get("/login");
    expectPage(login, 200, "Sign in");
    expect(login.body).not.toMatch(/passkey|webauthn/i);
    // A form's path that does not exist: the API's 404 (pages answer GETs of browsers only).
    for (const path of ["/login/passkey/options", "/login/passkey", "/login/second-factor/passkey/options"]) {
      const res = await browser.post(path);
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ message: "ROUTE_NOT_FOUND" });
    }
    await passwordSignIn(browser);
    for (const path of ["/account", "/account/two-factor"]) {
      const page = await browser.visit(path);
      expect(page.statusCode).toBe(200);
      expect(page.body).not.toMatch(/passkey/i);
    }
    for (const path of ["/account/passkeys", "/account/passkeys/add", "/account/passkeys/rename?passkey=x"]) {
      expectPage(await browser.get(path), 404, "There is no page at this address.");
    }
    expect((await browser.post("/reauth/passkey/options", { _csrf: "" })).statusCode).toBe(404);
  });
});

describe.each(testDialects())("passkey sign-in under the per-address limit ($name)", (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect, { env: { LATCHKEY_RATE_LIMIT_PER_MINUTE: "3" } });
  });
  afterEach(async () => t.close());

  it("counts the options and the sign-in forms in the public forms' budget: over it, 429 and no challenge made", async () => {
    const browser = new PageClient(t);
    await browser.get("/login");
    for (let n = 0; n < 3; n++) json(await browser.post("/login/passkey/options"));
    const before = await challengeCount(t);
    const limited = await browser.post("/login/passkey/options");
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(await challengeCount(t)).toBe(before);
    await browser.get("/login");
    const form = await browser.post("/login/passkey", { credential: "{}" });
    expectPage(form, 429, "Too many attempts from your network.");
    // The same budget as the password form's.
    await browser.get("/login");
    expect((await browser.post("/login", { email: EMAIL, password: PASSWORD })).statusCode).toBe(429);
  });
});
