export { maskEmail } from "./address.js";
export type { MailCatalog } from "./catalog.js";
export { DEFAULT_ORIGIN, loadMailCatalog } from "./catalog.js";
export { createMailer } from "./mailer.js";
export { DEFAULT_MAIL_DIR } from "./paths.js";
export type { Mailer, MailerOptions, MailRequest, MailTemplate, MailVars, RenderedMail } from "./types.js";
export { MAIL_TEMPLATES } from "./types.js";
