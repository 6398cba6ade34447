import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "../support/harness.js";
import { bearer, ENVELOPE_ERRORS, expectError, login, PASSWORD, signIn } from "../support/http.js";
import { snapshot } from "../support/snapshot.js";
import {
  authenticate,
  challengeStored,
  type Enrolled,
  enable,
  enrolPasskey,
  expectSchemaError,
  newAuthenticator,
  passkeyLogin,
  passkeySession,
  patch,
  registrationOptions,
  secondFactorOptions,
  signInOptions,
  snapshotExcept,
} from "./support.js";

type Json = Record<string, unknown>;
type Credential = Json & { response?: Json };

/** A copy of `value` with `change` applied to its `credential`. */
function withCredential(credential: object, change: (c: Credential & { response: Json }) => void): Json {
  const copy = structuredClone(credential) as Json & { response: Json };
  change(copy);
  return copy;
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64url");

/** Bodies that break the schema, for any credential: [what, change]. */
const SCHEMA_BREAKS: [string, (c: Credential & { response: Json }) => void][] = [
  ["a wrong type", (c) => (c.type = "password")],
  ["no type", (c) => delete c.type],
  ["no id", (c) => delete c.id],
  ["no response", (c) => delete (c as Credential).response],
  ["no clientExtensionResults", (c) => delete c.clientExtensionResults],
  ["no clientDataJSON", (c) => delete c.response.clientDataJSON],
  ["an id with characters outside base64url", (c) => (c.id = c.rawId = "abc+/def=")],
  ["clientDataJSON in plain base64", (c) => (c.response.clientDataJSON = `${c.response.clientDataJSON}+/==`)],
  ["an id over 1364 characters", (c) => (c.id = c.rawId = "A".repeat(1365))],
  ["an oversized clientDataJSON", (c) => (c.response.clientDataJSON = "A".repeat(4097))],
  ["an object for the id", (c) => (c.id = { $ne: "" })],
  ["a list of strings for the signature or attestation", (c) => (c.response.clientDataJSON = ["a", "b"])],
  ["an unknown property", (c) => (c.admin = true)],
  ["an unknown response property", (c) => (c.response.extra = "x")],
  [
    "too many extension results",
    (c) => (c.clientExtensionResults = Object.fromEntries([...Array(17)].map((_, i) => [`k${i}`, i]))),
  ],
];

/** Bodies that fit the schema but cannot be read: 400 PASSKEY_RESPONSE_MALFORMED, before the challenge is spent. */
const UNREADABLE: [string, (c: Credential & { response: Json }) => void][] = [
  ["rawId other than id", (c) => (c.rawId = `${c.rawId}AA`)],
  ["an id of a length base64url cannot have", (c) => (c.id = c.rawId = "AAAAA")],
  ["clientDataJSON that is not JSON", (c) => (c.response.clientDataJSON = b64("not json"))],
  ["clientDataJSON without a challenge", (c) => (c.response.clientDataJSON = b64('{"type":"webauthn.get"}'))],
  [
    "clientDataJSON with a challenge that is no base64url",
    (c) => (c.response.clientDataJSON = b64('{"challenge":"a+b"}')),
  ],
  ["clientDataJSON that is null", (c) => (c.response.clientDataJSON = b64("null"))],
];

describe.each(testDialects())("passkey bad input on $name", (dialect) => {
  let t: TestApp;
  let alice: Enrolled;
  beforeEach(async () => {
    t = await createTestApp(dialect);
    alice = await enrolPasskey(t);
  });
  afterEach(async () => {
    await t.close();
  });

  describe("sign-in and second-factor answers", () => {
    it.each(SCHEMA_BREAKS)("%s: 400 from the schema, nothing stored, the challenge still good", async (_, change) => {
      const options = await signInOptions(t);
      const credential = alice.authenticator.assert(options);
      const partial = await login(t, alice.email);
      const second = await secondFactorOptions(t, partial);
      const secondCredential = alice.authenticator.assert(second);
      const before = await snapshot(t);
      expectSchemaError(await passkeyLogin(t, withCredential(credential, change)), /^body/);
      expectSchemaError(await authenticate(t, partial, withCredential(secondCredential, change)), /^body/);
      expect(await snapshot(t)).toBe(before);
      // The untouched answers still work: nothing was spent.
      expect((await passkeyLogin(t, credential)).statusCode).toBe(200);
      expect((await authenticate(t, partial, secondCredential)).statusCode).toBe(200);
    });

    it.each(UNREADABLE)("%s: 400 PASSKEY_RESPONSE_MALFORMED, nothing stored", async (_, change) => {
      const options = await signInOptions(t);
      const credential = alice.authenticator.assert(options);
      const before = await snapshot(t);
      expectError(await passkeyLogin(t, withCredential(credential, change)), 400, "PASSKEY_RESPONSE_MALFORMED");
      expect(await snapshot(t)).toBe(before);
      expect(await challengeStored(t, options)).toBe(true);
    });

    it("authenticator data or a signature that cannot be read: 400 PASSKEY_RESPONSE_MALFORMED, nothing spent", async () => {
      const options = await signInOptions(t);
      const credential = alice.authenticator.assert(options);
      const before = await snapshot(t);
      for (const change of [
        (c: Credential & { response: Json }) => (c.response.authenticatorData = "AAAA"),
        (c: Credential & { response: Json }) => (c.response.authenticatorData = "A"),
        (c: Credential & { response: Json }) => (c.response.signature = "AAAAA"),
        (c: Credential & { response: Json }) => (c.response.userHandle = "AAAAA"),
      ]) {
        expectError(await passkeyLogin(t, withCredential(credential, change)), 400, "PASSKEY_RESPONSE_MALFORMED");
      }
      expect(await snapshot(t)).toBe(before);
      expect((await passkeyLogin(t, credential)).statusCode).toBe(200);
    });

    it("a credential id nobody registered: 401 PASSKEY_UNKNOWN, the challenge spent, nothing else", async () => {
      const options = await signInOptions(t);
      const stranger = newAuthenticator();
      stranger.register({ ...(await registrationOptionsFor()), challenge: "AAAA" });
      const credential = stranger.assert(options);
      const before = await snapshotExcept(t, "webauthn_challenges");
      expectError(await passkeyLogin(t, credential), 401, "PASSKEY_UNKNOWN");
      expect(await snapshotExcept(t, "webauthn_challenges")).toBe(before);
      expect(await challengeStored(t, options)).toBe(false);
    });

    it("the validator names what is wrong: a wrong type, a character outside base64url", async () => {
      const credential = alice.authenticator.assert(await signInOptions(t));
      expectError(
        await passkeyLogin(
          t,
          withCredential(credential, (c) => (c.type = "password")),
        ),
        400,
        "body/credential/type must be equal to constant",
      );
      expectError(
        await passkeyLogin(
          t,
          withCredential(credential, (c) => (c.response.signature = "ab/c")),
        ),
        400,
        'body/credential/response/signature must match pattern "^[A-Za-z0-9_-]*$"',
      );
    });

    it("bodies that are not the shape at all: missing, empty, null, an array, not JSON, too big", async () => {
      const before = await snapshot(t);
      const raw = (payload: string, contentType = "application/json") =>
        t.app.inject({ method: "POST", url: "/auth/passkey/login", payload, headers: { "content-type": contentType } });
      expectSchemaError(await raw("{}"), /required property 'credential'/);
      expectSchemaError(await raw('{"credential":null}'));
      expectSchemaError(await raw('{"credential":[]}'));
      expectSchemaError(await raw("[]"));
      expectError(await raw('{"credential":'), 400, "MALFORMED_JSON");
      expectError(await raw(""), 400, "MALFORMED_JSON");
      expectError(await raw("credential=x", "text/plain"), 400, "UNSUPPORTED_CONTENT_TYPE");
      expectError(await raw(JSON.stringify({ credential: { id: "A".repeat(70_000) } })), 400, "BODY_TOO_LARGE");
      expectSchemaError(
        await t.app.inject({ method: "POST", url: "/auth/passkey/login?cookie=perhaps", payload: { credential: {} } }),
      );
      expectSchemaError(await t.app.inject({ method: "POST", url: "/auth/passkey/challenge", payload: { rpId: "x" } }));
      expect(await snapshot(t)).toBe(before);
    });
  });

  async function registrationOptionsFor() {
    await t.createUser("someone@example.com", PASSWORD);
    const { access } = await signIn(t, "someone@example.com");
    return registrationOptions(t, access);
  }

  describe("registration answers", () => {
    let access: string;
    beforeEach(async () => {
      await t.createUser("bob@example.com", PASSWORD);
      access = (await signIn(t, "bob@example.com")).access;
    });

    it.each(SCHEMA_BREAKS)("%s: 400 from the schema, nothing stored", async (_, change) => {
      const options = await registrationOptions(t, access);
      const credential = newAuthenticator().register(options);
      const before = await snapshot(t);
      expectSchemaError(await enable(t, access, withCredential(credential, change)), /^body/);
      expect(await snapshot(t)).toBe(before);
      expect((await enable(t, access, credential)).statusCode).toBe(200);
    });

    it.each([
      ...UNREADABLE,
      [
        "an attestation object that is not CBOR",
        (c: Credential & { response: Json }) => (c.response.attestationObject = b64("{}")),
      ],
      ["an empty attestation object", (c: Credential & { response: Json }) => (c.response.attestationObject = "")],
    ] as [string, (c: Credential & { response: Json }) => void][])(
      "%s: 400 PASSKEY_RESPONSE_MALFORMED, nothing stored",
      async (_, change) => {
        const options = await registrationOptions(t, access);
        const credential = newAuthenticator().register(options);
        const before = await snapshot(t);
        expectError(await enable(t, access, withCredential(credential, change)), 400, "PASSKEY_RESPONSE_MALFORMED");
        expect(await snapshot(t)).toBe(before);
        expect(await challengeStored(t, options)).toBe(true);
      },
    );

    it("an oversized attestation object or too many transports: 400, nothing stored", async () => {
      const credential = newAuthenticator().register(await registrationOptions(t, access));
      const before = await snapshot(t);
      for (const change of [
        (c: Credential & { response: Json }) => (c.response.attestationObject = "A".repeat(16_385)),
        (c: Credential & { response: Json }) => (c.response.transports = [...Array(9)].map(() => "usb")),
        (c: Credential & { response: Json }) => (c.response.transports = ["u".repeat(33)]),
        (c: Credential & { response: Json }) => (c.response.publicKeyAlgorithm = "ES256"),
      ]) {
        expectSchemaError(await enable(t, access, withCredential(credential, change)), /^body/);
      }
      expect(await snapshot(t)).toBe(before);
    });

    it.each([
      ["65 characters", "x".repeat(65), /must NOT have more than 64 characters/],
      ["empty", "", /must NOT have fewer than 1 characters/],
      ["blank", "   ", /must match pattern/],
      ["a NUL", "a\u0000b", /./],
      ["a line break", "Work\nlaptop", /must match pattern/],
      ["a DEL", "a\u007fb", /must match pattern/],
    ])("a name that is %s: 400 at enable and at rename, nothing changed", async (_, name, pattern) => {
      const credential = newAuthenticator().register(await registrationOptions(t, access));
      const before = await snapshot(t);
      const res = await enable(t, access, credential, name);
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().message).toMatch(pattern);
      const { accessToken } = await passkeySession(t, alice.authenticator);
      const snapshotBefore = await snapshot(t);
      const renamed = await patch(t, `/user/2fa/passkeys/${alice.passkeyId}`, accessToken, { name });
      expect(renamed.statusCode, renamed.body).toBe(400);
      expect(await snapshot(t)).toBe(snapshotBefore);
      expect(before).not.toBe(snapshotBefore); // the passkey sign-in between changed things; the refusals did not
    });

    it("a rename body that is not {name}: 400, nothing changed", async () => {
      const { accessToken } = await passkeySession(t, alice.authenticator);
      const before = await snapshot(t);
      for (const body of [{}, { name: { $ne: "" } }, { name: "ok", extra: true }]) {
        expectSchemaError(await patch(t, `/user/2fa/passkeys/${alice.passkeyId}`, accessToken, body), /^body/);
      }
      expect(await snapshot(t)).toBe(before);
    });
  });

  describe("the passkeyId path parameter", () => {
    const junk: [string, string][] = [
      ["a NUL", "%00"],
      ["a NUL inside", `${"A".repeat(8)}%00${"A".repeat(8)}`],
      ["1401 characters", "A".repeat(1401)],
      ["1365 characters", "A".repeat(1365)],
      ["characters outside base64url", "abc!def"],
      ["an encoded slash", "abc%2Fdef"],
      ["a plus and equals (plain base64)", "ab+c=="],
      ["a dot", "..%2F..%2Fetc"],
      ["a space", "a%20b"],
      ["non-ASCII", "%C3%A9t%C3%A9"],
      ["broken percent-encoding", "%ZZ"],
    ];

    it.each(junk)("%s: 400 in the envelope for rename and delete, never a lookup", async (_, id) => {
      const { accessToken, sudoToken } = await passkeySession(t, alice.authenticator);
      const before = await snapshot(t);
      for (const [method, token] of [
        ["PATCH", accessToken],
        ["DELETE", sudoToken],
      ] as const) {
        const res = await t.app.inject({
          method,
          url: `/user/2fa/passkeys/${id}`,
          headers: bearer(token),
          ...(method === "PATCH" ? { payload: { name: "New" } } : {}),
        });
        expect(res.statusCode, `${method} ${res.body}`).toBe(400);
        const body = res.json();
        expect(body).toMatchObject({ statusCode: 400, error: ENVELOPE_ERRORS[400] });
        expect(Object.keys(body).sort()).toEqual(["error", "message", "statusCode"]);
      }
      expect(await snapshot(t)).toBe(before);
    });

    it("a well-formed id of 1364 characters that is nobody's: 404 PASSKEY_NOT_FOUND", async () => {
      const { accessToken, sudoToken } = await passkeySession(t, alice.authenticator);
      const id = "A".repeat(1364);
      expectError(await patch(t, `/user/2fa/passkeys/${id}`, accessToken, { name: "New" }), 404, "PASSKEY_NOT_FOUND");
      const res = await t.app.inject({ method: "DELETE", url: `/user/2fa/passkeys/${id}`, headers: bearer(sudoToken) });
      expectError(res, 404, "PASSKEY_NOT_FOUND");
    });

    it("no id at all is no route", async () => {
      const { sudoToken } = await passkeySession(t, alice.authenticator);
      const res = await t.app.inject({ method: "DELETE", url: "/user/2fa/passkeys/", headers: bearer(sudoToken) });
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
    });
  });
});
