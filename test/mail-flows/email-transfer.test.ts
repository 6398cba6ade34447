import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashMailCode, MAIL_CODE_KEY_PURPOSE } from "../../src/core/otp/codes.js";
import type { TestApp } from "../support/harness.js";
import { testDialects } from "../support/harness.js";
import { codeOf, type SmtpSink } from "../support/smtp.js";
import {
  call,
  expectError,
  expectNoContent,
  login,
  type MailApp,
  mailCodes,
  otherThan,
  PASSWORD,
  signIn,
  snapshot,
  startMailApp,
} from "./fixture.js";

const INITIATE = "/user/email/initiate";
const COMPLETE = "/user/email";

describe.each(testDialects())("email transfer on $name", (dialect) => {
  let m: MailApp | undefined;
  let t: TestApp;
  let smtp: SmtpSink;
  let userId: number;

  beforeEach(async () => {
    m = await startMailApp(dialect);
    ({ t, smtp } = m);
    userId = await t.createUser("alice@example.com");
  });
  afterEach(async () => {
    // Undefined when beforeEach failed: its own error is the one to see.
    await m?.close();
    m = undefined;
  });

  it("mails a code to the new address; the change logs in with it and tells the old address", async () => {
    const { access, refresh } = await signIn(t, "alice@example.com");
    expectNoContent(await call(t, "POST", `${INITIATE}?language=de`, access, { email: "Alice.New@Example.org" }));
    const mail = await smtp.next();
    expect(mail.to).toEqual(["alice.new@example.org"]);
    expect(mail.subject).toBe("Bestätigen Sie Ihre neue E-Mail-Adresse");

    // Nothing changes before the code comes back.
    await login(t, "alice@example.com");
    expectError(await call(t, "PUT", COMPLETE, access, { otp: otherThan(codeOf(mail)) }), 401, "OTP_INVALID_EXPIRED");
    expectNoContent(await call(t, "PUT", COMPLETE, access, { otp: codeOf(mail) }));

    expect((await t.deps.store.findUserById(userId))?.email).toBe("Alice.New@Example.org");
    await login(t, "alice.new@example.org");
    expectError(
      await call(t, "POST", "/auth/login", undefined, { username: "alice@example.com", password: PASSWORD }),
      401,
      "PASSWORD_INCORRECT",
    );
    // Sessions survive an address change.
    expect((await call(t, "GET", "/auth/accesstoken", refresh)).statusCode).toBe(200);

    const notice = await smtp.next();
    expect(notice.to).toEqual(["alice@example.com"]);
    expect(notice.subject).toBe("Die E-Mail-Adresse Ihres Latchkey-Kontos wurde geändert");
    expect(notice.text).toContain("A***@Example.org");
    expect(notice.text).not.toContain("Alice.New");

    expectError(await call(t, "PUT", COMPLETE, access, { otp: codeOf(mail) }), 401, "OTP_INVALID_EXPIRED");
  });

  it("refuses throw-away providers and unknown origins (also for an address in use), changing nothing", async () => {
    await t.createUser("bob@example.com");
    const { access } = await signIn(t, "alice@example.com");
    const before = await snapshot(t);
    expectError(
      await call(t, "POST", INITIATE, access, { email: "a@10minutemail.com" }),
      403,
      "FORBIDDEN_MAIL_PROVIDER",
    );
    for (const email of ["new@example.org", "bob@example.com"]) {
      expectError(
        await call(t, "POST", `${INITIATE}?origin=missing`, access, { email }),
        500,
        "UNABLE_TO_FIND_MAIL_TEMPLATE",
      );
    }
    expect(await snapshot(t)).toBe(before);
    expect(smtp.received).toEqual([]);
  });

  it("paces the answer for an address in use (also the account's own) like a send: 409, then 429 for 60 s", async () => {
    await t.createUser("bob@example.com");
    const { access } = await signIn(t, "alice@example.com");
    const initiate = (email: string) => call(t, "POST", INITIATE, access, { email });
    expectError(await initiate("BOB@example.com"), 409, "NEW_EMAIL_ALREADY_IN_USE");
    t.clock.advanceSeconds(59);
    expectError(await initiate("bob@example.com"), 429, "TOO_MANY_TRANSFER_ATTEMPTS", 1);
    expectError(await initiate("alice@example.com"), 429, "TOO_MANY_TRANSFER_ATTEMPTS", 1);
    // A real transfer waits on the same clock.
    expectError(await initiate("new@example.org"), 429, "TOO_MANY_TRANSFER_ATTEMPTS", 1);
    t.clock.advanceSeconds(1);
    expectError(await initiate("alice@example.com"), 409, "NEW_EMAIL_ALREADY_IN_USE");
    t.clock.advanceSeconds(30);
    expectError(await initiate("new@example.org"), 429, "TOO_MANY_TRANSFER_ATTEMPTS", 30);
    expect(smtp.received).toEqual([]);
    t.clock.advanceSeconds(30);
    expectNoContent(await initiate("new@example.org"));
    const code = codeOf(await smtp.next());

    // Asking about a taken address replaces the live code, as any new send does.
    t.clock.advanceSeconds(60);
    expectError(await initiate("bob@example.com"), 409, "NEW_EMAIL_ALREADY_IN_USE");
    expectError(await call(t, "PUT", COMPLETE, access, { otp: code }), 401, "OTP_INVALID_EXPIRED");
    expect((await t.deps.store.findUserById(userId))?.email).toBe("alice@example.com");
    expect(smtp.pending()).toEqual([]);
  });

  it("never spends the code stored for an address in use, even when the address is free again", async () => {
    const bob = await t.createUser("bob@example.com");
    const { access } = await signIn(t, "alice@example.com");
    expectError(await call(t, "POST", INITIATE, access, { email: "bob@example.com" }), 409, "NEW_EMAIL_ALREADY_IN_USE");
    // Give the stored code a value the test knows (it was never mailed, so nobody else does).
    const [row] = await mailCodes(t);
    if (!row) throw new Error("no code stored");
    const mac = t.deps.keyring.macKey(MAIL_CODE_KEY_PURPOSE, row.kid);
    const knownHash = hashMailCode(mac.key, { purpose: row.purpose, subject: row.subject }, "123456");
    await t.db.updateTable("mail_codes").set({ code_hash: knownHash }).execute();
    await t.deps.store.deleteUser(bob);

    expectError(await call(t, "PUT", COMPLETE, access, { otp: "123456" }), 401, "OTP_INVALID_EXPIRED");
    expect((await t.deps.store.findUserById(userId))?.email).toBe("alice@example.com");
  });

  it("lets the unique index decide when the address is taken meanwhile: 409, and the code stays unspent", async () => {
    const { access } = await signIn(t, "alice@example.com");
    expectNoContent(await call(t, "POST", INITIATE, access, { email: "new@example.org" }));
    const code = codeOf(await smtp.next());
    const squatter = await t.createUser("NEW@example.org");
    expectError(await call(t, "PUT", COMPLETE, access, { otp: code }), 409, "NEW_EMAIL_ALREADY_IN_USE");
    expect((await t.deps.store.findUserById(userId))?.email).toBe("alice@example.com");
    expect(smtp.pending()).toEqual([]);

    await t.deps.store.deleteUser(squatter);
    expectNoContent(await call(t, "PUT", COMPLETE, access, { otp: code }));
    expect((await t.deps.store.findUserById(userId))?.email).toBe("new@example.org");
  });

  it("throttles transfer mails per account; a new one replaces the previous code", async () => {
    const { access } = await signIn(t, "alice@example.com");
    expectNoContent(await call(t, "POST", INITIATE, access, { email: "first@example.org" }));
    const first = codeOf(await smtp.next());
    t.clock.advanceSeconds(30);
    expectError(
      await call(t, "POST", INITIATE, access, { email: "second@example.org" }),
      429,
      "TOO_MANY_TRANSFER_ATTEMPTS",
      30,
    );
    t.clock.advanceSeconds(30);
    expectNoContent(await call(t, "POST", INITIATE, access, { email: "second@example.org" }));
    const mail = await smtp.next();
    expect(mail.to).toEqual(["second@example.org"]);
    expect(await mailCodes(t)).toHaveLength(1);
    if (first !== codeOf(mail)) {
      expectError(await call(t, "PUT", COMPLETE, access, { otp: first }), 401, "OTP_INVALID_EXPIRED");
    }
    expectNoContent(await call(t, "PUT", COMPLETE, access, { otp: codeOf(mail) }));
    expect((await t.deps.store.findUserById(userId))?.email).toBe("second@example.org");
  });

  it("needs a sudo token to initiate once 2FA is on, and an access token to complete", async () => {
    const { access } = await signIn(t, "alice@example.com");
    expectNoContent(await call(t, "POST", "/user/2fa/email-otp/setup", access, { email: "alice.2fa@example.com" }));
    await call(t, "POST", "/user/2fa/email-otp/enable", access, { otp: codeOf(await smtp.next()) });
    expectError(await call(t, "POST", INITIATE, access, { email: "new@example.org" }), 403, "SUDO_TOKEN_REQUIRED");
    expectError(await call(t, "PUT", COMPLETE, undefined, { otp: "123456" }), 401, "NO_TOKEN_PROVIDED");
  });
});
