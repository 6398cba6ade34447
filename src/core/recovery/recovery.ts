/**
 * Recovery codes: single-use fallbacks for a lost second factor.
 *
 * The alphabet leaves out characters that are easy to misread or mistype (0/O, 1/I/L), so a code
 * copied from paper survives. 31 symbols × 16 positions = 16·log2(31) ≈ 79.3 bits per code.
 */
import { hmacSha256Hex } from "../../platform/crypto.js";
import type { Random } from "../../platform/random.js";

export const RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
export const RECOVERY_CODE_LENGTH = 16;
export const RECOVERY_CODE_COUNT = 10;
/** RFC 2104 §3: keys shorter than the hash output (32 bytes for SHA-256) weaken the HMAC. */
const MIN_HASH_KEY_BYTES = 32;

const CODE_PATTERN = new RegExp(`^[${RECOVERY_ALPHABET}]{${RECOVERY_CODE_LENGTH}}$`);
const SEPARATORS = /[\s-]/g;

/**
 * `count` distinct codes, each 16 symbols drawn with `random.int(31)`: the Random seam promises a
 * uniform integer, so there is no modulo bias from mapping bytes onto 31 symbols.
 */
export function generateRecoveryCodes(random: Random, count = RECOVERY_CODE_COUNT): string[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError("recovery code count must be a positive integer");
  const codes = new Set<string>();
  // A duplicate is a ~2^-79 event; the bound only stops a broken random source from looping forever.
  for (let attempts = 0; codes.size < count; attempts++) {
    if (attempts >= count * 2) throw new Error("random source keeps repeating recovery codes");
    codes.add(generateOne(random));
  }
  return [...codes];
}

function generateOne(random: Random): string {
  let code = "";
  for (let i = 0; i < RECOVERY_CODE_LENGTH; i++) {
    const symbol = RECOVERY_ALPHABET[random.int(RECOVERY_ALPHABET.length)];
    if (symbol === undefined) throw new Error("random source returned an out-of-range integer");
    code += symbol;
  }
  return code;
}

/**
 * What the user typed → the stored form: upper-cased, with whitespace and dashes removed (people
 * group codes when copying them). Null unless the result is exactly 16 symbols of the alphabet; an
 * ambiguous character (0, O, 1, I, L) is refused, not guessed at.
 */
export function normaliseRecoveryCode(input: string): string | null {
  const candidate = input.replace(SEPARATORS, "").toUpperCase();
  return CODE_PATTERN.test(candidate) ? candidate : null;
}

/**
 * The storage form: HMAC-SHA-256(key, code), hex.
 *
 * A keyed hash, not a password hash (argon2): with ~79 bits of entropy a code cannot be brute-forced
 * from its hash, so slow hashing buys nothing and would make lookup expensive. The key adds that
 * a database leak alone does not even allow an offline check.
 *
 * The hash is the lookup key (the store finds the code by hash equality), so no separate
 * constant-time compare is needed: the only thing an attacker can vary is the guessed code, and
 * without the key they cannot steer its hash towards a stored one, so index-lookup timing reveals
 * nothing useful about stored codes.
 */
export function hashRecoveryCode(key: Buffer, normalised: string): string {
  if (key.length < MIN_HASH_KEY_BYTES)
    throw new RangeError(`recovery hash key must be at least ${MIN_HASH_KEY_BYTES} bytes`);
  // Hashing an unnormalised code would store a value no later lookup can find.
  if (!CODE_PATTERN.test(normalised)) throw new RangeError("recovery code must be normalised before hashing");
  return hmacSha256Hex(key, normalised);
}
