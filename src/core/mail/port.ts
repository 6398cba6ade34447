/**
 * The mail port: what flows ask of the mailer, and the mails they may ask for. `src/mail/` implements
 * it (templates on disk, SMTP or the outbox); flows see none of that.
 */

/** Every mail the service can send. Each is a template triple (subject, text, html) per language. */
export const MAIL_TEMPLATES = [
  "email-otp-setup",
  "email-otp-challenge",
  "password-reset",
  "email-transfer",
  "signup-confirm",
  "notice-password-changed",
  "notice-password-reset",
  "notice-email-transferred",
  "notice-2fa-disabled",
  "notice-recovery-codes-reset",
  "invitation",
  "notice-signup-existing",
  "notice-passkey-added",
  "notice-passkey-removed",
] as const;

export type MailTemplate = (typeof MAIL_TEMPLATES)[number];

export interface MailVars {
  /** The one-time code (6 digits) for the code-carrying templates. */
  code?: string;
  /** Minutes until the code expires. */
  expiresMinutes?: number;
  /** For `invitation`: whole days until its code expires (at least 1). */
  expiresDays?: number;
  /** For `notice-2fa-disabled`: "totp" / "TOTP", or "email" / "email codes". */
  method?: string;
  /** For `notice-email-transferred`: the new address; the mailer masks it (j***@example.com). */
  newEmail?: string;
  /** For `notice-passkey-added` / `notice-passkey-removed`: the passkey's name, as the passkey list shows it. */
  passkeyName?: string;
  /** The account's address as shown in the body; defaults to the recipient. */
  email?: string;
}

export interface MailRequest {
  to: string;
  template: MailTemplate;
  /** Origin folder name; omitted → "default". */
  origin?: string;
  /** Two-letter language code; omitted or missing for this template → the origin's default language. */
  language?: string;
  vars: MailVars;
}

export interface RenderedMail {
  from: string;
  fromName: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** The origin that rendered the mail. */
  origin: string;
  /** The language actually used (after fallback). */
  language: string;
}

export interface Mailer {
  /** Throws AppError UNABLE_TO_FIND_MAIL_TEMPLATE before anything is sent if origin/template can't be resolved. */
  render(req: MailRequest): RenderedMail;
  /** Renders then delivers; throws AppError MAIL_DELIVERY_FAILED on transport failure. */
  send(req: MailRequest): Promise<void>;
  /**
   * Everything `send` does but the hand-over: checks that the request's transport would take a
   * mail now (SMTP: connect, greet, log in; outbox: writable). Throws like `send`.
   */
  probe(req: MailRequest): Promise<void>;
  /** The origin's totpIssuer if configured (undefined for unknown origin or not set). */
  totpIssuer(origin?: string): string | undefined;
  close(): Promise<void>;
}
