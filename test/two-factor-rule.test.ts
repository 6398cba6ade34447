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

const combinations = STATES.flatMap((totp) => STATES.map((emailOtp) => ({ totp, emailOtp })));

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

  it.each(combinations)("agrees with the domain's rule for TOTP $totp and email OTP $emailOtp", async (methods) => {
    const userId = await store.createUser({
      email: `${methods.totp}.${methods.emailOtp}@example.com`.replaceAll(" ", "-"),
      passwordHash: null,
      createdAt: T0,
    });
    await setTotp(userId, methods.totp);
    await setEmailOtp(userId, methods.emailOtp);
    const expected = on(methods.totp) || on(methods.emailOtp);

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
  });
});
