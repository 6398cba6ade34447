import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { codeOf } from "../../../test/support/smtp.js";
import { authenticatorFrom, codeAt } from "../../../test/two-factor/support.js";
import { LatchkeyError, MemoryStore } from "../src/index.js";
import { clientOf, PASSWORD, type Service, startService } from "./support.js";

describe("signing in", () => {
  let service: Service;
  beforeEach(async () => {
    service = await startService();
  });
  afterEach(async () => {
    await service.close();
  });

  /** Signs a fresh client in (2FA off), enrols TOTP through the client; answers the recovery codes. */
  async function enrolTotp(email: string) {
    await service.t.createUser(email, PASSWORD);
    const client = clientOf(service);
    expect(await client.signIn(email, PASSWORD)).toEqual({ kind: "signedIn" });
    const totp = authenticatorFrom((await client.setUpTotp()).url);
    const { recoveryCodes } = await client.enableTotp(codeAt(totp, service.t.clock.now()));
    // The enabling code's step is spent; the next step gives a fresh code.
    service.t.clock.advanceSeconds(30);
    return { totp, recoveryCodes };
  }

  it("signs in without a second factor and keeps the session in its store", async () => {
    const userId = await service.t.createUser("plain@example.com", PASSWORD);
    const store = new MemoryStore();
    const client = clientOf(service, { store });
    expect(await client.signIn("plain@example.com", PASSWORD)).toEqual({ kind: "signedIn" });
    expect((await store.load())?.refreshToken).toMatch(/^ey/);
    expect(await client.validateAccessToken()).toEqual({ userId });
    expect(await client.validateRefreshToken()).toEqual({ userId });
  });

  it("finishes a login with a TOTP code", async () => {
    const { totp } = await enrolTotp("totp@example.com");
    const client = clientOf(service);
    const result = await client.signIn("totp@example.com", PASSWORD);
    if (result.kind !== "secondFactor") throw new Error("expected a second factor");
    expect(result.methods).toEqual({ totp: true, emailOtp: false, recoveryCodes: true, passkey: false });
    expect(await client.isSignedIn()).toBe(false);
    expect(await result.totp(codeAt(totp, service.t.clock.now()))).toEqual({ kind: "signedIn" });
    expect(await client.isSignedIn()).toBe(true);
    const { sessions } = await client.listSessions();
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    // The sudo token of that login opens the sensitive calls.
    expect((await client.resetRecoveryCodes()).recoveryCodes).toHaveLength(10);
  });

  it("refuses a wrong TOTP code with a typed error and stays signed out", async () => {
    await enrolTotp("wrong@example.com");
    const client = clientOf(service);
    const result = await client.signIn("wrong@example.com", PASSWORD);
    if (result.kind !== "secondFactor") throw new Error("expected a second factor");
    const error = await result.totp("000000").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LatchkeyError);
    expect(error).toMatchObject({ code: "TOTP_INVALID", status: 401 });
    expect(await client.isSignedIn()).toBe(false);
  });

  it("finishes a login with a mailed code", async () => {
    const email = "mail@example.com";
    await service.t.createUser(email, PASSWORD);
    const enrolling = clientOf(service);
    await enrolling.signIn(email, PASSWORD);
    await enrolling.setUpEmailOtp(email);
    expect((await enrolling.enableEmailOtp(codeOf(await service.smtp.next()))).recoveryCodes).toHaveLength(10);
    service.t.clock.advanceSeconds(61);

    const client = clientOf(service);
    const result = await client.signIn(email, PASSWORD);
    if (result.kind !== "secondFactor") throw new Error("expected a second factor");
    expect(result.methods).toEqual({ totp: false, emailOtp: true, recoveryCodes: true, passkey: false });
    await result.sendEmailCode();
    const mail = await service.smtp.next();
    expect(mail.to).toEqual([email]);
    expect(await result.emailCode(codeOf(mail))).toEqual({ kind: "signedIn" });
    expect(await client.twoFactorStatus()).toMatchObject({ enabled: true, emailOtp: { email } });
  });

  it("finishes a login with a recovery code, which is then spent", async () => {
    const { recoveryCodes } = await enrolTotp("recovery@example.com");
    const code = recoveryCodes[0] ?? "";
    const client = clientOf(service);
    const result = await client.signIn("recovery@example.com", PASSWORD);
    if (result.kind !== "secondFactor") throw new Error("expected a second factor");
    expect(await result.recoveryCode(code)).toEqual({ kind: "signedIn" });
    expect((await client.twoFactorStatus()).recoveryCodes?.remaining).toBe(9);

    const again = await clientOf(service).signIn("recovery@example.com", PASSWORD);
    if (again.kind !== "secondFactor") throw new Error("expected a second factor");
    await expect(again.recoveryCode(code)).rejects.toMatchObject({ code: "RECOVERY_CODE_INVALID" });
  });

  it("signs out: the session ends on the server and leaves the store", async () => {
    await service.t.createUser("out@example.com", PASSWORD);
    const store = new MemoryStore();
    const client = clientOf(service, { store });
    await client.signIn("out@example.com", PASSWORD);
    const { refreshToken } = (await store.load()) ?? { refreshToken: "" };
    await client.signOut();
    expect(await store.load()).toBeUndefined();
    const res = await fetch(`${service.url}/auth/refreshtoken/validate`, {
      headers: { authorization: `Bearer ${refreshToken}` },
    });
    expect(res.status).toBe(401);
    await expect(client.accessToken()).rejects.toMatchObject({ code: "NOT_SIGNED_IN" });
  });

  it("refuses a wrong password with the contract's code", async () => {
    await service.t.createUser("pw@example.com", PASSWORD);
    await expect(clientOf(service).signIn("pw@example.com", "Wrong7Horse")).rejects.toMatchObject({
      name: "LatchkeyError",
      code: "PASSWORD_INCORRECT",
      status: 401,
    });
  });
});
