import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { twoFactorEnabled } from "../src/core/two-factor/methods.js";
import type { KyselyStore } from "../src/storage/kysely/store.js";
import { isTwoFactorOn } from "../src/storage/kysely/two-factor.js";
import { createTestDatabase, type TestDatabase, testDialects } from "./support/harness.js";

const T0 = 1_800_000_000_000;

/** Where a method can be: never set up, set up but not confirmed, on, on with a new setup pending, turned off. */
const STATES = ["none", "pending", "active", "active and pending", "deactivated"] as const;
type MethodState = (typeof STATES)[number];

const on = (state: MethodState) => state === "active" || state === "active and pending";

/** A passkey: none ever, one kept, or one added and removed again. */
const PASSKEY_STATES = ["none", "one", "removed"] as const;
type PasskeyState = (typeof PASSKEY_STATES)[number];

const combinations = STATES.flatMap((totp) =>
  STATES.flatMap((emailOtp) => PASSKEY_STATES.map((passkey) => ({ totp, emailOtp, passkey }))),
);

/**
 * "Is 2FA on" has a domain form (twoFactorEnabled, over the record the store reads) and one SQL form
 * (twoFactorOn, which the login's end and the method changes evaluate inside their transactions).
 * They must agree on every combination of methods, or a login could open a session that the rest of
 * the service would have asked a second factor for.
 */
describe.each(testDialects())("the 2FA rule on $name", (dialect) => {
  let database: TestDatabase;
  let store: KyselyStore;

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    store = database.store();
    await store.migrate();
  });
  afterAll(async () => {
    await database.drop();
  });

  async function setTotp(userId: number, state: MethodState): Promise<void> {
    if (state === "none") return;
    await store.setPendingTotpSecret(userId, "sealed-1");
    if (state === "pending") return;
    const activation = { userId, pendingSecretEnc: "sealed-1", step: 1, now: T0, recoveryCodeHashes: ["h"] };
    expect(await store.activateTotp(activation)).toMatchObject({ activated: true });
    if (state === "active and pending") await store.setPendingTotpSecret(userId, "sealed-2");
    if (state === "deactivated") expect(await store.deactivateTotp(userId)).toBe(true);
  }

  async function setEmailOtp(userId: number, state: MethodState): Promise<void> {
    if (state === "none") return;
    await store.setPendingEmailOtp(userId, "otp@example.com");
    if (state === "pending") return;
    const activation = { userId, email: "otp@example.com", now: T0, recoveryCodeHashes: ["h"] };
    expect(await store.activateEmailOtp(activation)).toMatchObject({ activated: true });
    if (state === "active and pending") await store.setPendingEmailOtp(userId, "next@example.com");
    if (state === "deactivated") expect(await store.deactivateEmailOtp(userId)).toBe(true);
  }

  async function setPasskey(userId: number, state: PasskeyState): Promise<void> {
    if (state === "none") return;
    const passkey = {
      credentialId: `cred-${userId}`,
      userId,
      publicKey: "key",
      counter: 0,
      transports: [],
      name: "Passkey 1",
      backedUp: false,
      deviceType: "singleDevice",
      createdAt: T0,
    };
    expect(await store.addPasskey({ passkey, limit: 20, now: T0, recoveryCodeHashes: ["h"] })).toMatchObject({
      outcome: "added",
    });
    if (state === "removed") expect(await store.deletePasskey(userId, `cred-${userId}`)).toBeDefined();
  }

  it.each(combinations)(
    "agrees with the domain's rule for TOTP $totp, email OTP $emailOtp and passkey $passkey",
    async (methods) => {
      const userId = await store.createUser({
        email: `${methods.totp}.${methods.emailOtp}.${methods.passkey}@example.com`.replaceAll(" ", "-"),
        passwordHash: null,
        createdAt: T0,
      });
      await setTotp(userId, methods.totp);
      await setEmailOtp(userId, methods.emailOtp);
      await setPasskey(userId, methods.passkey);
      const expected = on(methods.totp) || on(methods.emailOtp) || methods.passkey === "one";

      expect(twoFactorEnabled(await store.twoFactor(userId))).toBe(expected);
      expect(await isTwoFactorOn(store.db, userId)).toBe(expected);
      // The statements that ask the rule answer by it: a login's end opens no session while 2FA is on,
      // and recovery codes are replaced only while it is.
      const session = { id: `s${userId}`, userId, createdAt: T0, expiresAt: T0 + 1, ip: null, userAgent: null };
      const event = { type: "login.succeeded", userId, at: T0, ip: null, userAgent: null };
      const opened = await store.openSessionAfterPassword({
        throttle: { subject: `user:${userId}`, kind: "password" },
        session,
        refreshJti: `r${userId}`,
        event,
      });
      expect(opened).toBe(!expected);
      expect(await store.replaceRecoveryCodes({ userId, codeHashes: ["n"], now: T0 })).toBe(expected);
    },
  );
});
