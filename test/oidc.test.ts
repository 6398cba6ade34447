import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { adminCreateClient } from "../src/core/flows/clients.js";
import { ACTIVATION_DELAY_MS } from "../src/core/tokens/signing-keys.js";
import { providerJwks } from "../src/oidc/provider.js";
import { createTestApp, type TestApp, testDialects } from "./support/harness.js";
import { closedPort } from "./support/smtp.js";

// The OpenID provider over real HTTP (a listening server): discovery, the keys, and every malformed
// authorization or token request answered with the OAuth error it should get (RFC 6749 §4.1.2.1 and
// §5.2), never a 500 and never a redirect to an address the client did not register. The whole sign-in
// runs in Chromium: test/browser/oidc.test.ts.

const META = { ip: null, userAgent: "test" };
const REDIRECT = "https://notes.example/callback";

describe.each(testDialects())("the OpenID provider on $name", (dialect) => {
  let t: TestApp;
  let base: string;
  let confidential: { clientId: string; clientSecret: string };
  let publicClientId: string;

  beforeEach(async () => {
    const port = await closedPort();
    base = `http://127.0.0.1:${port}`;
    t = await createTestApp(dialect, { env: { LATCHKEY_ISSUER: base } });
    await t.app.listen({ host: "127.0.0.1", port });
    const created = await adminCreateClient(
      t.deps.flow,
      { name: "Notes", type: "confidential", redirectUris: [REDIRECT] },
      META,
    );
    confidential = { clientId: created.clientId, clientSecret: created.clientSecret ?? "" };
    publicClientId = (
      await adminCreateClient(t.deps.flow, { name: "Phone app", type: "public", redirectUris: [REDIRECT] }, META)
    ).clientId;
  });

  afterEach(async () => {
    await t.close();
  });

  async function payloadRows(): Promise<number> {
    const row = await t.db
      .selectFrom("oidc_payloads")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  function authorize(params: Record<string, string>, init: RequestInit = {}) {
    return fetch(`${base}/oidc/auth?${new URLSearchParams(params)}`, { redirect: "manual", ...init });
  }

  const good = (): Record<string, string> => ({
    client_id: confidential.clientId,
    response_type: "code",
    redirect_uri: REDIRECT,
    scope: "openid email",
    state: "s1",
    code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    code_challenge_method: "S256",
  });

  function token(body: string, headers: Record<string, string> = {}) {
    return fetch(`${base}/oidc/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body,
    });
  }

  const basic = (id: string, secret: string) => ({
    authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`,
  });

  it("grows discovery from the issuer: endpoints under /oidc, the JWKS Latchkey publishes, S256 only", async () => {
    const discovery = (await (await fetch(`${base}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(discovery).toMatchObject({
      issuer: base,
      jwks_uri: `${base}/.well-known/jwks.json`,
      authorization_endpoint: `${base}/oidc/auth`,
      token_endpoint: `${base}/oidc/token`,
      userinfo_endpoint: `${base}/oidc/userinfo`,
      end_session_endpoint: `${base}/oidc/logout`,
      code_challenge_methods_supported: ["S256"],
      response_types_supported: ["code"],
    });
    expect((discovery.id_token_signing_alg_values_supported as string[]).sort()).toEqual(["EdDSA", "RS256"]);
    expect(discovery.acr_values_supported).toEqual(["urn:latchkey:acr:pwd", "urn:latchkey:acr:mfa"]);
    // A Host header of another name changes none of it.
    const spoofed = await t.app.inject({
      method: "GET",
      url: "/.well-known/openid-configuration",
      headers: { host: "evil.example", "x-forwarded-host": "evil.example" },
    });
    expect(spoofed.json().authorization_endpoint).toBe(`${base}/oidc/auth`);
    // The RSA key that signs ID tokens is published beside the Ed25519 one, public parts only.
    const jwks = (await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.map((key) => key.alg).sort()).toEqual(["EdDSA", "RS256"]);
    for (const key of jwks.keys) expect(key.d).toBeUndefined();
  });

  it("answers a request naming no client, an unknown client or an unregistered address with a page, not a redirect", async () => {
    const before = await payloadRows();
    const cases: Record<string, string>[] = [
      {},
      { ...good(), client_id: "nobody" },
      { ...good(), redirect_uri: "https://evil.example/callback" },
      { ...good(), redirect_uri: `${REDIRECT}/more` },
      { ...good(), redirect_uri: "not a url" },
    ];
    for (const params of cases) {
      const answer = await authorize(params, { headers: { accept: "text/html" } });
      expect(answer.status, JSON.stringify(params)).toBe(400);
      expect(answer.headers.get("location")).toBeNull();
      expect(answer.headers.get("content-type")).toMatch(/text\/html/);
      expect(await answer.text()).toContain("This request cannot go on");
    }
    // client_id twice is not a client at all.
    const twice = await fetch(
      `${base}/oidc/auth?${new URLSearchParams(good())}&client_id=${encodeURIComponent(confidential.clientId)}`,
      { redirect: "manual" },
    );
    expect(twice.status).toBe(400);
    expect(twice.headers.get("location")).toBeNull();
    expect(await payloadRows()).toBe(before);
  });

  it("sends the other malformed authorization requests back to the registered address with their error", async () => {
    const before = await payloadRows();
    const cases: [Record<string, string>, string][] = [
      [{ ...good(), response_type: "token" }, "unsupported_response_type"],
      [{ ...good(), response_type: "" }, "invalid_request"],
      [{ ...good(), code_challenge: "" }, "invalid_request"],
      [{ ...good(), code_challenge_method: "plain" }, "invalid_request"],
      [{ ...good(), code_challenge: "short" }, "invalid_request"],
      [{ ...good(), prompt: "sideways" }, "invalid_request"],
      [{ ...good(), max_age: "-1" }, "invalid_request"],
      [{ ...good(), client_id: publicClientId, code_challenge: "" }, "invalid_request"],
    ];
    for (const [params, error] of cases) {
      const answer = await authorize(params);
      expect(answer.status, JSON.stringify(params)).toBe(303);
      const location = new URL(answer.headers.get("location") ?? "", "http://no-location.invalid");
      expect(`${location.origin}${location.pathname}`, JSON.stringify(params)).toBe(REDIRECT);
      // A response type that would answer in the fragment gets its error there.
      const answered = location.hash ? new URLSearchParams(location.hash.slice(1)) : location.searchParams;
      expect(answered.get("error"), JSON.stringify(params)).toBe(error);
      expect(answered.get("state")).toBe("s1");
      expect(answered.get("iss")).toBe(base);
    }
    expect(await payloadRows()).toBe(before);
  });

  it("answers malformed token requests with their OAuth error, never a 500", async () => {
    const auth = basic(confidential.clientId, confidential.clientSecret);
    const cases: [string, Record<string, string>, number, string][] = [
      // No client named at all: the request lacks a parameter (§5.2 invalid_request).
      ["grant_type=authorization_code&code=x", {}, 400, "invalid_request"],
      ["grant_type=authorization_code&code=x", basic("nobody", "secret"), 401, "invalid_client"],
      ["grant_type=authorization_code&code=x", basic(confidential.clientId, "wrong"), 401, "invalid_client"],
      ["", auth, 400, "invalid_request"],
      ["grant_type=password&username=a&password=b", auth, 400, "unsupported_grant_type"],
      ["grant_type=client_credentials", auth, 400, "unsupported_grant_type"],
      [`grant_type=authorization_code&redirect_uri=${encodeURIComponent(REDIRECT)}`, auth, 400, "invalid_request"],
      [
        `grant_type=authorization_code&code=forged&code_verifier=${"a".repeat(43)}&redirect_uri=${encodeURIComponent(REDIRECT)}`,
        auth,
        400,
        "invalid_grant",
      ],
      ["grant_type=refresh_token&refresh_token=forged", auth, 400, "invalid_grant"],
      [`grant_type=refresh_token&refresh_token=${"x".repeat(5000)}`, auth, 400, "invalid_grant"],
      [`client_id=${publicClientId}&grant_type=authorization_code&code=x`, {}, 400, "invalid_grant"],
    ];
    for (const [body, headers, status, error] of cases) {
      const answer = await token(body, headers);
      expect(answer.status, body.slice(0, 80)).toBe(status);
      expect(((await answer.json()) as { error: string }).error, body.slice(0, 80)).toBe(error);
    }
    const json = await fetch(`${base}/oidc/token`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: "{not json",
    });
    expect(json.status).toBe(400);
    const get = await fetch(`${base}/oidc/token`);
    expect(get.status).toBeGreaterThanOrEqual(400);
    expect(get.status).toBeLessThan(500);
  });

  it("answers a browser application's preflight for the token endpoint, and its token request from a registered origin", async () => {
    const preflight = await fetch(`${base}/oidc/token`, {
      method: "OPTIONS",
      headers: {
        origin: "https://notes.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://notes.example");
    // The answer itself is shared only with an origin of the client's redirect URIs.
    const body = `client_id=${publicClientId}&grant_type=authorization_code&code=x&code_verifier=${"a".repeat(43)}&redirect_uri=${encodeURIComponent(REDIRECT)}`;
    const mine = await token(body, { origin: "https://notes.example" });
    expect(mine.status).toBe(400);
    expect(mine.headers.get("access-control-allow-origin")).toBe("https://notes.example");
    const theirs = await token(body, { origin: "https://evil.example" });
    expect(theirs.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers prompt=none without a signed-in browser with login_required, at the registered address", async () => {
    const answer = await authorize({ ...good(), prompt: "none" });
    expect(answer.status).toBe(303);
    const location = new URL(answer.headers.get("location") ?? "", "http://no-location.invalid");
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get("error")).toBe("login_required");
  });

  it("rotates the RSA key with the Ed25519 one: published at once, signing ID tokens after the delay, pruned later", async () => {
    await fetch(`${base}/.well-known/openid-configuration`);
    const rsaKids = async () =>
      ((await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: { kid: string; alg: string }[] }).keys
        .filter((key) => key.alg === "RS256")
        .map((key) => key.kid);
    const [first] = await rsaKids();
    const signingRsa = () =>
      providerJwks(t.deps.keys).keys.find((key) => key.alg === "RS256" && key.key_ops === undefined);
    expect(signingRsa()?.kid).toBe(first);
    await t.deps.keys.rotate();
    const both = await rsaKids();
    expect(both).toHaveLength(2);
    const second = both.find((kid) => kid !== first);
    // Published, but the old key still signs until the new one's time comes.
    expect(signingRsa()?.kid).toBe(first);
    t.clock.advanceSeconds(ACTIVATION_DELAY_MS / 1000);
    expect(signingRsa()?.kid).toBe(second);
    // The provider may verify with the retired key (an id_token_hint it signed), never sign.
    const retired = providerJwks(t.deps.keys).keys.find((key) => key.kid === first);
    expect(retired?.key_ops).toEqual(["verify"]);
    t.clock.advanceSeconds(t.config.tokens.refreshTtlSeconds + 120);
    await t.deps.keys.prune(t.config.tokens.refreshTtlSeconds);
    expect(await rsaKids()).toEqual([second]);
  });

  it("deletes expired artifacts on its timer, a minute past their end, and keeps the live ones", async () => {
    const row = (idHash: string, expiresAt: number) => ({
      model: "AuthorizationCode",
      idHash,
      payload: "{}",
      grantId: null,
      uidHash: null,
      userCode: null,
      expiresAt,
    });
    await t.deps.store.upsertOidcPayload(row("old", t.clock.now() - 61_000));
    await t.deps.store.upsertOidcPayload(row("just-expired", t.clock.now() - 1_000));
    await t.deps.store.upsertOidcPayload(row("live", t.clock.now() + 60_000));
    await t.scheduler.fire();
    const left = await t.db.selectFrom("oidc_payloads").select("id_hash").orderBy("id_hash").execute();
    expect(left.map((r) => r.id_hash)).toEqual(["just-expired", "live"]);
  });

  it("refuses userinfo without a token or with a forged one", async () => {
    expect((await fetch(`${base}/oidc/userinfo`)).status).toBe(401);
    const forged = await fetch(`${base}/oidc/userinfo`, { headers: { authorization: "Bearer forged" } });
    expect(forged.status).toBe(401);
    expect(forged.headers.get("www-authenticate")).toMatch(/invalid_token/);
  });

  it("is off with LATCHKEY_OIDC=off: /oidc answers 404 and discovery names only the issuer and keys", async () => {
    const off = await createTestApp(dialect, { env: { LATCHKEY_OIDC: "off" } });
    try {
      expect((await off.app.inject({ method: "GET", url: "/oidc/auth" })).statusCode).toBe(404);
      const discovery = (await off.app.inject({ method: "GET", url: "/.well-known/openid-configuration" })).json();
      expect(discovery).toMatchObject({
        issuer: "http://latchkey.test",
        id_token_signing_alg_values_supported: ["EdDSA"],
      });
      expect(discovery.authorization_endpoint).toBeUndefined();
    } finally {
      await off.close();
    }
  });
});
