import { describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "../support/harness.js";
import { call, expectError, get, PASSWORD, post, signIn, tokensOf } from "../support/http.js";
import { SoftAuthenticator } from "../support/webauthn.js";
import {
  challengeStored,
  enable,
  enrolPasskey,
  passkeyLogin,
  passkeyRows,
  passkeySession,
  registrationOptions,
  signInOptions,
} from "./support.js";

/** Runs `body` with an app of these settings, closing it whatever happens. */
async function withApp(
  dialect: Parameters<typeof createTestApp>[0],
  env: Record<string, string>,
  body: (t: TestApp) => Promise<void>,
) {
  const t = await createTestApp(dialect, { env });
  try {
    await body(t);
  } finally {
    await t.close();
  }
}

const ROUTES: [string, string][] = [
  ["POST", "/user/2fa/passkey/setup"],
  ["POST", "/user/2fa/passkey/enable"],
  ["GET", "/user/2fa/passkeys"],
  ["PATCH", "/user/2fa/passkeys/AAAA"],
  ["DELETE", "/user/2fa/passkeys/AAAA"],
  ["POST", "/user/2fa/passkey/challenge"],
  ["POST", "/user/2fa/passkey/authenticate"],
  ["POST", "/auth/passkey/challenge"],
  ["POST", "/auth/passkey/login"],
];

describe.each(testDialects())("the relying party from the settings on $name", (dialect) => {
  const configured = {
    LATCHKEY_ISSUER: "https://login.example.com",
    LATCHKEY_PASSKEY_RP_ID: "example.com",
    LATCHKEY_PASSKEY_ORIGINS: "https://login.example.com, https://app.example.com",
    LATCHKEY_PASSKEY_RP_NAME: "Example Inc.",
  };

  it("configured: options name the RP id and name; any listed origin registers and signs in", async () => {
    await withApp(dialect, configured, async (t) => {
      const userId = await t.createUser("alice@example.com", PASSWORD);
      const { access } = await signIn(t, "alice@example.com");
      const options = await registrationOptions(t, access);
      expect(options.rp).toEqual({ id: "example.com", name: "Example Inc." });
      // Registered from the app's origin, used from the login page's: one RP id, two origins.
      const onApp = new SoftAuthenticator({ origin: "https://app.example.com" });
      const credential = onApp.register(options);
      expect((await enable(t, access, credential)).statusCode).toBe(200);
      const request = await signInOptions(t);
      expect(request.rpId).toBe("example.com");
      tokensOf(await passkeyLogin(t, onApp.assert(request, { origin: "https://login.example.com" })));
      expect((await passkeyRows(t, userId))[0]?.counter).toBe(1);
    });
  });

  it("configured: an origin not in the list is 401 PASSKEY_INVALID, a sibling subdomain and the bare domain too", async () => {
    await withApp(dialect, configured, async (t) => {
      await t.createUser("alice@example.com", PASSWORD);
      const { access } = await signIn(t, "alice@example.com");
      const authenticator = new SoftAuthenticator({ origin: "https://login.example.com" });
      for (const origin of ["https://evil.example.com", "https://example.com", "http://login.example.com"]) {
        const options = await registrationOptions(t, access);
        expectError(await enable(t, access, authenticator.register(options, { origin })), 401, "PASSKEY_INVALID");
        expect(await challengeStored(t, options)).toBe(false);
      }
      expect(await passkeyRows(t)).toEqual([]);
      expect((await get(t, "/user/2fa", access)).json()).toEqual({ enabled: false });

      const credential = authenticator.register(await registrationOptions(t, access));
      expect((await enable(t, access, credential)).statusCode).toBe(200);
      const request = await signInOptions(t);
      const res = await passkeyLogin(t, authenticator.assert(request, { origin: "https://app.example.org" }));
      expectError(res, 401, "PASSKEY_INVALID");
      // Authenticator data for the issuer's host rather than the configured RP id.
      const wrongRp = await passkeyLogin(
        t,
        authenticator.assert(await signInOptions(t), { rpId: "login.example.com" }),
      );
      expectError(wrongRp, 401, "PASSKEY_INVALID");
      expect(await t.db.selectFrom("sessions").select("id").execute()).toHaveLength(1); // the password login's
    });
  });

  it("a registration for another RP id is 401 PASSKEY_INVALID, nothing stored", async () => {
    await withApp(dialect, configured, async (t) => {
      await t.createUser("alice@example.com", PASSWORD);
      const { access } = await signIn(t, "alice@example.com");
      const authenticator = new SoftAuthenticator({ origin: "https://login.example.com" });
      const options = await registrationOptions(t, access);
      expectError(
        await enable(t, access, authenticator.register(options, { rpId: "login.example.com" })),
        401,
        "PASSKEY_INVALID",
      );
      expect(await passkeyRows(t)).toEqual([]);
    });
  });

  it("a loopback issuer: RP id localhost, and the localhost origin of its port", async () => {
    await withApp(dialect, { LATCHKEY_ISSUER: "http://127.0.0.1:8080" }, async (t) => {
      await t.createUser("alice@example.com", PASSWORD);
      const { access } = await signIn(t, "alice@example.com");
      const options = await registrationOptions(t, access);
      expect(options.rp.id).toBe("localhost");
      const authenticator = new SoftAuthenticator({ origin: "http://localhost:8080" });
      expect((await enable(t, access, authenticator.register(options))).statusCode).toBe(200);
      tokensOf(await passkeyLogin(t, authenticator.assert(await signInOptions(t))));
      const elsewhere = authenticator.assert(await signInOptions(t), { origin: "http://localhost:9090" });
      expectError(await passkeyLogin(t, elsewhere), 401, "PASSKEY_INVALID");
    });
  });

  it("an issuer at an IP address that is not loopback, with no RP id: passkeys are off, every route 404", async () => {
    await withApp(dialect, { LATCHKEY_ISSUER: "http://10.0.0.5:8080" }, async (t) => {
      await t.createUser("alice@example.com", PASSWORD);
      const { access } = await signIn(t, "alice@example.com");
      for (const [method, url] of ROUTES) {
        const res = await t.app.inject({
          method: method as "GET",
          url,
          headers: { authorization: `Bearer ${access}` },
          ...(method === "GET" || method === "DELETE" ? {} : { payload: {} }),
        });
        expectError(res, 404, "ROUTE_NOT_FOUND");
      }
      expect(await t.db.selectFrom("webauthn_challenges").selectAll().execute()).toEqual([]);
      // The rest is as before: 2FA state without passkeys, the password login.
      expect((await get(t, "/user/2fa", access)).json()).toEqual({ enabled: false });
      expect(
        (await call(t, "POST", "/auth/login", undefined, { username: "alice@example.com", password: PASSWORD }))
          .statusCode,
      ).toBe(200);
      // The OpenAPI document does not list them either.
      const doc = (await get(t, "/openapi.json")).json();
      expect(Object.keys(doc.paths).filter((p) => p.includes("passkey"))).toEqual([]);
    });
  });

  it("a browser app on a CORS origin may use every passkey route: the preflight allows their methods", async () => {
    await withApp(dialect, { LATCHKEY_CORS_ORIGINS: "https://app.example.com" }, async (t) => {
      for (const [method, url] of ROUTES) {
        const preflight = await t.app.inject({
          method: "OPTIONS",
          url,
          headers: {
            origin: "https://app.example.com",
            "access-control-request-method": method,
            "access-control-request-headers": "authorization, content-type",
          },
        });
        expect(preflight.statusCode, `${method} ${url}`).toBe(204);
        expect(preflight.headers["access-control-allow-origin"]).toBe("https://app.example.com");
        expect(String(preflight.headers["access-control-allow-methods"]).split(/, */)).toContain(method);
      }
      // The rename itself, as the browser then sends it.
      const alice = await enrolPasskey(t);
      const { accessToken } = await passkeySession(t, alice.authenticator);
      const renamed = await t.app.inject({
        method: "PATCH",
        url: `/user/2fa/passkeys/${alice.passkeyId}`,
        headers: { origin: "https://app.example.com", authorization: `Bearer ${accessToken}` },
        payload: { name: "Phone" },
      });
      expect(renamed.statusCode).toBe(200);
      expect(renamed.headers["access-control-allow-origin"]).toBe("https://app.example.com");
    });
  });

  it("an IP issuer with an RP id configured: passkeys on", async () => {
    await withApp(
      dialect,
      {
        LATCHKEY_ISSUER: "http://10.0.0.5:8080",
        LATCHKEY_PASSKEY_RP_ID: "example.com",
        LATCHKEY_PASSKEY_ORIGINS: "https://login.example.com",
      },
      async (t) => {
        const res = await post(t, "/auth/passkey/challenge", undefined, {});
        expect(res.statusCode).toBe(200);
        expect(res.json().rpId).toBe("example.com");
      },
    );
  });
});
