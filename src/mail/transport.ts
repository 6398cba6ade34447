/**
 * Delivery: SMTP when an SMTP URL applies, otherwise an `.eml` file in the outbox directory.
 * Any failure becomes AppError MAIL_DELIVERY_FAILED with the original error kept as `cause`.
 */
import { constants } from "node:fs";
import { access, mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { SendMailOptions, Transporter } from "nodemailer";
import nodemailer from "nodemailer";
import { AppError } from "../core/errors.js";
import type { RenderedMail } from "../core/mail/port.js";

export interface DeliveryOptions {
  outboxDir: string;
  timeoutsMs: number;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  now: () => number;
  randomId: () => string;
}

export interface Delivery {
  /** Delivers over `smtpUrl` when given, else writes to the outbox. */
  deliver(mail: RenderedMail, template: string, smtpUrl: string | undefined): Promise<void>;
  /**
   * Checks that a mail could be handed over now, sending nothing: the SMTP server answers and
   * accepts our greeting (and login), or the outbox directory is writable.
   */
  probe(smtpUrl: string | undefined): Promise<void>;
  close(): Promise<void>;
}

function deliveryFailed(cause: unknown): AppError {
  const error = new AppError("MAIL_DELIVERY_FAILED");
  error.cause = cause;
  return error;
}

function toMessage(mail: RenderedMail): SendMailOptions {
  return {
    from: { name: mail.fromName, address: mail.from },
    to: { name: "", address: mail.to },
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

export function createDelivery(options: DeliveryOptions): Delivery {
  const outboxDir = resolve(options.outboxDir);
  const smtp = new Map<string, Transporter>();
  const stream = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "windows" });

  const smtpTransport = (url: string): Transporter => {
    let transporter = smtp.get(url);
    if (transporter === undefined) {
      transporter = nodemailer.createTransport({
        url,
        connectionTimeout: options.timeoutsMs,
        greetingTimeout: options.timeoutsMs,
        socketTimeout: options.timeoutsMs,
        dnsTimeout: options.timeoutsMs,
        disableFileAccess: true,
        disableUrlAccess: true,
      });
      smtp.set(url, transporter);
    }
    return transporter;
  };

  /** Writes the RFC 822 message to a fresh file and returns its path. */
  const writeToOutbox = async (mail: RenderedMail): Promise<string> => {
    const info = await stream.sendMail(toMessage(mail));
    const message = info.message;
    if (!Buffer.isBuffer(message)) throw new Error("stream transport did not return a buffer");
    await mkdir(outboxDir, { recursive: true, mode: 0o700 });
    const file = join(outboxDir, `${options.now()}-${options.randomId()}.eml`);
    await writeFile(file, message, { flag: "wx", mode: 0o600 });
    return file;
  };

  return {
    async deliver(mail, template, smtpUrl) {
      const fields = { template, origin: mail.origin, language: mail.language };
      if (smtpUrl === undefined) {
        let file: string;
        try {
          file = await writeToOutbox(mail);
        } catch (err) {
          throw deliveryFailed(err);
        }
        options.log("mail written to outbox", { ...fields, file });
        return;
      }
      let messageId: string;
      try {
        messageId = (await smtpTransport(smtpUrl).sendMail(toMessage(mail))).messageId;
      } catch (err) {
        throw deliveryFailed(err);
      }
      options.log("mail sent", { ...fields, messageId });
    },
    async probe(smtpUrl) {
      try {
        if (smtpUrl === undefined) {
          await mkdir(outboxDir, { recursive: true, mode: 0o700 });
          await access(outboxDir, constants.W_OK);
        } else {
          await smtpTransport(smtpUrl).verify();
        }
      } catch (err) {
        throw deliveryFailed(err);
      }
    },
    async close() {
      for (const transporter of smtp.values()) transporter.close();
      smtp.clear();
      stream.close();
    },
  };
}
