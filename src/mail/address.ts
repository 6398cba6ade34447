/**
 * Address hygiene for mail headers. The HTTP layer validates addresses first; these checks are the
 * last line before a value reaches a header, so a CR/LF or a second address can never slip through.
 */
import { isSingleAddress } from "../core/mail/single-address.js";

/** Throws a plain Error (a programming fault, not a client error) unless `value` is one bare address. */
export function assertRecipient(value: unknown): asserts value is string {
  if (typeof value !== "string" || /[\r\n]/.test(value) || !isSingleAddress(value)) {
    throw new Error("Mail recipient must be a single address without line breaks");
  }
}

/** True when the text contains a control character (C0, DEL or C1), which no header value may carry. */
export function hasControlChar(value: string): boolean {
  for (const ch of value) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return true;
  }
  return false;
}

/**
 * Hides most of the local part so a notice can name an address without disclosing it:
 * "jane.doe@example.com" → "j***@example.com". The domain is kept; input without "@" is fully hidden.
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at < 0) return "***";
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  const first = Array.from(local)[0] ?? "";
  return `${first}***@${domain}`;
}
