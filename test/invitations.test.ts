import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runCli } from "../src/cli.js";
import { adminCreateUser } from "../src/core/flows/admin.js";
import { sendInvitation } from "../src/core/flows/invitations.js";
import type { MailOptions } from "../src/core/flows/mail-codes.js";
import { type MailApp, mailCodes, otherThan, startMailApp } from "./mail-flows/fixture.js";
import { TEST_ENCRYPTION_KEYS, type TestApp, testDialects } from "./support/harness.js";
import {
  call,
  expectError,
  expectNoContent,
  login,
  NEW_PASSWORD,
  PASSWORD,
  sessionIdOf,
  tokensOf,
} from "./support/http.js";
import { codeOf, type ReceivedMail, type SmtpSink } from "./support/smtp.js";
import { snapshot } from "./support/snapshot.js";

const ADMIN_TOKEN = "admin-token-0123456789abcdefghijklmnopqrstuvwxyz";
const ACCEPT = "/user/invitation/accept";
const WEEK_SECONDS = 7 * 24 * 3600;

const SUBJECTS: Record<string, string> = {
  en: "Your Latchkey account is ready",
  nl: "Je Latchkey-account staat klaar",
  fr: "Votre compte Latchkey est prêt",
  de: "Ihr Latchkey-Konto ist bereit",
};

describe.each(testDialects())("invitations on $name", (dialect) => {
  let m: MailApp | undefined;
  let t: TestApp;
  let smtp: SmtpSink;

  beforeEach(async () => {
    m = await startMailApp(dialect, { LATCHKEY_ADMIN_TOKEN: ADMIN_TOKEN });
    ({ t, smtp } = m);
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await m?.close();
    m = undefined;
  });

  const admin = (method: "GET" | "POST", url: string, payload?: object) => call(t, method, url, ADMIN_TOKEN, payload);
  const accept = (email: string, code: string, password = NEW_PASSWORD) =>
    call(t, "POST", ACCEPT, undefined, { email, code, password });
  const detail = async (userId: number) => (await admin("GET", `/admin/users/${userId}`)).json();
  const eventTypes = async (userId: number) =>
    ((await admin("GET", `/admin/users/${userId}/events`)).json().events as { type: string }[]).map((e) => e.type);

  async function invite(email: string, options: object = {}): Promise<{ userId: number; mail: ReceivedMail }> {
    const res = await admin("POST", "/admin/users", { email, invite: options });
    expect(res.statusCode, res.body).toBe(201);
    return { userId: res.json().userId, mail: await smtp.next() };
  }

  it("invites by the admin API in the asked language; the code sets the password and signs in", async () => {
    for (const language of ["en", "nl", "fr", "de"]) {
      const email = `${language}@example.com`;
      const { mail } = await invite(email, { language });
      expect(mail.to).toEqual([email]);
      expect(mail.subject).toBe(SUBJECTS[language]);
      expect(mail.text).toContain(email);
      expect(mail.html).toContain(codeOf(mail));
      // No inviteUrl on the shipped origin: the code only.
      expect(mail.text).not.toContain("http");
    }

    const { userId, mail } = await invite("ann@example.com", { language: "nl", origin: "default" });
    expect(mail.text).toContain("7 dagen");
    expect(await detail(userId)).toMatchObject({
      email: "ann@example.com",
      sessions: 0,
      invitation: { pending: true, expiresAt: new Date(t.clock.now() + WEEK_SECONDS * 1000).toISOString() },
    });
    // Without a password nobody signs in yet.
    expectError(
      await call(t, "POST", "/auth/login", undefined, { username: "ann@example.com", password: PASSWORD }),
      500,
      "NO_PASSWORD_INFO",
    );

    const tokens = tokensOf(await accept("ANN@example.com", codeOf(mail)));
    const validated = await call(t, "GET", "/auth/accesstoken/validate", tokens.accessToken);
    expect(validated.json()).toEqual({ userId });
    expect(sessionIdOf(tokens.refreshToken)).toBe(sessionIdOf(tokens.sudoToken));
    await login(t, "ann@example.com", NEW_PASSWORD);

    const after = await detail(userId);
    expect(after.invitation).toBeUndefined();
    expect(after.sessions).toBe(2);
    expect(await eventTypes(userId)).toEqual([
      "login.succeeded",
      "login.succeeded",
      "invitation.accepted",
      "invitation.sent",
      "user.created",
    ]);
    const sent = (await admin("GET", `/admin/users/${userId}/events`)).json().events.at(-2);
    expect(sent.details).toEqual({ by: "admin", origin: "default", language: "nl" });

    // Used: refused, and the password stays.
    expectError(await accept("ann@example.com", codeOf(mail), "Other8Password"), 401, "INVITATION_INVALID");
    await login(t, "ann@example.com", NEW_PASSWORD);
    // The account has a password now: nothing to invite to.
    expectError(await admin("POST", `/admin/users/${userId}/invitation`, {}), 409, "INVITATION_NOT_NEEDED");
    expect(smtp.pending()).toEqual([]);
  });

  it("invites by the command line, and resends: the new code replaces the old", async () => {
    const env: NodeJS.ProcessEnv = {
      LATCHKEY_ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
      LATCHKEY_DATA_DIR: t.dataDir,
      LATCHKEY_SMTP_URL: smtp.url,
      LATCHKEY_LOG_LEVEL: "silent",
      LATCHKEY_DATABASE_URL: await databaseUrl(t, dialect.url),
    };
    const stdout: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      stdout.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const last = () => JSON.parse(stdout.join("").trim().split("\n").at(-1) ?? "null");

    expect(await runCli(["user", "create", "--email", "bea@example.com", "--invite", "--language", "de"], env)).toBe(0);
    const { userId } = last();
    const first = await smtp.next();
    expect(first.subject).toBe(SUBJECTS.de);
    expect((await detail(userId)).invitation?.pending).toBe(true);

    expect(await runCli(["user", "invite", "--email", "bea@example.com", "--language", "fr"], env)).toBe(0);
    expect(last()).toEqual({ invited: true });
    const second = await smtp.next();
    expect(second.subject).toBe(SUBJECTS.fr);
    const [oldCode, newCode] = [codeOf(first), codeOf(second)];
    if (oldCode !== newCode) expectError(await accept("bea@example.com", oldCode), 401, "INVITATION_INVALID");
    tokensOf(await accept("bea@example.com", newCode));
    await login(t, "bea@example.com", NEW_PASSWORD);

    // Bad usage is refused before anything is done.
    const before = await snapshot(t);
    expect(await runCli(["user", "invite", "--id", String(userId), "--language", "en\r\n"], env)).toBe(2);
    expect(await runCli(["user", "invite", "--id", String(userId), "--origin", "../x"], env)).toBe(2);
    expect(await runCli(["user", "create", "--email", "c@example.com", "--invite", "--password", PASSWORD], env)).toBe(
      2,
    );
    expect(await runCli(["user", "create", "--email", "c@example.com", "--language", "nl"], env)).toBe(2);
    expect(await runCli(["user", "create", "--email", "c@example.com\r\nBcc: x@evil.example", "--invite"], env)).toBe(
      2,
    );
    expect(await runCli(["user", "invite", "--id", String(userId)], env)).toBe(2);
    expect(await snapshot(t)).toBe(before);
    expect(smtp.pending()).toEqual([]);
  });

  it("a resend by the admin API replaces the code; the pending state follows", async () => {
    const { userId, mail: first } = await invite("cat@example.com");
    expect((await detail(userId)).invitation.expiresAt).toBe(
      new Date(t.clock.now() + WEEK_SECONDS * 1000).toISOString(),
    );
    t.clock.advanceSeconds(3600);
    // No resend window: an operator's resend goes out at once.
    expectNoContent(await admin("POST", `/admin/users/${userId}/invitation`, { language: "fr" }));
    const second = await smtp.next();
    expect(second.subject).toBe(SUBJECTS.fr);
    expect((await detail(userId)).invitation.expiresAt).toBe(
      new Date(t.clock.now() + WEEK_SECONDS * 1000).toISOString(),
    );
    expect((await mailCodes(t)).filter((row) => row.purpose === "invitation")).toHaveLength(1);
    if (codeOf(first) !== codeOf(second)) {
      expectError(await accept("cat@example.com", codeOf(first)), 401, "INVITATION_INVALID");
    }
    tokensOf(await accept("cat@example.com", codeOf(second)));
    expectError(await admin("POST", "/admin/users/999/invitation", {}), 404, "USER_NOT_FOUND");
    expect(await eventTypes(userId)).toContain("invitation.sent");
  });

  it("refuses an expired code after 7 days, and a wrong one; an unknown address is answered the same", async () => {
    const { userId, mail } = await invite("dan@example.com");
    const code = codeOf(mail);
    const wrong = await accept("dan@example.com", otherThan(code));
    expectError(wrong, 401, "INVITATION_INVALID");
    const unknown = await accept("nobody@example.com", code);
    expect([unknown.statusCode, unknown.body]).toEqual([wrong.statusCode, wrong.body]);

    t.clock.advanceSeconds(WEEK_SECONDS);
    expect((await detail(userId)).invitation).toBeUndefined();
    expectError(await accept("dan@example.com", code), 401, "INVITATION_INVALID");
    expectError(
      await call(t, "POST", "/auth/login", undefined, { username: "dan@example.com", password: NEW_PASSWORD }),
      500,
      "NO_PASSWORD_INFO",
    );
    // A new invitation after the old one expired works.
    expectNoContent(await admin("POST", `/admin/users/${userId}/invitation`, {}));
    tokensOf(await accept("dan@example.com", codeOf(await smtp.next())));
  });

  it("a weak password costs no try and keeps the code good; a disabled account is refused, the code kept", async () => {
    const { userId, mail } = await invite("eve@example.com");
    const code = codeOf(mail);
    const before = await snapshot(t);
    expect((await accept("eve@example.com", code, "password")).statusCode).toBe(400);
    expect((await accept("eve@example.com", code, "Password1")).statusCode).toBe(400);
    expect(await snapshot(t)).toBe(before);

    expectNoContent(await admin("POST", `/admin/users/${userId}/disable`));
    expectError(await accept("eve@example.com", code), 401, "ACCOUNT_DISABLED");
    expectNoContent(await admin("POST", `/admin/users/${userId}/enable`));
    tokensOf(await accept("eve@example.com", code));
  });

  it("throttles guesses per address across invitations, known or not, with retryAfter", async () => {
    const { userId, mail } = await invite("fay@example.com");
    for (const email of ["fay@example.com", "ghost@example.com"]) {
      const statuses: number[] = [];
      for (let n = 0; n < 6; n++) statuses.push((await accept(email, otherThan(codeOf(mail)))).statusCode);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    }
    expectError(await accept("fay@example.com", codeOf(mail)), 429, "TOO_MANY_OTP_CHECKS", 1);
    // Five wrong tries used the code up; a new invitation keeps the count, and the right code clears it.
    expectNoContent(await admin("POST", `/admin/users/${userId}/invitation`, {}));
    const fresh = codeOf(await smtp.next());
    t.clock.advanceSeconds(1);
    tokensOf(await accept("fay@example.com", fresh));
  });

  it("two accepts racing for one code: exactly one wins, one session, one password", async () => {
    const { userId, mail } = await invite("gus@example.com");
    const code = codeOf(mail);
    const results = await Promise.all([
      accept("gus@example.com", code, "First1Password"),
      accept("gus@example.com", code, "Second2Password"),
      accept("gus@example.com", code, "Third3Password"),
    ]);
    const won = results.filter((res) => res.statusCode === 200);
    expect(won).toHaveLength(1);
    for (const res of results.filter((r) => r.statusCode !== 200)) expectError(res, 401, "INVITATION_INVALID");
    expect((await detail(userId)).sessions).toBe(1);
    const winner = ["First1Password", "Second2Password", "Third3Password"][results.indexOf(won[0] ?? results[0])];
    await login(t, "gus@example.com", winner);
    expect((await eventTypes(userId)).filter((type) => type === "invitation.accepted")).toHaveLength(1);
  });

  it("refuses bad input to the admin endpoints with 400: nothing created, nothing mailed", async () => {
    const userId = await t.createUser("hal@example.com", null);
    const before = await snapshot(t);
    const bad: object[] = [
      { email: "not-an-address", invite: {} },
      { email: "hal2@example.com\r\nBcc: x@evil.example", invite: {} },
      { email: `${"a".repeat(250)}@example.com`, invite: {} },
      { email: "hal2@example.com", invite: { origin: "default\r\nBcc: x@evil.example" } },
      { email: "hal2@example.com", invite: { language: "en\r\n" } },
      { email: "hal2@example.com", invite: { language: "eng" } },
      { email: "hal2@example.com", invite: { origin: "../etc" } },
      { email: "hal2@example.com", invite: { origin: "a".repeat(257) } },
      { email: "hal2@example.com", invite: { lang: "en" } },
      { email: "hal2@example.com", invite: true },
      { email: "hal2@example.com", invite: {}, password: PASSWORD },
    ];
    for (const body of bad) {
      const res = await admin("POST", "/admin/users", body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
    }
    for (const body of [{ language: "de\n" }, { origin: "x/y" }, { extra: 1 }]) {
      expect((await admin("POST", `/admin/users/${userId}/invitation`, body)).statusCode).toBe(400);
    }
    // An unknown origin is found out before the account is made.
    expectError(
      await admin("POST", "/admin/users", { email: "hal2@example.com", invite: { origin: "nowhere" } }),
      500,
      "UNABLE_TO_FIND_MAIL_TEMPLATE",
    );
    expect(await snapshot(t)).toBe(before);
    expect(smtp.pending()).toEqual([]);
  });

  it("the mail layer itself refuses CR/LF in the address, origin and language, past the HTTP schemas", async () => {
    const flow = t.deps.flow;
    const meta = { ip: null, userAgent: null };
    // An address stored behind the API's back: the send refuses it before storing or mailing anything.
    const stored = await t.createUser("kim@example.com\r\nBcc: x@evil.example", null);
    const before = await snapshot(t);
    expect((await admin("POST", `/admin/users/${stored}/invitation`, {})).statusCode).toBe(400);
    await expect(sendInvitation(flow, stored, {}, meta)).rejects.toThrow("Invalid email address");
    const created = (invite: MailOptions) => adminCreateUser(flow, { email: "kim@example.com", invite }, meta);
    await expect(created({ origin: "default\r\nBcc: x@evil.example" })).rejects.toMatchObject({
      code: "UNABLE_TO_FIND_MAIL_TEMPLATE",
    });
    await expect(created({ language: "en\r\n" })).rejects.toMatchObject({ code: "UNABLE_TO_FIND_MAIL_TEMPLATE" });
    await expect(
      adminCreateUser(flow, { email: "kim@example.com\nBcc: x@evil.example", invite: {} }, meta),
    ).rejects.toThrow("Invalid email address");
    expect(await snapshot(t)).toBe(before);
    expect(smtp.pending()).toEqual([]);
  });

  it("refuses bad input to the accept endpoint with 400, changing nothing", async () => {
    const { mail } = await invite("ida@example.com");
    const code = codeOf(mail);
    const before = await snapshot(t);
    const bad: object[] = [
      { email: "ida@example.com", code },
      { email: "ida@example.com", code: "12345", password: NEW_PASSWORD },
      { email: "ida@example.com", code: `${code}\r\n`, password: NEW_PASSWORD },
      { email: "ida.example.com", code, password: NEW_PASSWORD },
      { email: `${"a".repeat(250)}@example.com`, code, password: NEW_PASSWORD },
      { email: "ida@example.com", code, password: "A1a".repeat(400) },
      { email: "ida@example.com", code, password: NEW_PASSWORD, extra: true },
      { email: "ida@example.com", code: { value: "123456" }, password: NEW_PASSWORD },
    ];
    for (const body of bad) {
      const res = await call(t, "POST", ACCEPT, undefined, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
    }
    const malformed = await t.app.inject({
      method: "POST",
      url: ACCEPT,
      headers: { "content-type": "application/json" },
      payload: "{",
    });
    expect(malformed.statusCode).toBe(400);
    expect(await snapshot(t)).toBe(before);
    tokensOf(await accept("ida@example.com", code));
  });
});

/** The URL the command line needs to reach the test app's database (on PostgreSQL, its own schema). */
async function databaseUrl(t: TestApp, url: string): Promise<string> {
  if (t.deps.store.dialect === "sqlite") return `sqlite:${t.dataDir}/latchkey.db`;
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(t.db);
  const parsed = new URL(url);
  parsed.searchParams.set("options", `-c search_path=${rows[0]?.schema}`);
  return parsed.toString();
}
