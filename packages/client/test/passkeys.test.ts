import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from "@simplewebauthn/server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SoftAuthenticator } from "../../../test/support/webauthn.js";
import { LatchkeyError, MemoryStore } from "../src/index.js";
import { clientOf, PASSWORD, type Service, startService } from "./support.js";

/** The service's relying party in tests: its issuer http://latchkey.test. */
const ORIGIN = "http://latchkey.test";

// The client hands the options over as JSON; a browser would decode them, the test's authenticator reads them as they are.
const creation = (options: unknown) => options as PublicKeyCredentialCreationOptionsJSON;
const request = (options: unknown) => options as PublicKeyCredentialRequestOptionsJSON;

describe("passkeys through the client", () => {
  let service: Service;
  beforeEach(async () => {
    service = await startService();
  });
  afterEach(async () => {
    await service.close();
  });

  /** A signed-in client whose account has one passkey (its first 2FA method). */
  async function enrolled(email: string) {
    const userId = await service.t.createUser(email, PASSWORD);
    const client = clientOf(service);
    expect(await client.signIn(email, PASSWORD)).toEqual({ kind: "signedIn" });
    const authenticator = new SoftAuthenticator({ origin: ORIGIN });
    const credential = authenticator.register(creation(await client.passkeyRegistrationOptions()));
    const { passkey, recoveryCodes } = await client.registerPasskey(credential, "Laptop");
    expect(recoveryCodes).toHaveLength(10);
    expect(passkey).toMatchObject({ passkeyId: credential.id, name: "Laptop", lastUsedAt: null });
    return { userId, client, authenticator, passkeyId: credential.id };
  }

  it("registers a passkey, then signs in with it alone: a full session in the store", async () => {
    const { userId, authenticator } = await enrolled("alice@example.com");
    const store = new MemoryStore();
    const client = clientOf(service, { store });
    const credential = authenticator.assert(request(await client.passkeySignInOptions()));
    expect(await client.signInWithPasskey(credential)).toEqual({ kind: "signedIn" });
    expect((await store.load())?.refreshToken).toMatch(/^ey/);
    expect(await client.validateAccessToken()).toEqual({ userId });
    // The sign-in's sudo token opens the sensitive calls.
    expect((await client.resetRecoveryCodes()).recoveryCodes).toHaveLength(10);
  });

  it("finishes a password login with the passkey as the second step", async () => {
    const { authenticator } = await enrolled("bob@example.com");
    const client = clientOf(service);
    const result = await client.signIn("bob@example.com", PASSWORD);
    if (result.kind !== "secondFactor") throw new Error("expected a second factor");
    expect(result.methods).toEqual({ totp: false, emailOtp: false, recoveryCodes: true, passkey: true });
    const credential = authenticator.assert(request(await result.passkeyOptions()));
    expect(await result.passkey(credential)).toEqual({ kind: "signedIn" });
    expect(await client.isSignedIn()).toBe(true);
  });

  it("lists, renames and removes passkeys; removing one needs the sudo token a passkey step-up gives", async () => {
    const { client, authenticator, passkeyId } = await enrolled("carol@example.com");
    expect(await client.renamePasskey(passkeyId, "Work laptop")).toMatchObject({ passkeyId, name: "Work laptop" });
    expect((await client.listPasskeys()).map((p) => p.name)).toEqual(["Work laptop"]);

    // The access token of a plain login is not enough once 2FA is on.
    const later = clientOf(service);
    const signIn = await later.signIn("carol@example.com", PASSWORD);
    if (signIn.kind !== "secondFactor") throw new Error("expected a second factor");
    await signIn.passkey(authenticator.assert(request(await signIn.passkeyOptions())));
    service.t.clock.advanceSeconds(301); // the login's sudo token is spent; a step-up gives a new one
    const refused = await later.deletePasskey(passkeyId).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LatchkeyError);
    expect(refused).toMatchObject({ code: "SUDO_TOKEN_REQUIRED", status: 403 });
    await later.verifyPasskey(authenticator.assert(request(await later.passkeyOptions())));
    await later.deletePasskey(passkeyId);
    expect(await later.listPasskeys()).toEqual([]);
    expect(await later.twoFactorStatus()).toEqual({ enabled: false });
  });

  it("gives a refused passkey as a typed error and keeps the client signed out", async () => {
    const { authenticator } = await enrolled("dave@example.com");
    const client = clientOf(service);
    const options = request(await client.passkeySignInOptions());
    const wrongOrigin = authenticator.assert(options, { origin: "https://evil.example" });
    const error = await client.signInWithPasskey(wrongOrigin).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LatchkeyError);
    expect(error).toMatchObject({ code: "PASSKEY_INVALID", status: 401 });
    expect(await client.isSignedIn()).toBe(false);
  });
});
