import type { MailRequest, RenderedMail } from "../core/mail/port.js";
import { assertRecipient, maskEmail } from "./address.js";
import type { MailCatalog } from "./catalog.js";
import { buildResetLink } from "./origin-config.js";

/** Template variables. `methodTotp` / `methodEmail` let each language word the 2FA method itself. */
export interface TemplateVars {
  code: string | undefined;
  email: string;
  link: string | undefined;
  expiresMinutes: number | undefined;
  expiresDays: number | undefined;
  /** True when `expiresDays` is 1, for the languages' singular. */
  expiresOneDay: boolean;
  method: string | undefined;
  methodTotp: boolean;
  methodEmail: boolean;
  newEmail: string | undefined;
  /** For the passkey notices: the name the user gave it. */
  passkeyName: string | undefined;
  originName: string;
}

function methodKind(method: string | undefined): "totp" | "email" | undefined {
  const key = method?.toLowerCase().replace(/[^a-z]/g, "");
  if (key === "totp") return "totp";
  if (key === "email" || key === "emailcodes" || key === "emailotp") return "email";
  return undefined;
}

/** A subject is one header line: every run of whitespace (CR and LF included) becomes one space. */
export function toSubjectLine(value: string): string {
  return value.replace(/\s+/g, " ").trim();
}

/** Resolves the template (fallback rule) and renders all three parts. Sends nothing. */
export function renderMail(catalog: MailCatalog, req: MailRequest): RenderedMail {
  const { origin, language, template } = catalog.resolve(req.template, req.origin, req.language);
  assertRecipient(req.to);
  const { config } = origin;
  const email = req.vars.email ?? req.to;
  const code = req.vars.code;
  const kind = methodKind(req.vars.method);
  const linkPattern =
    req.template === "password-reset" ? config.resetUrl : req.template === "invitation" ? config.inviteUrl : undefined;
  const link = linkPattern !== undefined && code !== undefined ? buildResetLink(linkPattern, email, code) : undefined;
  const vars: TemplateVars = {
    code,
    email,
    link,
    expiresMinutes: req.vars.expiresMinutes,
    expiresDays: req.vars.expiresDays,
    expiresOneDay: req.vars.expiresDays === 1,
    method: req.vars.method,
    methodTotp: kind === "totp",
    methodEmail: kind === "email",
    newEmail: req.vars.newEmail === undefined ? undefined : maskEmail(req.vars.newEmail),
    passkeyName: req.vars.passkeyName,
    originName: config.fromName,
  };
  const record = { ...vars } as Record<string, unknown>;
  return {
    from: config.from,
    fromName: config.fromName,
    to: req.to,
    subject: toSubjectLine(template.subject(record)),
    text: template.text(record),
    html: template.html(record),
    origin: origin.name,
    language,
  };
}
