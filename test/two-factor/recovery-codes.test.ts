import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createTestApp,
  createTestDatabase,
  TEST_ENCRYPTION_KEYS,
  type TestApp,
  testDialects,
} from "../support/harness.js";
import {
  accessFor,
  authenticateTotp,
  authenticatorFrom,
  codeAt,
  del,
  enrolTotp,
  get,
  login,
  message,
  post,
  tokensOf,
} from "./support.js";

const AUTHENTICATE = "/user/2fa/recovery-code/authenticate";
const NEXT_GUESS = "/user/2fa/recovery-code/next-guess";
const RESET = "/user/2fa/recovery-code/reset";

describe.each(testDialects())("recovery codes on $name", (dialect) => {
  let t: TestApp;

  beforeEach(async () => {
    t = await createTestApp(dialect);
  });
  afterEach(async () => {
    await t.close();
  });

  it("a code logs in once: spent after use, reuse is RECOVERY_CODE_INVALID", async () => {
    const { userId, recoveryCodes } = await enrolTotp(t);
    const [code] = recoveryCodes as [string];
    const tokens = tokensOf(await post(t, AUTHENTICATE, await login(t, "alice@example.com"), { recoveryCode: code }));
    expect((await get(t, "/auth/refreshtoken/validate", tokens.refreshToken)).json()).toEqual({ userId });
    expect((await get(t, "/user/2fa", tokens.accessToken)).json().recoveryCodes.remaining).toBe(9);

    const reuse = await post(t, AUTHENTICATE, await login(t, "alice@example.com"), { recoveryCode: code });
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json()).toEqual({ statusCode: 401, error: "Unauthorized", message: "RECOVERY_CODE_INVALID" });
  });

  it("accepts lower case, spaces and dashes; refuses other shapes as a counted wrong guess", async () => {
    const { recoveryCodes } = await enrolTotp(t);
    const code = recoveryCodes[1] ?? "";
    const typed = `${code.slice(0, 4)}-${code.slice(4, 8)} ${code.slice(8, 12)}-${code.slice(12)}`.toLowerCase();
    const partial = await login(t, "alice@example.com");
    for (const bad of ["too-short", `${code}X`, "0000000000000000", "x".repeat(64)]) {
      expect(message(await post(t, AUTHENTICATE, partial, { recoveryCode: bad }))).toBe("RECOVERY_CODE_INVALID");
    }
    expect(message(await post(t, AUTHENTICATE, partial, { recoveryCode: "x".repeat(65) }))).toMatch(
      /must NOT have more than 64 characters/,
    );
    expect(message(await post(t, AUTHENTICATE, partial, { recoveryCode: code, more: true }))).toBe(
      "body must NOT have additional properties",
    );
    tokensOf(await post(t, AUTHENTICATE, partial, { recoveryCode: typed }));
  });

  it("throttles guesses like TOTP, and next-guess reports the same wait", async () => {
    const { recoveryCodes } = await enrolTotp(t);
    const partial = await login(t, "alice@example.com");
    for (let i = 0; i < 5; i++) {
      expect(message(await post(t, AUTHENTICATE, partial, { recoveryCode: "AAAAAAAAAAAAAAAA" }))).toBe(
        "RECOVERY_CODE_INVALID",
      );
    }
    expect((await get(t, NEXT_GUESS, partial)).json()).toEqual({ duration: 1 });
    const refused = await post(t, AUTHENTICATE, partial, { recoveryCode: recoveryCodes[0] });
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ message: "TOO_MANY_RECOVERY_CODE_CHECKS", retryAfter: 1 });
    expect(refused.headers["retry-after"]).toBe("1");
    // The TOTP throttle is a separate count.
    expect((await get(t, "/user/2fa/totp/next-guess", partial)).json()).toEqual({ duration: 0 });
    t.clock.advanceSeconds(1);
    const tokens = tokensOf(await post(t, AUTHENTICATE, partial, { recoveryCode: recoveryCodes[0] }));
    expect((await get(t, NEXT_GUESS, tokens.accessToken)).json()).toEqual({ duration: 0 });
    // The refused attempt did not spend the code: it was spent by the successful one only.
    expect((await get(t, "/user/2fa", tokens.accessToken)).json().recoveryCodes.remaining).toBe(9);
  });

  it("reset gives 10 new codes with a sudo token; the old set stops working", async () => {
    const { recoveryCodes: old } = await enrolTotp(t);
    const tokens = tokensOf(await post(t, AUTHENTICATE, await login(t, "alice@example.com"), { recoveryCode: old[0] }));
    expect(message(await post(t, RESET, tokens.accessToken, {}))).toBe("SUDO_TOKEN_REQUIRED");
    expect(message(await post(t, RESET, tokens.sudoToken, { extra: 1 }))).toBe(
      "body must NOT have additional properties",
    );
    const reset = await post(t, RESET, tokens.sudoToken, {});
    expect(reset.statusCode).toBe(200);
    const fresh: string[] = reset.json().recoveryCodes;
    expect(fresh).toHaveLength(10);
    expect(fresh.filter((code) => old.includes(code))).toEqual([]);
    expect((await get(t, "/user/2fa", tokens.accessToken)).json().recoveryCodes).toEqual({
      completedAt: new Date(t.clock.now()).toISOString(),
      remaining: 10,
    });
    expect(message(await post(t, AUTHENTICATE, await login(t, "alice@example.com"), { recoveryCode: old[1] }))).toBe(
      "RECOVERY_CODE_INVALID",
    );
    tokensOf(await post(t, AUTHENTICATE, await login(t, "alice@example.com"), { recoveryCode: fresh[0] }));
  });

  it("without 2FA: authenticate and next-guess are RECOVERY_CODES_UNINITIALIZED, reset is 2FA_IS_DISABLED", async () => {
    const { totp } = await enrolTotp(t);
    const tokens = tokensOf(
      await authenticateTotp(t, await login(t, "alice@example.com"), codeAt(totp, t.clock.now())),
    );
    expect((await del(t, "/user/2fa/totp", tokens.sudoToken)).statusCode).toBe(204);
    const access = await accessFor(t, await login(t, "alice@example.com"));
    const res = await post(t, AUTHENTICATE, access, { recoveryCode: "AAAAAAAAAAAAAAAA" });
    expect(res.statusCode).toBe(409);
    expect(message(res)).toBe("RECOVERY_CODES_UNINITIALIZED");
    expect(message(await get(t, NEXT_GUESS, access))).toBe("RECOVERY_CODES_UNINITIALIZED");
    const reset = await post(t, RESET, tokens.sudoToken, {});
    expect(reset.statusCode).toBe(409);
    expect(message(reset)).toBe("2FA_IS_DISABLED");
    expect((await get(t, "/user/2fa", access)).json()).toEqual({ enabled: false });
  });

  it("re-enabling after the last method was removed creates a new set", async () => {
    const { totp, recoveryCodes } = await enrolTotp(t);
    const tokens = tokensOf(
      await authenticateTotp(t, await login(t, "alice@example.com"), codeAt(totp, t.clock.now())),
    );
    await del(t, "/user/2fa/totp", tokens.sudoToken);
    const access = await accessFor(t, await login(t, "alice@example.com"));
    const url: string = (await post(t, "/user/2fa/totp/setup", access, {})).json().url;
    const again = authenticatorFrom(url);
    const enable = await post(t, "/user/2fa/totp/enable", access, { totp: codeAt(again, t.clock.now()) });
    const fresh: string[] = enable.json().recoveryCodes;
    expect(fresh).toHaveLength(10);
    expect(fresh.filter((code) => recoveryCodes.includes(code))).toEqual([]);
  });
});

describe.each(testDialects())("recovery codes across a key rotation on $name", (dialect) => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "latchkey-2fa-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("codes hashed and secrets sealed under an old key still work once a new key is active", async () => {
    const database = await createTestDatabase(dialect, join(dir, "db.sqlite"));
    const before = await createTestApp(dialect, { database });
    const rotated = await createTestApp(dialect, {
      database,
      clock: before.clock,
      env: { LATCHKEY_ENCRYPTION_KEYS: `test2:${Buffer.alloc(32, 9).toString("base64")},${TEST_ENCRYPTION_KEYS}` },
    });
    try {
      const { recoveryCodes, totp } = await enrolTotp(before);
      tokensOf(
        await post(rotated, AUTHENTICATE, await login(rotated, "alice@example.com"), {
          recoveryCode: recoveryCodes[0],
        }),
      );
      tokensOf(
        await authenticateTotp(rotated, await login(rotated, "alice@example.com"), codeAt(totp, rotated.clock.now())),
      );
      // New codes are hashed under the new key, and the old node (without it) cannot check them.
      const tokens = tokensOf(
        await post(rotated, AUTHENTICATE, await login(rotated, "alice@example.com"), {
          recoveryCode: recoveryCodes[1],
        }),
      );
      const fresh: string[] = (await post(rotated, RESET, tokens.sudoToken, {})).json().recoveryCodes;
      const stored = await rotated.db.selectFrom("recovery_codes").select("code_hash").execute();
      expect(stored.map((row) => row.code_hash.split(":")[0])).toEqual(Array(10).fill("test2"));
      tokensOf(
        await post(rotated, AUTHENTICATE, await login(rotated, "alice@example.com"), { recoveryCode: fresh[0] }),
      );
      const oldNode = await post(before, AUTHENTICATE, await login(before, "alice@example.com"), {
        recoveryCode: fresh[1],
      });
      expect(message(oldNode)).toBe("RECOVERY_CODE_INVALID");
    } finally {
      await rotated.close();
      await before.close();
      await database.drop();
    }
  });
});
