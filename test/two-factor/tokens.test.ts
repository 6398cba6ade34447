import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "../support/harness.js";
import { accessFor, call, del, get, login, message, post, sessionIdOf, tokensOf } from "../support/http.js";
import { authenticateTotp, codeAt, enrolTotp } from "./support.js";

describe.each(testDialects())("partial, sudo and step-up tokens on $name", (dialect) => {
  let t: TestApp;

  beforeEach(async () => {
    t = await createTestApp(dialect);
  });
  afterEach(async () => {
    await t.close();
  });

  it("a partial token is refused where a full login is needed, and expires after 10 minutes", async () => {
    await enrolTotp(t);
    const partial = await login(t, "alice@example.com");
    const refused = await get(t, "/auth/accesstoken", partial);
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toEqual({ statusCode: 401, error: "Unauthorized", message: "2FA_REQUIRED_PARTIAL_TOKEN" });
    // Wherever a full login is needed, a partial token says so (§2).
    for (const [method, url] of [
      ["GET", "/auth/refreshtoken"],
      ["GET", "/auth/accesstoken/validate"],
      ["POST", "/user/2fa/totp/enable"],
    ] as const) {
      const res = await call(t, method, url, partial, method === "POST" ? { totp: "123456" } : undefined);
      expect({ url, status: res.statusCode, message: message(res) }).toEqual({
        url,
        status: 401,
        message: "2FA_REQUIRED_PARTIAL_TOKEN",
      });
    }
    t.clock.advanceSeconds(599);
    expect((await get(t, "/user/2fa", partial)).statusCode).toBe(200);
    t.clock.advanceSeconds(1);
    expect(message(await get(t, "/user/2fa", partial))).toBe("TOKEN_EXPIRED");
  });

  it("a partial token makes one session only; afterwards it is TOKEN_REVOKED everywhere", async () => {
    const { totp, recoveryCodes } = await enrolTotp(t);
    const partial = await login(t, "alice@example.com");
    tokensOf(await authenticateTotp(t, partial, codeAt(totp, t.clock.now())));
    t.clock.advanceSeconds(30);
    expect(message(await authenticateTotp(t, partial, codeAt(totp, t.clock.now())))).toBe("TOKEN_REVOKED");
    expect(
      message(await post(t, "/user/2fa/recovery-code/authenticate", partial, { recoveryCode: recoveryCodes[0] })),
    ).toBe("TOKEN_REVOKED");
    expect(message(await get(t, "/user/2fa", partial))).toBe("TOKEN_REVOKED");
    // Nothing was spent by the refused attempts.
    const fresh = tokensOf(await authenticateTotp(t, await login(t, "alice@example.com"), codeAt(totp, t.clock.now())));
    expect((await get(t, "/user/2fa", fresh.accessToken)).json().recoveryCodes.remaining).toBe(10);
  });

  it("a sudo token expires after 5 minutes", async () => {
    const { totp } = await enrolTotp(t);
    const tokens = tokensOf(
      await authenticateTotp(t, await login(t, "alice@example.com"), codeAt(totp, t.clock.now())),
    );
    t.clock.advanceSeconds(299);
    expect((await post(t, "/user/2fa/recovery-code/reset", tokens.sudoToken, {})).statusCode).toBe(200);
    t.clock.advanceSeconds(1);
    const expired = await post(t, "/user/2fa/recovery-code/reset", tokens.sudoToken, {});
    expect(expired.statusCode).toBe(401);
    expect(message(expired)).toBe("TOKEN_EXPIRED");
  });

  it("guards sudo endpoints: access → 403, refresh → WRONG_TOKEN_TYPE, partial → 401, none → 401", async () => {
    await t.createUser("bob@example.com");
    const bobRefresh = await login(t, "bob@example.com");
    const bobAccess = await accessFor(t, bobRefresh);
    // 2FA off: "sudo, or access if 2FA is off" takes the access token; sudo-only endpoints never do.
    expect((await post(t, "/user/2fa/totp/setup", bobAccess, {})).statusCode).toBe(200);
    const forbidden = await del(t, "/user/2fa/totp", bobAccess);
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json()).toEqual({ statusCode: 403, error: "Forbidden", message: "SUDO_TOKEN_REQUIRED" });
    expect(message(await post(t, "/user/2fa/recovery-code/reset", bobAccess, {}))).toBe("SUDO_TOKEN_REQUIRED");

    const { refresh, access, totp } = await enrolTotp(t);
    // 2FA on: the access token no longer does at setup.
    const setup = await post(t, "/user/2fa/totp/setup", access, {});
    expect(setup.statusCode).toBe(403);
    expect(message(setup)).toBe("SUDO_TOKEN_REQUIRED");
    const partial = await login(t, "alice@example.com");
    const cases: [string, string, string | undefined, number, string][] = [
      ["DELETE", "/user/2fa/totp", refresh, 401, "WRONG_TOKEN_TYPE"],
      ["POST", "/user/2fa/totp/setup", refresh, 401, "WRONG_TOKEN_TYPE"],
      ["POST", "/user/2fa/recovery-code/reset", refresh, 401, "WRONG_TOKEN_TYPE"],
      ["DELETE", "/user/2fa/totp", partial, 401, "2FA_REQUIRED_PARTIAL_TOKEN"],
      ["POST", "/user/2fa/totp/setup", partial, 401, "2FA_REQUIRED_PARTIAL_TOKEN"],
      ["POST", "/user/2fa/recovery-code/reset", partial, 401, "2FA_REQUIRED_PARTIAL_TOKEN"],
      ["DELETE", "/user/2fa/totp", undefined, 401, "NO_TOKEN_PROVIDED"],
      ["GET", "/user/2fa", undefined, 401, "NO_TOKEN_PROVIDED"],
      ["GET", "/user/2fa", refresh, 401, "WRONG_TOKEN_TYPE"],
    ];
    for (const [method, url, token, status, code] of cases) {
      const res = await call(t, method as "GET" | "POST" | "DELETE", url, token, method === "POST" ? {} : undefined);
      expect({ method, url, status: res.statusCode, code: message(res) }).toEqual({ method, url, status, code });
    }
    const tokens = tokensOf(await authenticateTotp(t, partial, codeAt(totp, t.clock.now())));
    expect((await post(t, "/user/2fa/totp/setup", tokens.sudoToken, {})).statusCode).toBe(200);
    // Logout ends the sudo token of the session too.
    expect((await post(t, "/auth/logout", tokens.refreshToken)).statusCode).toBe(204);
    expect(message(await post(t, "/user/2fa/recovery-code/reset", tokens.sudoToken, {}))).toBe("TOKEN_REVOKED");
  });

  it("step-up with an access token: new tokens of the same session; the refresh token held stays valid", async () => {
    const { userId, totp, refresh, access } = await enrolTotp(t);
    const stepUp = tokensOf(await authenticateTotp(t, access, codeAt(totp, t.clock.now())));
    for (const token of Object.values(stepUp)) expect(sessionIdOf(token)).toBe(sessionIdOf(refresh));
    expect(stepUp.refreshToken).not.toBe(refresh);
    for (const token of [refresh, stepUp.refreshToken]) {
      expect((await get(t, "/auth/refreshtoken/validate", token)).json()).toEqual({ userId });
    }
    // The new refresh token rotates like any other, within the session's absolute end.
    const rotated = await get(t, "/auth/refreshtoken", stepUp.refreshToken);
    expect(rotated.statusCode).toBe(200);
    expect(sessionIdOf(rotated.body)).toBe(sessionIdOf(refresh));
    expect((await post(t, "/user/2fa/recovery-code/reset", stepUp.sudoToken, {})).statusCode).toBe(200);

    // One session: logging out with the original token ends the stepped-up tokens too.
    expect((await post(t, "/auth/logout", refresh)).statusCode).toBe(204);
    expect(message(await get(t, "/auth/refreshtoken/validate", rotated.body))).toBe("TOKEN_REVOKED");
    expect(message(await post(t, "/user/2fa/recovery-code/reset", stepUp.sudoToken, {}))).toBe("TOKEN_REVOKED");
    t.clock.advanceSeconds(30);
    expect(message(await authenticateTotp(t, access, codeAt(totp, t.clock.now())))).toBe("TOKEN_REVOKED");
  });

  it("GET /user/2fa answers access and partial tokens alike", async () => {
    const { access } = await enrolTotp(t);
    const partial = await login(t, "alice@example.com");
    const viaAccess = await get(t, "/user/2fa", access);
    const viaPartial = await get(t, "/user/2fa", partial);
    expect(viaAccess.statusCode).toBe(200);
    expect(viaPartial.json()).toEqual(viaAccess.json());
    expect(Object.keys(viaAccess.json()).sort()).toEqual(["enabled", "recoveryCodes", "totp"]);
  });
});
