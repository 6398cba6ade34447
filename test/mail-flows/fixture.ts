import { createTestApp, type TestApp, type TestDialect } from "../support/harness.js";
import { closedPort, type SmtpSink, startSmtpSink } from "../support/smtp.js";

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
  env: Record<string, string> = {},
): Promise<{ t: TestApp; smtpUp(): Promise<SmtpSink>; close(): Promise<void> }> {
  const port = await closedPort();
  const t = await createTestApp(dialect, { env: { LATCHKEY_SMTP_URL: `smtp://127.0.0.1:${port}`, ...env } });
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

export function mailCodes(t: TestApp) {
  return t.db.selectFrom("mail_codes").selectAll().execute();
}

/** A 6-digit code other than `code`. */
export function otherThan(code: string): string {
  return code === "000000" ? "111111" : "000000";
}
