import type { LightMyRequestResponse } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type TestApp, testDialects } from "../support/harness.js";
import { call, expectError, expectNoContent, login, signIn, tokensOf } from "../support/http.js";
import { codeOf, type SmtpSink } from "../support/smtp.js";
import { snapshot } from "../support/snapshot.js";
import { type MailApp, mailCodes, otherThan, startMailApp } from "./fixture.js";

/**
 * Wrong guesses at mailed codes are counted per account (reset: per address) and purpose across
 * sends, with the backoff of the other guesses (§4): 5 free, then 2^(n-5) s after the n-th.
 */
describe.each(testDialects())("mailed-code guesses on $name", (dialect) => {
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

  const sendReset = (email: string) => call(t, "POST", "/user/password/reset/send", undefined, { email });
  const validate = (email: string, otp: string) =>
    call(t, "POST", "/user/password/reset/validate", undefined, { email, otp });
  const resetWith = (userEmail: string, otp: string) =>
    call(t, "PUT", "/user/password/otp", undefined, { userEmail, otp, newPassword: "Fresh9Lantern" });

  async function mailedReset(email = "alice@example.com"): Promise<string> {
    expectNoContent(await sendReset(email));
    return codeOf(await smtp.next());
  }

  async function triesOf(subject: string): Promise<number | undefined> {
    return (await mailCodes(t)).find((row) => row.subject === subject)?.tries;
  }

  it("counts reset guesses across sends with the backoff; a refusal checks nothing; a correct code clears", async () => {
    const first = await mailedReset();
    for (let n = 0; n < 4; n++)
      expectError(await validate("alice@example.com", otherThan(first)), 401, "OTP_INVALID_EXPIRED");
    t.clock.advanceSeconds(60);
    // A new code does not reset the count: the 5th wrong guess is the last free one.
    const second = await mailedReset();
    expectError(await validate("alice@example.com", otherThan(second)), 401, "OTP_INVALID_EXPIRED");
    expectError(await validate("alice@example.com", otherThan(second)), 429, "TOO_MANY_OTP_CHECKS", 1);
    t.clock.advanceSeconds(1);
    expectError(await validate("alice@example.com", otherThan(second)), 401, "OTP_INVALID_EXPIRED");
    // Both reset endpoints share the count.
    expectError(await resetWith("alice@example.com", otherThan(second)), 429, "TOO_MANY_OTP_CHECKS", 2);
    t.clock.advanceSeconds(2);
    expectError(await resetWith("ALICE@example.com", otherThan(second)), 401, "OTP_INVALID_EXPIRED");

    // While waiting even the right code is refused, without a check: nothing changes, no try is used.
    const before = await snapshot(t);
    expectError(await validate("alice@example.com", second), 429, "TOO_MANY_OTP_CHECKS", 4);
    expectError(await resetWith("alice@example.com", second), 429, "TOO_MANY_OTP_CHECKS", 4);
    expect(await snapshot(t)).toBe(before);
    expect(await triesOf("email:alice@example.com")).toBe(3);

    t.clock.advanceSeconds(4);
    expectNoContent(await validate("alice@example.com", second));
    // The correct code cleared the count: five free wrong guesses again (the code dies on the way).
    for (let n = 0; n < 5; n++)
      expectError(await validate("alice@example.com", otherThan(second)), 401, "OTP_INVALID_EXPIRED");
    expectError(await validate("alice@example.com", second), 429, "TOO_MANY_OTP_CHECKS", 1);
  });

  it("throttles a reset to an unknown address exactly like one to a known address", async () => {
    const addresses = ["alice@example.com", "nobody@example.com"] as const;
    /** The same request for both addresses: the answers must be identical. */
    async function both(request: (email: string) => Promise<LightMyRequestResponse>) {
      const [known, unknown] = await Promise.all(addresses.map((email) => request(email)));
      if (!known || !unknown) throw new Error("missing answer");
      expect(unknown.statusCode).toBe(known.statusCode);
      expect(unknown.body).toBe(known.body);
      expect(unknown.headers["retry-after"]).toBe(known.headers["retry-after"]);
      return known;
    }
    expectNoContent(await both(sendReset));
    await smtp.next();
    for (let n = 0; n < 3; n++)
      expectError(await both((email) => validate(email, "000000")), 401, "OTP_INVALID_EXPIRED");
    t.clock.advanceSeconds(60);
    expectNoContent(await both(sendReset));
    await smtp.next();
    for (let n = 0; n < 2; n++)
      expectError(await both((email) => resetWith(email, "000000")), 401, "OTP_INVALID_EXPIRED");
    expectError(await both((email) => validate(email, "000000")), 429, "TOO_MANY_OTP_CHECKS", 1);
    t.clock.advanceSeconds(1);
    expectError(await both((email) => resetWith(email, "000000")), 401, "OTP_INVALID_EXPIRED");
    expectError(await both((email) => validate(email, "000000")), 429, "TOO_MANY_OTP_CHECKS", 2);
    // Each address has its own count.
    await t.createUser("bob@example.com");
    expectError(await validate("bob@example.com", "000000"), 401, "OTP_INVALID_EXPIRED");
  });

  it("gives a burst of concurrent wrong guesses no more checks than the budget left, across sends", async () => {
    const first = await mailedReset();
    for (let n = 0; n < 3; n++)
      expectError(await validate("alice@example.com", otherThan(first)), 401, "OTP_INVALID_EXPIRED");
    t.clock.advanceSeconds(60);
    const second = await mailedReset();
    const burst = await Promise.all(Array.from({ length: 10 }, () => validate("alice@example.com", otherThan(second))));
    const statuses = burst.map((res) => res.statusCode).sort();
    expect(statuses).toEqual([401, 401, 429, 429, 429, 429, 429, 429, 429, 429]);
    for (const res of burst.filter((r) => r.statusCode === 429)) expect(res.json().message).toBe("TOO_MANY_OTP_CHECKS");
    // Only the two guesses left in the budget reached the code.
    expect(await triesOf("email:alice@example.com")).toBe(2);
    t.clock.advanceSeconds(1);
    expectNoContent(await resetWith("alice@example.com", second));
  });

  it("counts email OTP challenge guesses across challenges; next-email reports the longer wait", async () => {
    const session = await signIn(t, "alice@example.com");
    expectNoContent(await call(t, "POST", "/user/2fa/email-otp/setup", session.access, { email: "a.2fa@example.com" }));
    const enable = await call(t, "POST", "/user/2fa/email-otp/enable", session.access, {
      otp: codeOf(await smtp.next()),
    });
    expect(enable.statusCode).toBe(200);

    const partial = await login(t, "alice@example.com");
    const authenticate = (otp: string) => call(t, "POST", "/user/2fa/email-otp/authenticate", partial, { otp });
    const nextEmail = async () => (await call(t, "GET", "/user/2fa/email-otp/next-email", partial)).json();
    const challenge = async () => {
      expectNoContent(await call(t, "POST", "/user/2fa/email-otp/challenge", partial, {}));
      return codeOf(await smtp.next());
    };

    const first = await challenge();
    for (let n = 0; n < 4; n++) expectError(await authenticate(otherThan(first)), 401, "OTP_INVALID_EXPIRED");
    t.clock.advanceSeconds(60);
    const second = await challenge();
    expectError(await authenticate(otherThan(second)), 401, "OTP_INVALID_EXPIRED");
    expectError(await authenticate(second), 429, "TOO_MANY_OTP_CHECKS", 1);
    // The resend wait (60 s) is the longer one now.
    expect(await nextEmail()).toEqual({ duration: 60 });
    // Up to the 11th failure, each after its wait: the next guess then waits 2^6 = 64 s.
    for (let n = 6; n <= 11; n++) {
      t.clock.advanceSeconds(2 ** (n - 6));
      expectError(await authenticate(otherThan(second)), 401, "OTP_INVALID_EXPIRED");
    }
    // 63 s after the challenge, the resend wait is over; a new code is no use before a guess is allowed.
    expect(await nextEmail()).toEqual({ duration: 64 });
    const third = await challenge();
    expectError(await authenticate(third), 429, "TOO_MANY_OTP_CHECKS", 64);
    t.clock.advanceSeconds(64);
    expect(await nextEmail()).toEqual({ duration: 0 });
    const tokens = tokensOf(await authenticate(third));
    expect(tokens.sudoToken).toEqual(expect.any(String));
  });

  it("counts setup-code guesses at activation across setup mails", async () => {
    const { access } = await signIn(t, "alice@example.com");
    const setup = async () => {
      expectNoContent(await call(t, "POST", "/user/2fa/email-otp/setup", access, { email: "a.2fa@example.com" }));
      return codeOf(await smtp.next());
    };
    const enable = (otp: string) => call(t, "POST", "/user/2fa/email-otp/enable", access, { otp });
    const first = await setup();
    for (let n = 0; n < 5; n++) expectError(await enable(otherThan(first)), 401, "OTP_INVALID_EXPIRED");
    t.clock.advanceSeconds(60);
    const second = await setup();
    expectError(await enable(otherThan(second)), 401, "OTP_INVALID_EXPIRED");
    expectError(await enable(second), 429, "TOO_MANY_OTP_CHECKS", 2);
    t.clock.advanceSeconds(2);
    expect((await enable(second)).json().recoveryCodes).toHaveLength(10);
  });

  it("counts transfer-code guesses across transfer mails", async () => {
    const { access } = await signIn(t, "alice@example.com");
    const initiate = async (email: string) => {
      expectNoContent(await call(t, "POST", "/user/email/initiate", access, { email }));
      return codeOf(await smtp.next());
    };
    const complete = (otp: string) => call(t, "PUT", "/user/email", access, { otp });
    const first = await initiate("first@example.org");
    for (let n = 0; n < 4; n++) expectError(await complete(otherThan(first)), 401, "OTP_INVALID_EXPIRED");
    t.clock.advanceSeconds(60);
    const second = await initiate("second@example.org");
    expectError(await complete(otherThan(second)), 401, "OTP_INVALID_EXPIRED");
    expectError(await complete(second), 429, "TOO_MANY_OTP_CHECKS", 1);
    expect((await t.deps.store.findUserByEmail("alice@example.com"))?.email).toBe("alice@example.com");
    t.clock.advanceSeconds(1);
    expectNoContent(await complete(second));
    expect((await t.deps.store.findUserByEmail("second@example.org"))?.email).toBe("second@example.org");
  });
});
