import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  /** Envelope recipients, lower-cased. */
  to: string[];
  subject: string;
  text: string;
  html: string;
  parsed: ParsedMail;
}

/**
 * A real SMTP server on 127.0.0.1 with a kernel-chosen port. A message is recorded before the server
 * acknowledges it, and the app awaits that acknowledgement before answering, so after a response
 * every mail it caused is already here; `next()` also waits for one still on its way (no timers).
 */
export interface SmtpSink {
  url: string;
  received: ReceivedMail[];
  /** Resolves with the next mail not taken yet, waiting for it if needed. */
  next(): Promise<ReceivedMail>;
  /** Mails not taken by `next()` yet. */
  pending(): ReceivedMail[];
  stop(): Promise<void>;
}

export async function startSmtpSink(port = 0): Promise<SmtpSink> {
  const received: ReceivedMail[] = [];
  let taken = 0;
  const waiters: ((mail: ReceivedMail) => void)[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          received.push({
            // Lower-cased: the server may normalise the domain part of the envelope address.
            to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
            subject: parsed.subject ?? "",
            text: parsed.text ?? "",
            html: typeof parsed.html === "string" ? parsed.html : "",
            parsed,
          });
          const waiter = waiters.shift();
          if (waiter) {
            const mail = received[taken++];
            if (mail) waiter(mail);
          }
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
  const bound = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${bound}`,
    received,
    next() {
      const mail = received[taken];
      if (mail) {
        taken++;
        return Promise.resolve(mail);
      }
      return new Promise((resolve) => waiters.push(resolve));
    },
    pending: () => received.slice(taken),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A loopback port nobody listens on: bind port 0, read the number, close. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The 6-digit code of a code-carrying mail. */
export function codeOf(mail: ReceivedMail): string {
  const match = /\b(\d{6})\b/.exec(mail.text);
  if (!match?.[1]) throw new Error(`no code in mail "${mail.subject}"`);
  return match[1];
}
