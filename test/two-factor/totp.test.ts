import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "../support/harness.js";
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
  PASSWORD,
  post,
  tokensOf,
  wrongCodeAt,
} from "./support.js";

describe.each(testDialects())("TOTP on $name", (dialect) => {
  let t: TestApp;

  beforeEach(async () => {
    t = await createTestApp(dialect);
  });
  afterEach(async () => {
    await t.close();
  });

  it("setup → enable → login (partial) → authenticate → disable: the whole round trip", async () => {
    const userId = await t.createUser("alice@example.com", PASSWORD);
    const access = await accessFor(t, await login(t, "alice@example.com"));

    const setup = await post(t, "/user/2fa/totp/setup", access, {});
    expect(setup.statusCode).toBe(200);
    const url: string = setup.json().url;
    expect(url).toMatch(
      /^otpauth:\/\/totp\/latchkey\.test:alice%40example\.com\?secret=[A-Z2-7]{32}&issuer=latchkey\.test&algorithm=SHA1&digits=6&period=30$/,
    );
    // Pending only: 2FA stays off, login still gives a refresh token.
    expect((await get(t, "/user/2fa", access)).json()).toEqual({ enabled: false });

    const totp = authenticatorFrom(url);
    const enable = await post(t, "/user/2fa/totp/enable", access, { totp: codeAt(totp, t.clock.now()) });
    expect(enable.statusCode).toBe(200);
    const recoveryCodes: string[] = enable.json().recoveryCodes;
    expect(recoveryCodes).toHaveLength(10);
    for (const code of recoveryCodes) expect(code).toMatch(/^[ABCDEFGHJKMNPQRSTUVWXYZ2-9]{16}$/);
    const completedAt = new Date(t.clock.now()).toISOString();
    expect((await get(t, "/user/2fa", access)).json()).toEqual({
      enabled: true,
      totp: { completedAt },
      recoveryCodes: { completedAt, remaining: 10 },
    });

    // Login now answers a partial token, which /user/2fa accepts.
    t.clock.advanceSeconds(30);
    const partial = await login(t, "alice@example.com");
    expect(message(await get(t, "/auth/accesstoken", partial))).toBe("2FA_REQUIRED_PARTIAL_TOKEN");
    expect((await get(t, "/user/2fa", partial)).json().enabled).toBe(true);

    const tokens = tokensOf(await authenticateTotp(t, partial, codeAt(totp, t.clock.now())));
    const validate = await get(t, "/auth/refreshtoken/validate", tokens.refreshToken);
    expect(validate.json()).toEqual({ userId });
    expect((await get(t, "/auth/accesstoken/validate", tokens.accessToken)).json()).toEqual({ userId });

    const off = await del(t, "/user/2fa/totp", tokens.sudoToken);
    expect(off.statusCode).toBe(204);
    expect(off.body).toBe("");
    // The last method gone: 2FA is off and the recovery codes are gone with it.
    expect((await get(t, "/user/2fa", tokens.accessToken)).json()).toEqual({ enabled: false });
    expect(message(await del(t, "/user/2fa/totp", tokens.sudoToken))).toBe("TOTP_ALREADY_INACTIVE");
    expect((await del(t, "/user/2fa/totp", tokens.sudoToken)).statusCode).toBe(409);
    const again = await login(t, "alice@example.com");
    expect((await get(t, "/auth/refreshtoken/validate", again)).json()).toEqual({ userId });
  });

  it("names the configured issuer in the setup URL", async () => {
    const named = await createTestApp(dialect, { env: { LATCHKEY_TOTP_ISSUER: "Acme Login" } });
    try {
      await named.createUser("bob@example.com", PASSWORD);
      const access = await accessFor(named, await login(named, "bob@example.com"));
      const url: string = (await post(named, "/user/2fa/totp/setup", access, {})).json().url;
      expect(url).toMatch(
        /^otpauth:\/\/totp\/Acme%20Login:bob%40example\.com\?secret=[A-Z2-7]{32}&issuer=Acme%20Login&/,
      );
      expect(authenticatorFrom(url).issuer).toBe("Acme Login");
    } finally {
      await named.close();
    }
  });

  it("accepts a code once: the same code again is TOTP_INVALID, the next step's code works", async () => {
    const { totp } = await enrolTotp(t);
    const code = codeAt(totp, t.clock.now());
    tokensOf(await authenticateTotp(t, await login(t, "alice@example.com"), code));
    const second = await authenticateTotp(t, await login(t, "alice@example.com"), code);
    expect(second.statusCode).toBe(401);
    expect(second.json()).toEqual({ statusCode: 401, error: "Unauthorized", message: "TOTP_INVALID" });
    // The previous step's code (still inside the ±1 window) is older than the used one: dead too.
    const previous = await authenticateTotp(
      t,
      await login(t, "alice@example.com"),
      codeAt(totp, t.clock.now() - 30_000),
    );
    expect(message(previous)).toBe("TOTP_INVALID");
    t.clock.advanceSeconds(30);
    tokensOf(await authenticateTotp(t, await login(t, "alice@example.com"), codeAt(totp, t.clock.now())));
  });

  it("accepts the neighbouring steps (±30 s clock drift) but not two steps away", async () => {
    const { totp } = await enrolTotp(t);
    const partial = await login(t, "alice@example.com");
    expect(message(await authenticateTotp(t, partial, codeAt(totp, t.clock.now() - 60_000)))).toBe("TOTP_INVALID");
    expect(message(await authenticateTotp(t, partial, codeAt(totp, t.clock.now() + 60_000)))).toBe("TOTP_INVALID");
    tokensOf(await authenticateTotp(t, partial, codeAt(totp, t.clock.now() + 30_000)));
  });

  it("throttles guesses: 5 free failures, then 1, 2, 4 s; a refused attempt is not counted; success resets", async () => {
    const { totp } = await enrolTotp(t);
    const partial = await login(t, "alice@example.com");
    const wrong = () => authenticateTotp(t, partial, wrongCodeAt(totp, t.clock.now()));
    const nextGuess = async () => (await get(t, "/user/2fa/totp/next-guess", partial)).json().duration;

    for (let i = 0; i < 5; i++) {
      expect(await nextGuess()).toBe(0);
      expect(message(await wrong())).toBe("TOTP_INVALID");
    }
    for (const waitSeconds of [1, 2, 4]) {
      expect(await nextGuess()).toBe(waitSeconds);
      // A refused request does not look at the code: even the right one is refused, and not counted.
      const refused = await authenticateTotp(t, partial, codeAt(totp, t.clock.now()));
      expect(refused.statusCode).toBe(429);
      expect(refused.json()).toEqual({
        statusCode: 429,
        error: "Too many requests",
        message: "TOO_MANY_TOTP_CHECKS",
        retryAfter: waitSeconds,
      });
      expect(refused.headers["retry-after"]).toBe(String(waitSeconds));
      t.clock.advanceSeconds(waitSeconds - 1);
      expect(await nextGuess()).toBe(1);
      expect((await wrong()).statusCode).toBe(429);
      t.clock.advanceSeconds(1);
      expect(await nextGuess()).toBe(0);
      expect(message(await wrong())).toBe("TOTP_INVALID");
    }
    expect(await nextGuess()).toBe(8);
    t.clock.advanceSeconds(8);
    tokensOf(await authenticateTotp(t, partial, codeAt(totp, t.clock.now())));
    // The partial token is spent now; a new login's sees the reset count: five free failures again.
    const fresh = await login(t, "alice@example.com");
    expect((await get(t, "/user/2fa/totp/next-guess", fresh)).json()).toEqual({ duration: 0 });
    for (let i = 0; i < 5; i++) {
      expect(message(await authenticateTotp(t, fresh, wrongCodeAt(totp, t.clock.now())))).toBe("TOTP_INVALID");
    }
    expect((await authenticateTotp(t, fresh, wrongCodeAt(totp, t.clock.now()))).statusCode).toBe(429);
  });

  it("counts failed activations in the same throttle, and reports TOTP_UNINITIALIZED without a setup", async () => {
    await t.createUser("alice@example.com", PASSWORD);
    const access = await accessFor(t, await login(t, "alice@example.com"));
    expect(message(await get(t, "/user/2fa/totp/next-guess", access))).toBe("TOTP_UNINITIALIZED");
    const never = await post(t, "/user/2fa/totp/enable", access, { totp: "123456" });
    expect(never.statusCode).toBe(409);
    expect(message(never)).toBe("TOTP_UNINITIALIZED");
    expect(message(await authenticateTotp(t, access, "123456"))).toBe("TOTP_UNINITIALIZED");

    const totp = authenticatorFrom((await post(t, "/user/2fa/totp/setup", access, {})).json().url);
    // Pending, not active: authenticate still has nothing to check, next-guess has a throttle to report.
    expect(message(await authenticateTotp(t, access, codeAt(totp, t.clock.now())))).toBe("TOTP_UNINITIALIZED");
    expect((await get(t, "/user/2fa/totp/next-guess", access)).json()).toEqual({ duration: 0 });
    for (let i = 0; i < 5; i++) {
      const res = await post(t, "/user/2fa/totp/enable", access, { totp: wrongCodeAt(totp, t.clock.now()) });
      expect(message(res)).toBe("TOTP_INVALID");
    }
    const refused = await post(t, "/user/2fa/totp/enable", access, { totp: codeAt(totp, t.clock.now()) });
    expect(message(refused)).toBe("TOO_MANY_TOTP_CHECKS");
    t.clock.advanceSeconds(1);
    expect((await post(t, "/user/2fa/totp/enable", access, { totp: codeAt(totp, t.clock.now()) })).statusCode).toBe(
      200,
    );
    expect((await get(t, "/user/2fa/totp/next-guess", access)).json()).toEqual({ duration: 0 });
  });

  it("re-running setup never disables an active TOTP; the new secret replaces it on activation only", async () => {
    const { totp: first, recoveryCodes } = await enrolTotp(t);
    const tokens = tokensOf(
      await authenticateTotp(t, await login(t, "alice@example.com"), codeAt(first, t.clock.now())),
    );
    // 2FA on: setup needs the sudo token.
    expect(message(await post(t, "/user/2fa/totp/setup", tokens.accessToken, {}))).toBe("SUDO_TOKEN_REQUIRED");
    const setup = await post(t, "/user/2fa/totp/setup", tokens.sudoToken, {});
    expect(setup.statusCode).toBe(200);
    const second = authenticatorFrom(setup.json().url);
    expect(second.secret.base32).not.toBe(first.secret.base32);

    t.clock.advanceSeconds(30);
    expect((await get(t, "/user/2fa", tokens.accessToken)).json().enabled).toBe(true);
    tokensOf(await authenticateTotp(t, await login(t, "alice@example.com"), codeAt(first, t.clock.now())));

    const access = (await get(t, "/auth/accesstoken", tokens.refreshToken)).body;
    const enable = await post(t, "/user/2fa/totp/enable", access, { totp: codeAt(second, t.clock.now()) });
    // Not the first method: no new recovery codes, and the old ones still stand.
    expect(enable.json()).toEqual({ recoveryCodes: [] });
    expect((await get(t, "/user/2fa", access)).json().recoveryCodes.remaining).toBe(10);
    expect(recoveryCodes).toHaveLength(10);
    t.clock.advanceSeconds(30);
    expect(message(await authenticateTotp(t, await login(t, "alice@example.com"), codeAt(first, t.clock.now())))).toBe(
      "TOTP_INVALID",
    );
    tokensOf(await authenticateTotp(t, await login(t, "alice@example.com"), codeAt(second, t.clock.now())));
  });

  it("answers TOTP_CORRUPT (500) when the stored secret cannot be decrypted", async () => {
    const { userId, totp } = await enrolTotp(t);
    const db = t.db;
    const row = await db.selectFrom("user_totp").selectAll().where("user_id", "=", userId).executeTakeFirstOrThrow();
    const sealed = row.secret_enc ?? "";
    // Flip one character of the ciphertext: GCM's tag no longer checks out.
    const last = sealed.at(-2) === "A" ? "B" : "A";
    const tampered = `${sealed.slice(0, -2)}${last}${sealed.slice(-1)}`;
    await db.updateTable("user_totp").set({ secret_enc: tampered }).where("user_id", "=", userId).execute();

    const partial = await login(t, "alice@example.com");
    const res = await authenticateTotp(t, partial, codeAt(totp, t.clock.now()));
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ statusCode: 500, error: "Internal server error", message: "TOTP_CORRUPT" });

    // A secret sealed for another user (aad `totp:<id>`) does not decrypt either.
    const bob = await enrolTotp(t, "bob@example.com");
    await db.updateTable("user_totp").set({ secret_enc: sealed }).where("user_id", "=", bob.userId).execute();
    const bobPartial = await login(t, "bob@example.com");
    expect(message(await authenticateTotp(t, bobPartial, codeAt(totp, t.clock.now())))).toBe("TOTP_CORRUPT");

    // A corrupt pending secret fails activation the same way.
    const access = await accessFor(
      t,
      tokensOf(
        await post(t, "/user/2fa/recovery-code/authenticate", bobPartial, {
          recoveryCode: bob.recoveryCodes[0],
        }),
      ).refreshToken,
    );
    await db
      .updateTable("user_totp")
      .set({ pending_secret_enc: "v1.test1.AAAA" })
      .where("user_id", "=", bob.userId)
      .execute();
    expect(message(await post(t, "/user/2fa/totp/enable", access, { totp: "123456" }))).toBe("TOTP_CORRUPT");
  });

  it("refuses bad input without changing anything", async () => {
    const { totp, userId } = await enrolTotp(t);
    const partial = await login(t, "alice@example.com");
    const before = await t.db.selectFrom("user_totp").selectAll().where("user_id", "=", userId).execute();
    const cases: [object, string][] = [
      [{ totp: "12345" }, "body/totp must NOT have fewer than 6 characters"],
      [{ totp: "1234567" }, "body/totp must NOT have more than 6 characters"],
      [{}, "body must have required property 'totp'"],
      [{ totp: ["123456", "654321"] }, "body/totp must be string"],
      [{ totp: codeAt(totp, t.clock.now()), extra: 1 }, "body must NOT have additional properties"],
    ];
    for (const [payload, text] of cases) {
      const res = await post(t, "/user/2fa/totp/authenticate", partial, payload);
      expect({ status: res.statusCode, body: res.json() }).toEqual({
        status: 400,
        body: { statusCode: 400, error: "Bad Request", message: text },
      });
    }
    // 400s are not guesses: the throttle is untouched, the step unused.
    expect((await get(t, "/user/2fa/totp/next-guess", partial)).json()).toEqual({ duration: 0 });
    expect(await t.db.selectFrom("user_totp").selectAll().where("user_id", "=", userId).execute()).toEqual(before);
    // Letters within six characters are a (wrong) guess.
    expect(message(await authenticateTotp(t, partial, "12a456"))).toBe("TOTP_INVALID");
    expect(message(await post(t, "/user/2fa/totp/setup", partial, { x: 1 }))).toBe(
      "body must NOT have additional properties",
    );
    tokensOf(await authenticateTotp(t, partial, codeAt(totp, t.clock.now())));
  });
});
