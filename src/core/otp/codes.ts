/**
 * Mailed one-time codes (§4): six decimal digits, stored only as a keyed hash.
 *
 * A keyed hash (HMAC-SHA-256 under a keyring-derived key) rather than a password hash: a code lives
 * ten minutes and dies after a few tries, so the online budget, not hashing cost, is what protects
 * it. The key means a database dump alone does not even allow an offline check of the 10^6 codes.
 * The hash input names the code's purpose and subject, so a stored hash cannot be replayed for
 * another account or another use.
 */
import { hmacSha256Hex } from "../../platform/crypto.js";
import type { Random } from "../../platform/random.js";

export const CODE_DIGITS = 6;
const CODE_SPACE = 10 ** CODE_DIGITS;

/** The keyring purpose of the code-hashing key (`keyring.macKey(MAIL_CODE_KEY_PURPOSE, kid)`). */
export const MAIL_CODE_KEY_PURPOSE = "mail-code";

/** Uniform over 000000–999999: the Random seam promises an unbiased integer below its bound. */
export function generateMailCode(random: Random): string {
  const value = random.int(CODE_SPACE);
  if (!Number.isInteger(value) || value < 0 || value >= CODE_SPACE) {
    throw new Error("random source returned an out-of-range integer");
  }
  return String(value).padStart(CODE_DIGITS, "0");
}

export function hashMailCode(key: Buffer, binding: { purpose: string; subject: string }, code: string): string {
  return hmacSha256Hex(key, `${binding.purpose}\n${binding.subject}\n${code}`);
}
