export { maskEmail } from "./address.js";
export type { MailCatalog } from "./catalog.js";
export { DEFAULT_ORIGIN, loadMailCatalog } from "./catalog.js";
export { createMailer, type MailerOptions } from "./mailer.js";
export { DEFAULT_MAIL_DIR } from "./paths.js";
