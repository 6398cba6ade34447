import { afterEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "./support/harness.js";
import { bearer, NEW_PASSWORD, PASSWORD } from "./support/http.js";
import { capturingLogger } from "./support/logs.js";
import { codeOf, type SmtpSink, startSmtpSink } from "./support/smtp.js";
import { authenticatorFrom, codeAt } from "./two-factor/support.js";

describe.each(testDialects())("logs on $name", (dialect) => {
  let t: TestApp;
  let smtp: SmtpSink;
  afterEach(async () => {
    await t.close();
    await smtp.stop();
  });

  it("never contain a password, code, secret, token or recovery code used in login, 2FA and reset", async () => {
    smtp = await startSmtpSink();
    const captured = capturingLogger();
    // The most talkative settings: every line a request can write, the access log's included.
    t = await createTestApp(dialect, {
      env: { LATCHKEY_SMTP_URL: smtp.url, LATCHKEY_LOG_LEVEL: "trace", LATCHKEY_ACCESS_LOG: "on" },
      logger: captured.logger,
    });
    await t.createUser("alice@example.com", PASSWORD);
    const secrets: string[] = [PASSWORD, NEW_PASSWORD];
    const call = (method: "GET" | "POST" | "PUT" | "DELETE", url: string, token?: string, payload?: object) =>
      t.app.inject({
        method,
        url,
        headers: token ? { ...bearer(token), cookie: `refreshToken=${token}` } : {},
        ...(payload ? { payload } : {}),
      });

    // Password login, tokens, a wrong password too.
    await call("POST", "/auth/login", undefined, { username: "alice@example.com", password: "Wrong7Horse" });
    secrets.push("Wrong7Horse");
    const refresh = (
      await call("POST", "/auth/login?cookie=true", undefined, { username: "alice@example.com", password: PASSWORD })
    ).body;
    const access = (await call("GET", "/auth/accesstoken", refresh)).body;
    secrets.push(refresh, access);

    // TOTP enrolment, a two-step login, a recovery code.
    const url: string = (await call("POST", "/user/2fa/totp/setup", access, {})).json().url;
    const totp = authenticatorFrom(url);
    secrets.push(totp.secret.base32);
    const enableCode = codeAt(totp, t.clock.now());
    const recoveryCodes: string[] = (await call("POST", "/user/2fa/totp/enable", access, { totp: enableCode })).json()
      .recoveryCodes;
    expect(recoveryCodes).toHaveLength(10);
    secrets.push(enableCode, ...recoveryCodes);
    t.clock.advanceSeconds(30);
    const partial = (
      await call("POST", "/auth/login", undefined, { username: "alice@example.com", password: PASSWORD })
    ).body;
    const loginCode = codeAt(totp, t.clock.now());
    const tokens = (await call("POST", "/user/2fa/totp/authenticate", partial, { totp: loginCode })).json();
    secrets.push(partial, loginCode, tokens.accessToken, tokens.refreshToken, tokens.sudoToken);
    const partial2 = (
      await call("POST", "/auth/login", undefined, { username: "alice@example.com", password: PASSWORD })
    ).body;
    const recovery = await call("POST", "/user/2fa/recovery-code/authenticate", partial2, {
      recoveryCode: recoveryCodes[0],
    });
    expect(recovery.statusCode).toBe(200);
    secrets.push(partial2, recovery.json().refreshToken);

    // Password reset by mailed code.
    await call("POST", "/user/password/reset/send", undefined, { email: "alice@example.com" });
    const resetCode = codeOf(await smtp.next());
    secrets.push(resetCode);
    await call("POST", "/user/password/reset/validate", undefined, { email: "alice@example.com", otp: "000000" });
    const reset = await call("PUT", "/user/password/otp", undefined, {
      userEmail: "alice@example.com",
      otp: resetCode,
      newPassword: NEW_PASSWORD,
    });
    expect(reset.statusCode).toBe(204);

    const text = captured.text();
    expect(text.length).toBeGreaterThan(1000); // requests were logged, at trace level
    expect(text).toContain("/user/2fa/totp/authenticate");
    // Request lines carry the request's id (the request logger is made on its first line).
    expect(text).toMatch(/"reqId":"[0-9a-f-]{36}","method":"POST","route":"\/auth\/login"/);
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThanOrEqual(6);
      expect(text.includes(secret), `a secret of ${secret.length} characters appears in the log`).toBe(false);
    }
  });
});

describe("log redaction paths", () => {
  it("censor authorization, cookies and secret body fields wherever a line carries them", () => {
    const captured = capturingLogger();
    captured.logger.info(
      {
        req: { headers: { authorization: "Bearer eyJsecret", cookie: "refreshToken=eyJcookie" } },
        body: { password: "Hunter2Pass", otp: "123456", recoveryCode: "ABCDEFGHJKMNPQRS", totp: "654321" },
      },
      "probe",
    );
    const text = captured.text();
    for (const secret of ["eyJsecret", "eyJcookie", "Hunter2Pass", "123456", "ABCDEFGHJKMNPQRS", "654321"]) {
      expect(text).not.toContain(secret);
    }
    expect(text.match(/\[redacted\]/g)).toHaveLength(6);
  });
});
