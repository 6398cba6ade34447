import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { simpleParser } from "mailparser";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { closedPort, type SmtpSink, startSmtpSink } from "../../test/support/smtp.js";
import { AppError } from "../core/errors.js";
import type { Mailer } from "../core/mail/port.js";
import { createMailer, DEFAULT_MAIL_DIR } from "./index.js";

describe("SMTP delivery", () => {
  let smtp: SmtpSink;
  let mailer: Mailer;
  let outbox: string;

  beforeEach(async () => {
    smtp = await startSmtpSink();
    outbox = await mkdtemp(join(tmpdir(), "latchkey-outbox-"));
    mailer = createMailer({ mailDir: DEFAULT_MAIL_DIR, smtpUrl: smtp.url, outboxDir: outbox, log: () => {} });
  });

  afterEach(async () => {
    await mailer.close();
    await smtp.stop();
    await rm(outbox, { recursive: true, force: true });
  });

  it("hands a rendered mail to a real SMTP server", async () => {
    await mailer.send({
      to: "alice@example.com",
      template: "email-otp-challenge",
      language: "en",
      vars: { code: "482913", expiresMinutes: 10 },
    });
    expect(smtp.received).toHaveLength(1);
    const [mail] = smtp.received;
    expect(mail?.to).toEqual(["alice@example.com"]);
    expect(mail?.parsed.from?.value).toEqual([{ name: "Latchkey", address: "no-reply@latchkey.local" }]);
    const to = mail?.parsed.to;
    expect(Array.isArray(to) ? to : to?.value).toEqual([{ name: "", address: "alice@example.com" }]);
    expect(mail?.parsed.subject).toBe("Your Latchkey sign-in code");
    expect(mail?.parsed.text).toContain("482913");
    expect(mail?.parsed.html).toContain("482913");
    expect(await readdir(outbox)).toEqual([]);
  });

  it("sends non-ASCII subjects and bodies intact (German)", async () => {
    await mailer.send({
      to: "bob@example.com",
      template: "notice-2fa-disabled",
      language: "de",
      vars: { method: "TOTP" },
    });
    const parsed = smtp.received[0]?.parsed;
    expect(parsed?.subject).toBe("Zwei-Faktor-Authentifizierung deaktiviert");
    expect(parsed?.text).toContain("Authenticator-App (TOTP)");
    expect(parsed?.text).toContain("für Ihr Konto bob@example.com");
  });

  it("probes the server without sending anything", async () => {
    await mailer.probe({ to: "alice@example.com", template: "password-reset", vars: { code: "123456" } });
    expect(smtp.received).toEqual([]);
  });

  it("refuses to send a code template without a code", async () => {
    await expect(mailer.send({ to: "alice@example.com", template: "password-reset", vars: {} })).rejects.toThrow(
      /needs a code/,
    );
    expect(smtp.received).toHaveLength(0);
  });
});

describe("SMTP down", () => {
  it("rejects with MAIL_DELIVERY_FAILED and keeps the cause", async () => {
    const port = await closedPort();
    const outbox = await mkdtemp(join(tmpdir(), "latchkey-outbox-"));
    const mailer = createMailer({
      mailDir: DEFAULT_MAIL_DIR,
      smtpUrl: `smtp://127.0.0.1:${port}`,
      outboxDir: outbox,
      log: () => {},
      timeoutsMs: 2000,
    });
    const started = performance.now();
    const error = await mailer
      .send({ to: "alice@example.com", template: "email-otp-setup", vars: { code: "123456" } })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(performance.now() - started).toBeLessThan(2000);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("MAIL_DELIVERY_FAILED");
    expect((error as AppError).cause).toBeInstanceOf(Error);
    expect(await readdir(outbox)).toEqual([]);
    await expect(
      mailer.probe({ to: "alice@example.com", template: "password-reset", vars: { code: "123456" } }),
    ).rejects.toMatchObject({ code: "MAIL_DELIVERY_FAILED" });
    await mailer.close();
    await rm(outbox, { recursive: true, force: true });
  });
});

describe("outbox delivery", () => {
  it("writes one .eml file named from the injected clock and random id, and logs its path", async () => {
    const root = await mkdtemp(join(tmpdir(), "latchkey-outbox-"));
    const outbox = join(root, "nested", "outbox");
    const logs: { msg: string; fields: Record<string, unknown> | undefined }[] = [];
    const mailer = createMailer({
      mailDir: DEFAULT_MAIL_DIR,
      outboxDir: outbox,
      log: (msg, fields) => logs.push({ msg, fields }),
      clock: { now: () => 1_767_225_600_000 },
      random: { uuid: () => "fixed-id" },
    });
    await mailer.send({
      to: "carol@example.com",
      template: "password-reset",
      vars: { code: "777123", expiresMinutes: 15 },
    });
    await mailer.probe({ to: "carol@example.com", template: "password-reset", vars: { code: "1" } });
    await mailer.close();

    const files = await readdir(outbox);
    expect(files).toEqual(["1767225600000-fixed-id.eml"]);
    const file = join(outbox, "1767225600000-fixed-id.eml");
    const raw = await readFile(file, "utf8");
    expect(raw).toContain("Subject: Reset your Latchkey password");
    const parsed = await simpleParser(raw);
    expect(parsed.text).toContain("777123");
    expect(parsed.html).toContain("777123");

    expect(logs).toHaveLength(1);
    expect(logs[0]?.fields?.file).toBe(file);
    expect(JSON.stringify(logs)).not.toContain("777123");
    await rm(root, { recursive: true, force: true });
  });

  it("turns an unwritable outbox into MAIL_DELIVERY_FAILED", async () => {
    const root = await mkdtemp(join(tmpdir(), "latchkey-outbox-"));
    const blocker = join(root, "file");
    await writeFile(blocker, "not a directory");
    const mailer = createMailer({ mailDir: DEFAULT_MAIL_DIR, outboxDir: join(blocker, "outbox"), log: () => {} });
    await expect(
      mailer.send({ to: "carol@example.com", template: "notice-password-changed", vars: {} }),
    ).rejects.toMatchObject({ code: "MAIL_DELIVERY_FAILED" });
    await expect(
      mailer.probe({ to: "carol@example.com", template: "notice-password-changed", vars: {} }),
    ).rejects.toMatchObject({ code: "MAIL_DELIVERY_FAILED" });
    await mailer.close();
    await rm(root, { recursive: true, force: true });
  });
});
