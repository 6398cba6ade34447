import type { LightMyRequestResponse } from "fastify";
import { expect } from "vitest";
import { bearer, createTestApp, type TestApp, type TestDialect } from "../support/harness.js";
import { closedPort, type SmtpSink, startSmtpSink } from "../support/smtp.js";

export const PASSWORD = "Correct7Horse";
export const NEW_PASSWORD = "Fresh9Lantern";

export interface MailApp {
  t: TestApp;
  smtp: SmtpSink;
  close(): Promise<void>;
}

/** The app with a real SMTP server behind LATCHKEY_SMTP_URL. */
export async function startMailApp(dialect: TestDialect, env: Record<string, string> = {}): Promise<MailApp> {
  const smtp = await startSmtpSink();
  const t = await createTestApp(dialect, { env: { LATCHKEY_SMTP_URL: smtp.url, ...env } });
  return {
    t,
    smtp,
    async close() {
      await t.close();
      await smtp.stop();
    },
  };
}

/** The app pointed at a loopback port nobody listens on (yet): `smtpUp()` starts a server there. */
export async function startAppWithSmtpDown(
  dialect: TestDialect,
): Promise<{ t: TestApp; smtpUp(): Promise<SmtpSink>; close(): Promise<void> }> {
  const port = await closedPort();
  const t = await createTestApp(dialect, { env: { LATCHKEY_SMTP_URL: `smtp://127.0.0.1:${port}` } });
  let smtp: SmtpSink | undefined;
  return {
    t,
    async smtpUp() {
      smtp = await startSmtpSink(port);
      return smtp;
    },
    async close() {
      await t.close();
      await smtp?.stop();
    },
  };
}

type Method = "GET" | "POST" | "PUT" | "DELETE";

export function call(t: TestApp, method: Method, url: string, token?: string, payload?: object) {
  return t.app.inject({ method, url, headers: token ? bearer(token) : {}, ...(payload ? { payload } : {}) });
}

export async function login(t: TestApp, email: string, password = PASSWORD): Promise<string> {
  const res = await call(t, "POST", "/auth/login", undefined, { username: email, password });
  expect(res.statusCode).toBe(200);
  return res.body;
}

export async function accessFor(t: TestApp, refresh: string): Promise<string> {
  const res = await call(t, "GET", "/auth/accesstoken", refresh);
  expect(res.statusCode).toBe(200);
  return res.body;
}

/** A password login while 2FA is off: the refresh token and an access token of that session. */
export async function signIn(t: TestApp, email: string, password = PASSWORD) {
  const refresh = await login(t, email, password);
  return { refresh, access: await accessFor(t, refresh) };
}

export function expectError(res: LightMyRequestResponse, status: number, message: string, retryAfter?: number) {
  const errors: Record<number, string> = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    409: "Conflict",
    429: "Too many requests",
    500: "Internal server error",
  };
  const body: Record<string, unknown> = { statusCode: status, error: errors[status], message };
  if (retryAfter !== undefined) body.retryAfter = retryAfter;
  expect(res.statusCode).toBe(status);
  expect(res.json()).toEqual(body);
  if (retryAfter !== undefined) expect(res.headers["retry-after"]).toBe(String(retryAfter));
}

export function expectNoContent(res: LightMyRequestResponse) {
  expect(res.statusCode, res.body).toBe(204);
  expect(res.body).toBe("");
}

/** Every row a mail flow may write, to prove that a refused request changed nothing. */
export async function snapshot(t: TestApp): Promise<string> {
  const db = t.db;
  const tables = [
    "users",
    "sessions",
    "refresh_tokens",
    "throttles",
    "mail_codes",
    "user_email_otp",
    "user_totp",
    "recovery_codes",
  ] as const;
  const rows = await Promise.all(tables.map((table) => db.selectFrom(table).selectAll().execute()));
  return JSON.stringify(rows);
}

export function mailCodes(t: TestApp) {
  return t.db.selectFrom("mail_codes").selectAll().execute();
}

/** A 6-digit code other than `code`. */
export function otherThan(code: string): string {
  return code === "000000" ? "111111" : "000000";
}
