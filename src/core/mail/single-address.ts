/** One bare address: no display name, no brackets, no separators, no whitespace, exactly one "@". */
const SINGLE_ADDRESS = /^[^\s@<>,;:"()[\]\\]+@[^\s@<>,;:"()[\]\\]+\.[^\s@<>,;:"()[\]\\]+$/u;

/**
 * The addresses the service mails: one bare address of at most 254 characters. Flows refuse any
 * other (400) before a code is stored; the mailer checks again before a value reaches a header.
 */
export function isSingleAddress(value: unknown): value is string {
  return typeof value === "string" && value.length <= 254 && SINGLE_ADDRESS.test(value);
}
