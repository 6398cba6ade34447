import type { Mailer, MailRequest, MailTemplate } from "../core/mail/port.js";
import { systemClock } from "../platform/clock.js";
import { secureRandom } from "../platform/random.js";
import { loadMailCatalog, type MailCatalog } from "./catalog.js";
import { assertSmtpUrl } from "./origin-config.js";
import { renderMail } from "./render.js";
import { createDelivery } from "./transport.js";

const DEFAULT_TIMEOUT_MS = 10_000;

/** Templates whose whole point is the code; sending one without a code is a programming fault. */
const CODE_TEMPLATES: ReadonlySet<MailTemplate> = new Set([
  "email-otp-setup",
  "email-otp-challenge",
  "password-reset",
  "email-transfer",
  "signup-confirm",
]);

export interface MailerOptions {
  /** Folder holding one sub-folder per origin. */
  mailDir: string;
  /** Global SMTP transport (smtp:// or smtps://). Without it (and without an origin smtpUrl) mail goes to the outbox. */
  smtpUrl?: string;
  /** Where `.eml` files are written when no SMTP URL applies; created if missing. */
  outboxDir: string;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  /** Connection, greeting and socket timeout for SMTP, in milliseconds (default 10 000). */
  timeoutsMs?: number;
  clock?: { now(): number };
  random?: { uuid(): string };
}

/**
 * Loads and compiles the mail catalog (synchronously, once) and returns the mailer flows use.
 * Throws a plain Error naming the file when the mail directory is malformed.
 */
export function createMailer(options: MailerOptions): Mailer {
  if (options.smtpUrl !== undefined) assertSmtpUrl(options.smtpUrl, "Mailer configuration");
  const catalog: MailCatalog = loadMailCatalog(options.mailDir);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? secureRandom;
  const delivery = createDelivery({
    outboxDir: options.outboxDir,
    timeoutsMs: options.timeoutsMs ?? DEFAULT_TIMEOUT_MS,
    log: options.log,
    now: () => clock.now(),
    randomId: () => random.uuid(),
  });

  const render = (req: MailRequest) => renderMail(catalog, req);
  const smtpUrlOf = (origin: string) => catalog.origin(origin)?.config.smtpUrl ?? options.smtpUrl;

  return {
    render,
    async send(req) {
      const mail = render(req);
      if (CODE_TEMPLATES.has(req.template) && !req.vars.code) {
        throw new Error(`Mail template ${req.template} needs a code`);
      }
      await delivery.deliver(mail, req.template, smtpUrlOf(mail.origin));
    },
    async probe(req) {
      await delivery.probe(smtpUrlOf(render(req).origin));
    },
    totpIssuer(origin) {
      return catalog.origin(origin)?.config.totpIssuer;
    },
    close() {
      return delivery.close();
    },
  };
}
