import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type TestApp, testDialects } from "../support/harness.js";
import { call, expectError, expectNoContent, login, NEW_PASSWORD, PASSWORD, signIn } from "../support/http.js";
import { codeOf, type SmtpSink } from "../support/smtp.js";
import { snapshot } from "../support/snapshot.js";
import { type MailApp, mailCodes, otherThan, startAppWithSmtpDown, startMailApp } from "./fixture.js";

const SEND = "/user/password/reset/send";
const VALIDATE = "/user/password/reset/validate";
const RESET = "/user/password/otp";

describe.each(testDialects())("password reset on $name", (dialect) => {
  let m: MailApp | undefined;
  let t: TestApp;
  let smtp: SmtpSink;

  beforeEach(async () => {
    m = await startMailApp(dialect);
    ({ t, smtp } = m);
    await t.createUser("alice@example.com");
  });
  afterEach(async () => {
    // Undefined when beforeEach failed: its own error is the one to see.
    await m?.close();
    m = undefined;
  });

  const send = (email: string, query = "") => call(t, "POST", `${SEND}${query}`, undefined, { email });
  const validate = (email: string, otp: string) => call(t, "POST", VALIDATE, undefined, { email, otp });
  const reset = (userEmail: string, otp: string, newPassword = NEW_PASSWORD) =>
    call(t, "PUT", RESET, undefined, { userEmail, otp, newPassword });

  async function mailedCode(email = "alice@example.com", query = ""): Promise<string> {
    expectNoContent(await send(email, query));
    return codeOf(await smtp.next());
  }

  it("mails the code in each language, falling back to the origin's default language", async () => {
    const cases: [string, string][] = [
      ["?language=en", "Reset your Latchkey password"],
      ["?language=nl", "Stel je Latchkey-wachtwoord opnieuw in"],
      ["?language=FR", "Réinitialisez votre mot de passe Latchkey"],
      ["?language=de&origin=default", "Setzen Sie Ihr Latchkey-Passwort zurück"],
      ["?language=es", "Reset your Latchkey password"],
      ["", "Reset your Latchkey password"],
    ];
    for (const [query, subject] of cases) {
      expectNoContent(await send("alice@example.com", query));
      const mail = await smtp.next();
      expect(mail.to).toEqual(["alice@example.com"]);
      expect(mail.subject).toBe(subject);
      expect(mail.text).toMatch(/\b\d{6}\b/);
      expect(mail.html).toContain(codeOf(mail));
      t.clock.advanceSeconds(60);
    }
  });

  it("resets the password with the mailed code: every session revoked, a notice sent, the code spent", async () => {
    const { refresh, access } = await signIn(t, "alice@example.com");
    const code = await mailedCode("alice@example.com", "?language=nl");

    expectNoContent(await validate("ALICE@example.com", code));
    expectError(await validate("alice@example.com", otherThan(code)), 401, "OTP_INVALID_EXPIRED");
    expectNoContent(await reset("alice@example.com", code));

    expectError(await call(t, "GET", "/auth/accesstoken", refresh), 401, "TOKEN_REVOKED");
    expectError(await call(t, "GET", "/auth/accesstoken/validate", access), 401, "TOKEN_REVOKED");
    expectError(
      await call(t, "POST", "/auth/login", undefined, { username: "alice@example.com", password: PASSWORD }),
      401,
      "PASSWORD_INCORRECT",
    );
    await login(t, "alice@example.com", NEW_PASSWORD);

    const notice = await smtp.next();
    expect(notice.to).toEqual(["alice@example.com"]);
    // The notice speaks the language of the reset mail.
    expect(notice.subject).toBe("Je Latchkey-wachtwoord is opnieuw ingesteld");

    expectError(await reset("alice@example.com", code, "Another8Password"), 401, "OTP_INVALID_EXPIRED");
    expectError(await validate("alice@example.com", code), 401, "OTP_INVALID_EXPIRED");
  });

  it("answers an unknown address exactly like a known one, and mails nothing", async () => {
    const known = await send("alice@example.com");
    const unknown = await send("nobody@example.com");
    expect(unknown.statusCode).toBe(known.statusCode);
    expect(unknown.body).toBe(known.body);
    // The same headers; only the date and the per-client request counter may differ.
    const varying = ["date", "x-ratelimit-remaining", "x-ratelimit-reset"];
    const headers = (res: typeof known) =>
      Object.fromEntries(Object.entries(res.headers).filter(([name]) => !varying.includes(name)));
    expect(Object.keys(unknown.headers).sort()).toEqual(Object.keys(known.headers).sort());
    expect(headers(unknown)).toEqual(headers(known));

    // The unknown address is throttled like a known one.
    const knownAgain = await send("alice@example.com");
    const unknownAgain = await send("nobody@example.com");
    expectError(knownAgain, 429, "TOO_MANY_RESET_MAIL_ATTEMPTS", 60);
    expectError(unknownAgain, 429, "TOO_MANY_RESET_MAIL_ATTEMPTS", 60);

    // Only the known address got mail: the next mail in the queue is the one sent after.
    t.clock.advanceSeconds(60);
    expectNoContent(await send("alice@example.com", "?language=de"));
    expect((await smtp.next()).to).toEqual(["alice@example.com"]);
    expect((await smtp.next()).subject).toBe("Setzen Sie Ihr Latchkey-Passwort zurück");
    expect(smtp.received.every((mail) => mail.to.every((to) => to !== "nobody@example.com"))).toBe(true);

    // A code stored for an unknown address can never be used, also not by an account created later.
    await t.createUser("nobody@example.com");
    const rows = await mailCodes(t);
    expect(rows.find((row) => row.subject === "email:nobody@example.com")?.user_id).toBeNull();
    for (let n = 0; n < 3; n++) {
      expectError(await validate("nobody@example.com", String(n).padStart(6, "0")), 401, "OTP_INVALID_EXPIRED");
    }
  });

  it("takes as long for an unknown address as a delivery usually takes", async () => {
    t.deps.flow.pacer.record(240);
    const before = t.clock.now();
    expectNoContent(await send("nobody@example.com"));
    expect(t.clock.now() - before).toBe(240);
  });

  it("throttles sends per address for 60 s with retryAfter; a new send replaces the previous code", async () => {
    const first = await mailedCode();
    t.clock.advanceSeconds(20);
    expectError(await send("alice@example.com"), 429, "TOO_MANY_RESET_MAIL_ATTEMPTS", 40);
    t.clock.advanceSeconds(39.5);
    expectError(await send("ALICE@example.com"), 429, "TOO_MANY_RESET_MAIL_ATTEMPTS", 1);
    // Another address has its own clock.
    await t.createUser("bob@example.com");
    expectNoContent(await send("bob@example.com"));
    expect((await smtp.next()).to).toEqual(["bob@example.com"]);

    t.clock.advanceSeconds(0.5);
    const second = await mailedCode();
    expect(smtp.pending()).toEqual([]);
    if (second !== first) expectError(await validate("alice@example.com", first), 401, "OTP_INVALID_EXPIRED");
    expectNoContent(await validate("alice@example.com", second));
    expect(await mailCodes(t)).toHaveLength(2);
  });

  it("expires a code after 10 minutes", async () => {
    const code = await mailedCode();
    t.clock.advanceSeconds(599);
    expectNoContent(await validate("alice@example.com", code));
    t.clock.advanceSeconds(1);
    expectError(await validate("alice@example.com", code), 401, "OTP_INVALID_EXPIRED");
    expectError(await reset("alice@example.com", code), 401, "OTP_INVALID_EXPIRED");
  });

  it("kills a code after five wrong tries, and counts a successful check as a try too", async () => {
    const code = await mailedCode();
    for (let n = 0; n < 5; n++) {
      expectError(await validate("alice@example.com", otherThan(code)), 401, "OTP_INVALID_EXPIRED");
    }
    // Past the guess throttle's waits (§4), the right code is dead all the same.
    t.clock.advanceSeconds(1);
    expectError(await validate("alice@example.com", code), 401, "OTP_INVALID_EXPIRED");
    t.clock.advanceSeconds(2);
    expectError(await reset("alice@example.com", code), 401, "OTP_INVALID_EXPIRED");

    t.clock.advanceSeconds(60);
    const next = await mailedCode();
    for (let n = 0; n < 5; n++) expectNoContent(await validate("alice@example.com", next));
    expectError(await reset("alice@example.com", next), 401, "OTP_INVALID_EXPIRED");
  });

  it("gives a burst of wrong guesses no more than five checks", async () => {
    const code = await mailedCode();
    const burst = await Promise.all(Array.from({ length: 12 }, () => validate("alice@example.com", otherThan(code))));
    // Five are checked; the guess throttle (§4) refuses the rest unchecked.
    expect(burst.filter((res) => res.statusCode === 401)).toHaveLength(5);
    expect(burst.filter((res) => res.statusCode === 429)).toHaveLength(7);
    expect((await mailCodes(t))[0]?.tries).toBe(5);
    t.clock.advanceSeconds(1);
    expectError(await reset("alice@example.com", code), 401, "OTP_INVALID_EXPIRED");
  });

  it("lets exactly one of concurrent uses of one code through", async () => {
    const code = await mailedCode();
    const results = await Promise.all([
      reset("alice@example.com", code, "First8Password"),
      reset("alice@example.com", code, "Second8Password"),
      reset("alice@example.com", code, "Third8Password"),
    ]);
    expect(results.map((res) => res.statusCode).sort()).toEqual([204, 401, 401]);
    const winners = ["First8Password", "Second8Password", "Third8Password"].filter(
      (_password, index) => results[index]?.statusCode === 204,
    );
    await login(t, "alice@example.com", winners[0]);
  });

  it("checks the password rules before spending the code", async () => {
    const code = await mailedCode();
    const weak = await reset("alice@example.com", code, "alllowercase1");
    expectError(weak, 400, "Password must contain at least one uppercase character");
    expectError(await reset("alice@example.com", code, "short"), 400, "Password must be at least 8 characters long");
    expectError(await reset("alice@example.com", code, "Password1"), 400, "PASSWORD_TOO_COMMON");
    expectNoContent(await reset("alice@example.com", code));
  });

  it("refuses throw-away providers (and their subdomains) with FORBIDDEN_MAIL_PROVIDER", async () => {
    const before = await snapshot(t);
    expectError(await send("someone@mailinator.com"), 403, "FORBIDDEN_MAIL_PROVIDER");
    expectError(await send("someone@eu.MAILINATOR.com"), 403, "FORBIDDEN_MAIL_PROVIDER");
    expect(await snapshot(t)).toBe(before);
    expect(smtp.received).toEqual([]);
  });

  it("answers an unknown origin with UNABLE_TO_FIND_MAIL_TEMPLATE and stores nothing", async () => {
    const before = await snapshot(t);
    for (const email of ["alice@example.com", "nobody@example.com"]) {
      expectError(await send(email, "?origin=shop"), 500, "UNABLE_TO_FIND_MAIL_TEMPLATE");
    }
    expect(await snapshot(t)).toBe(before);
    // Nothing was charged either: a send right away goes out.
    await mailedCode();
  });
});

describe.each(testDialects())("password reset with the mail server down on $name", (dialect) => {
  let down: Awaited<ReturnType<typeof startAppWithSmtpDown>>;
  let t: TestApp;
  let before: string;

  beforeEach(async () => {
    down = await startAppWithSmtpDown(dialect);
    t = down.t;
    await t.createUser("alice@example.com");
    before = await snapshot(t);
  });
  afterEach(async () => {
    // Undefined when beforeEach failed: its own error is the one to see.
    await down?.close();
  });

  it("answers MAIL_DELIVERY_FAILED, keeps no code and charges nothing; a retry with SMTP back goes out", async () => {
    const failed = await call(t, "POST", SEND, undefined, { email: "alice@example.com" });
    expectError(failed, 500, "MAIL_DELIVERY_FAILED");
    expect(await snapshot(t)).toBe(before);

    const smtp = await down.smtpUp();
    expectNoContent(await call(t, "POST", SEND, undefined, { email: "alice@example.com" }));
    const code = codeOf(await smtp.next());
    expectNoContent(await call(t, "POST", VALIDATE, undefined, { email: "alice@example.com", otp: code }));
  });

  it("answers an unknown address exactly like a known one: MAIL_DELIVERY_FAILED, nothing charged", async () => {
    const known = await call(t, "POST", SEND, undefined, { email: "alice@example.com" });
    const unknown = await call(t, "POST", SEND, undefined, { email: "nobody@example.com" });
    expectError(unknown, 500, "MAIL_DELIVERY_FAILED");
    expect(unknown.body).toBe(known.body);
    expect(await snapshot(t)).toBe(before);

    // With the server back, a retry is not throttled, and still mails nothing.
    const smtp = await down.smtpUp();
    expectNoContent(await call(t, "POST", SEND, undefined, { email: "nobody@example.com" }));
    expect(smtp.pending()).toEqual([]);
  });
});
