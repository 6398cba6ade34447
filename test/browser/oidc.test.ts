import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import * as oidc from "openid-client";
import type { Page } from "playwright-core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { adminSetDisabled } from "../../src/core/flows/admin.js";
import { adminCreateClient, adminUpdateClient } from "../../src/core/flows/clients.js";
import { ACTIVATION_DELAY_MS } from "../../src/core/tokens/signing-keys.js";
import { ManualClock } from "../../src/platform/clock.js";
import { describeBrowser, look, newContext, screenshot, useBrowser } from "../support/browser.js";
import { createTestApp, type TestApp, testDialects } from "../support/harness.js";
import { PASSWORD } from "../support/http.js";
import { closedPort } from "../support/smtp.js";
import { codeAt, type Enrolled, enrolTotp } from "../two-factor/support.js";

// "Sign in with Latchkey" in Chromium: openid-client as the relying party of a real application (a
// server on another port), through the code flow with PKCE, a user with TOTP, consent, the ID token
// checked against the JWKS, /userinfo, refresh, RP-initiated logout; and what must be refused.

const META = { ip: null, userAgent: "test" };

/** The relying party's address: a server that records where the browser was sent back to. */
interface RelyingParty {
  url: string;
  seen: URL[];
  close(): Promise<void>;
}

async function startRelyingParty(): Promise<RelyingParty> {
  const seen: URL[] = [];
  const server: Server = createServer((request, response) => {
    seen.push(new URL(request.url ?? "/", `http://${request.headers.host}`));
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end('<!doctype html><html lang="en"><head><title>Notes</title></head><body><h1>Notes</h1></body></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describeBrowser("Sign in with Latchkey (OpenID Connect)", () => {
  const browser = useBrowser();

  describe.each(testDialects())("on $name", (dialect) => {
    let t: TestApp;
    let base: string;
    let rp: RelyingParty;
    let alice: Enrolled;
    let clientId: string;
    let clientSecret: string;
    let config: oidc.Configuration;

    beforeEach(async () => {
      const port = await closedPort();
      base = `http://127.0.0.1:${port}`;
      // The provider keeps time by the system's clock; the app's clock starts there too.
      t = await createTestApp(dialect, { env: { LATCHKEY_ISSUER: base }, clock: new ManualClock(Date.now()) });
      await t.app.listen({ host: "127.0.0.1", port });
      rp = await startRelyingParty();
      alice = await enrolTotp(t, "alice@example.com");
      const created = await adminCreateClient(
        t.deps.flow,
        {
          name: "Notes",
          type: "confidential",
          redirectUris: [`${rp.url}/callback`],
          postLogoutRedirectUris: [`${rp.url}/signed-out`],
          scopes: ["openid", "email", "offline_access"],
        },
        META,
      );
      clientId = created.clientId;
      clientSecret = created.clientSecret ?? "";
      config = await oidc.discovery(new URL(base), clientId, clientSecret, oidc.ClientSecretBasic(clientSecret), {
        execute: [oidc.allowInsecureRequests],
      });
    });

    afterEach(async () => {
      await rp.close();
      await t.close();
    });

    interface Request {
      verifier: string;
      state: string;
      nonce: string;
      url: URL;
    }

    async function authorizationRequest(extra: Record<string, string> = {}): Promise<Request> {
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: `${rp.url}/callback`,
        scope: "openid email offline_access",
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
        state,
        nonce,
        prompt: "consent",
        ...extra,
      });
      return { verifier, state, nonce, url };
    }

    /** Follows navigations until the browser is back at the relying party. */
    async function backAtApplication(page: Page): Promise<URL> {
      await page.waitForURL((url) => url.toString().startsWith(rp.url), { timeout: 10_000 });
      return new URL(page.url());
    }

    /** Signs in on the hosted pages (password, then TOTP), consents, and returns the callback URL. */
    async function signInAndConsent(page: Page, request: Request, shots = false): Promise<URL> {
      await page.goto(request.url.toString());
      await page.waitForURL(/\/login\?return_to=/);
      if (shots) await screenshot(page, "oidc-sign-in");
      await page.getByLabel("Email address").fill("alice@example.com");
      await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await page.waitForURL(/\/login\/second-factor/);
      await page.getByLabel("6-digit code").fill(codeAt(alice.totp, t.clock.now()));
      await page.getByRole("button", { name: "Verify" }).click();
      await page.waitForURL(/\/oidc\/interaction\//);
      await page.getByRole("button", { name: "Allow" }).waitFor();
      if (shots) await look(page, "oidc-consent");
      await page.getByRole("button", { name: "Allow" }).click();
      return backAtApplication(page);
    }

    async function tokenRequest(body: Record<string, string>, auth = clientSecret) {
      return fetch(`${base}/oidc/token`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(auth)}`).toString("base64")}`,
        },
        body: new URLSearchParams(body).toString(),
      });
    }

    it("signs a 2FA user in to an application: code + PKCE, ID token by the JWKS, userinfo, refresh, logout", async () => {
      const context = await newContext(browser());
      const page = await context.newPage();
      const request = await authorizationRequest();
      const callback = await signInAndConsent(page, request, true);
      expect(callback.pathname).toBe("/callback");

      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: request.verifier,
        expectedState: request.state,
        expectedNonce: request.nonce,
      });
      const idToken = tokens.id_token ?? "";
      expect(decodeProtectedHeader(idToken).alg).toBe("RS256");
      // Verified against the published keys, as any application would.
      const jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
      const { payload } = await jwtVerify(idToken, jwks, { issuer: base, audience: clientId });
      expect(payload.sub).toBe(String(alice.userId));
      expect(payload.nonce).toBe(request.nonce);
      expect(payload.amr).toEqual(["pwd", "otp", "mfa"]);
      expect(payload.acr).toBe("urn:latchkey:acr:mfa");
      expect(typeof payload.auth_time).toBe("number");

      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, String(alice.userId));
      expect(userinfo).toMatchObject({ sub: String(alice.userId), email: "alice@example.com" });

      // Refresh rotates: the new token works, the old one is refused.
      const refreshToken = tokens.refresh_token ?? "";
      expect(refreshToken).not.toBe("");
      const refreshed = await oidc.refreshTokenGrant(config, refreshToken);
      expect(refreshed.refresh_token).toBeDefined();
      expect(refreshed.refresh_token).not.toBe(refreshToken);
      const reused = await tokenRequest({ grant_type: "refresh_token", refresh_token: refreshToken });
      expect(reused.status).toBe(400);
      expect(((await reused.json()) as { error: string }).error).toBe("invalid_grant");
      // The old token's reuse ended the grant: its successor is refused too.
      const successor = await tokenRequest({
        grant_type: "refresh_token",
        refresh_token: refreshed.refresh_token ?? "",
      });
      expect(successor.status).toBe(400);

      // RP-initiated logout: the person confirms, and is signed out of Latchkey's pages too.
      const logout = oidc.buildEndSessionUrl(config, {
        id_token_hint: idToken,
        post_logout_redirect_uri: `${rp.url}/signed-out`,
        state: "bye",
      });
      await page.goto(logout.toString());
      await page.getByRole("button", { name: "Yes, sign me out" }).waitFor();
      await look(page, "oidc-logout");
      await page.getByRole("button", { name: "Yes, sign me out" }).click();
      const after = await backAtApplication(page);
      expect(after.pathname).toBe("/signed-out");
      expect(after.searchParams.get("state")).toBe("bye");
      await page.goto(`${base}/account`);
      await page.waitForURL(/\/login/);
      await context.close();
    });

    it("signs a browser already signed in straight through, and asks again for prompt=login", async () => {
      const context = await newContext(browser());
      const page = await context.newPage();
      await signInAndConsent(page, await authorizationRequest());
      // Consent given and a page session there: no page to stop at.
      const again = await authorizationRequest({ prompt: "" });
      await page.goto(again.url.toString());
      const callback = await backAtApplication(page);
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: again.verifier,
        expectedState: again.state,
        expectedNonce: again.nonce,
      });
      expect(tokens.claims()?.sub).toBe(String(alice.userId));
      // A client that asks for EdDSA gets its ID tokens signed with the Ed25519 key of the same JWKS.
      await adminUpdateClient(t.deps.flow, clientId, { idTokenSigningAlg: "EdDSA" }, META);
      const eddsa = await authorizationRequest({ prompt: "" });
      await page.goto(eddsa.url.toString());
      const eddsaTokens = await oidc.authorizationCodeGrant(config, await backAtApplication(page), {
        pkceCodeVerifier: eddsa.verifier,
        expectedState: eddsa.state,
        expectedNonce: eddsa.nonce,
      });
      const eddsaId = eddsaTokens.id_token ?? "";
      expect(decodeProtectedHeader(eddsaId).alg).toBe("EdDSA");
      const jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
      await expect(jwtVerify(eddsaId, jwks, { issuer: base, audience: clientId })).resolves.toBeDefined();
      // prompt=login: the sign-in form again, even with a page session.
      const fresh = await authorizationRequest({ prompt: "login" });
      await page.goto(fresh.url.toString());
      await page.waitForURL(/\/login\?return_to=.*reauth=1/);
      await page.getByLabel("Email address").waitFor();
      await context.close();
    });

    it("lets a first-party public client in with PKCE and no consent page; max_age asks for a new sign-in", async () => {
      const app = await adminCreateClient(
        t.deps.flow,
        { name: "Dashboard", type: "public", redirectUris: [`${rp.url}/callback`], firstParty: true },
        META,
      );
      const publicConfig = await oidc.discovery(new URL(base), app.clientId, undefined, oidc.None(), {
        execute: [oidc.allowInsecureRequests],
      });
      const context = await newContext(browser());
      const page = await context.newPage();
      const signInThrough = async (extra: Record<string, string>) => {
        const verifier = oidc.randomPKCECodeVerifier();
        const state = oidc.randomState();
        const url = oidc.buildAuthorizationUrl(publicConfig, {
          redirect_uri: `${rp.url}/callback`,
          scope: "openid",
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: "S256",
          state,
          ...extra,
        });
        await page.goto(url.toString());
        await page.waitForURL(/\/login\?return_to=/);
        await page.getByLabel("Email address").fill("alice@example.com");
        await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
        await page.getByRole("button", { name: "Sign in", exact: true }).click();
        await page.waitForURL(/\/login\/second-factor/);
        t.clock.advanceSeconds(30);
        await page.getByLabel("6-digit code").fill(codeAt(alice.totp, t.clock.now()));
        await page.getByRole("button", { name: "Verify" }).click();
        // First-party: straight back to the application, no consent page on the way.
        const callback = await backAtApplication(page);
        return oidc.authorizationCodeGrant(publicConfig, callback, {
          pkceCodeVerifier: verifier,
          expectedState: state,
        });
      };
      const first = await signInThrough({});
      expect(first.claims()?.sub).toBe(String(alice.userId));
      expect(rp.seen.filter((url) => url.pathname === "/callback")).toHaveLength(1);
      // prompt=none with the browser signed in: a code at once. Two exchanges of it at the same
      // moment: exactly one gets tokens.
      const verifier = oidc.randomPKCECodeVerifier();
      const silent = oidc.buildAuthorizationUrl(publicConfig, {
        redirect_uri: `${rp.url}/callback`,
        scope: "openid",
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
        prompt: "none",
      });
      await page.goto(silent.toString());
      const code = (await backAtApplication(page)).searchParams.get("code") ?? "";
      const exchange = () =>
        fetch(`${base}/oidc/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            client_id: app.clientId,
            grant_type: "authorization_code",
            code,
            code_verifier: verifier,
            redirect_uri: `${rp.url}/callback`,
          }).toString(),
        });
      const raced = await Promise.all([exchange(), exchange()]);
      expect(raced.map((answer) => answer.status).sort()).toEqual([200, 400]);
      // The race was a code used twice, so its grant is gone: the next sign-in passes by the
      // interaction again (no page for a first-party client). A rotated RSA key signs its ID token
      // once the key's time has come, without a restart.
      await t.deps.keys.rotate();
      t.clock.advanceSeconds(ACTIVATION_DELAY_MS / 1000);
      const rotatedKid = t.deps.keys.active("RS256").kid;
      const verifier2 = oidc.randomPKCECodeVerifier();
      const silent2 = oidc.buildAuthorizationUrl(publicConfig, {
        redirect_uri: `${rp.url}/callback`,
        scope: "openid",
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier2),
        code_challenge_method: "S256",
      });
      await page.goto(silent2.toString());
      const back2 = await backAtApplication(page);
      expect(back2.searchParams.get("error_description") ?? "").toBe("");
      const rotated = await oidc.authorizationCodeGrant(publicConfig, back2, {
        pkceCodeVerifier: verifier2,
      });
      expect(decodeProtectedHeader(rotated.id_token ?? "").kid).toBe(rotatedKid);
      // max_age=0: the page session there is too old, so the sign-in form comes again (reauth).
      const again = await signInThrough({ max_age: "0" });
      expect(again.claims()?.sub).toBe(String(alice.userId));
      expect(typeof again.claims()?.auth_time).toBe("number");
      await context.close();
    });

    it("refuses a code used twice and revokes what it gave, a wrong verifier, a wrong secret", async () => {
      const context = await newContext(browser());
      const page = await context.newPage();
      const request = await authorizationRequest();
      const callback = await signInAndConsent(page, request);
      const code = callback.searchParams.get("code") ?? "";
      const exchange = {
        grant_type: "authorization_code",
        code,
        redirect_uri: `${rp.url}/callback`,
        code_verifier: request.verifier,
      };
      const wrongSecret = await tokenRequest(exchange, `${clientSecret}x`);
      expect(wrongSecret.status).toBe(401);
      expect(((await wrongSecret.json()) as { error: string }).error).toBe("invalid_client");
      const noVerifier = await tokenRequest({ ...exchange, code_verifier: "" });
      expect(noVerifier.status).toBe(400);
      const wrongVerifier = await tokenRequest({ ...exchange, code_verifier: oidc.randomPKCECodeVerifier() });
      expect(wrongVerifier.status).toBe(400);
      expect(((await wrongVerifier.json()) as { error: string }).error).toBe("invalid_grant");
      // The failed attempts did not use the code up.
      const first = await tokenRequest(exchange);
      expect(first.status).toBe(200);
      const tokens = (await first.json()) as { access_token: string; refresh_token: string };
      const second = await tokenRequest(exchange);
      expect(second.status).toBe(400);
      expect(((await second.json()) as { error: string }).error).toBe("invalid_grant");
      // The tokens the code gave are revoked.
      const userinfo = await fetch(`${base}/oidc/userinfo`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      });
      expect(userinfo.status).toBe(401);
      const refresh = await tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh_token });
      expect(refresh.status).toBe(400);
      // A user disabled since gets nothing more from a grant that is still good.
      // (The reuse ended the grant, so the person consents again.)
      const later = await authorizationRequest();
      await page.goto(later.url.toString());
      await page.getByRole("button", { name: "Allow" }).click();
      const laterCode = (await backAtApplication(page)).searchParams.get("code") ?? "";
      const laterTokens = (await (
        await tokenRequest({ ...exchange, code: laterCode, code_verifier: later.verifier })
      ).json()) as { access_token: string; refresh_token: string };
      await adminSetDisabled(t.deps.flow, alice.userId, true, META);
      const disabledInfo = await fetch(`${base}/oidc/userinfo`, {
        headers: { authorization: `Bearer ${laterTokens.access_token}` },
      });
      expect(disabledInfo.status).toBe(401);
      const disabledRefresh = await tokenRequest({
        grant_type: "refresh_token",
        refresh_token: laterTokens.refresh_token,
      });
      expect(disabledRefresh.status).toBe(400);
      expect(((await disabledRefresh.json()) as { error: string }).error).toBe("invalid_grant");
      await context.close();
    });

    it("never sends the browser to an address the client did not register, nor for an unknown client", async () => {
      const context = await newContext(browser());
      const page = await context.newPage();
      const request = await authorizationRequest({ redirect_uri: `${rp.url}/elsewhere` });
      const answer = await page.goto(request.url.toString());
      expect(answer?.status()).toBe(400);
      await page.getByRole("heading", { name: "This request cannot go on" }).waitFor();
      await expect(page.getByText("redirect_uri").count()).resolves.toBeGreaterThan(0);
      await look(page, "oidc-error");
      const unknown = new URL(request.url);
      unknown.searchParams.set("client_id", "nobody");
      unknown.searchParams.set("redirect_uri", `${rp.url}/callback`);
      expect((await page.goto(unknown.toString()))?.status()).toBe(400);
      expect(rp.seen).toEqual([]);
      await context.close();
    });

    it("lets a person deny, in French and without JavaScript, and the application hears access_denied", async () => {
      const context = await newContext(browser(), { locale: "fr-FR", javaScriptEnabled: false });
      const page = await context.newPage();
      const request = await authorizationRequest();
      await page.goto(request.url.toString());
      await page.waitForURL(/\/login\?return_to=/);
      await page.getByLabel("Adresse e-mail").fill("alice@example.com");
      await page.getByLabel("Mot de passe", { exact: true }).fill(PASSWORD);
      await page.getByRole("button", { name: "Se connecter", exact: true }).click();
      await page.waitForURL(/\/login\/second-factor/);
      await page.getByLabel("Code à 6 chiffres").fill(codeAt(alice.totp, t.clock.now()));
      await page.getByRole("button", { name: "Vérifier" }).click();
      await page.getByRole("button", { name: "Refuser" }).waitFor();
      // (axe needs JavaScript: the consent page is checked by it in the first test.)
      await screenshot(page, "oidc-consent-fr");
      await page.getByRole("button", { name: "Refuser" }).click();
      const callback = await backAtApplication(page);
      expect(callback.searchParams.get("error")).toBe("access_denied");
      expect(callback.searchParams.get("state")).toBe(request.state);
      await context.close();
    });
  });
});
