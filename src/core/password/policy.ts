import { dictionary } from "@zxcvbn-ts/language-common";
import { AppError, BadRequestError } from "../errors.js";
import { CompactStringSet } from "../text/compact-set.js";

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;

/**
 * The list of commonly used passwords maintained by the zxcvbn-ts project (about 50 000 entries,
 * lower-case). NIST SP 800-63B §5.1.1.2 asks to refuse passwords found on such a list.
 */
const COMMON_PASSWORDS = new CompactStringSet(dictionary["passwords-common"] as readonly string[]);

export function isCommonPassword(password: string): boolean {
  return COMMON_PASSWORDS.has(password.toLowerCase());
}

/**
 * The rules of §1 and §4 for a new password: 8–256 characters with a lower-case letter, an
 * upper-case letter and a digit, and not a common password. Throws a 400 naming the first rule broken.
 */
export function assertAcceptablePassword(password: string): void {
  if (password.length < PASSWORD_MIN_LENGTH) {
    throw new BadRequestError(`Password must be at least ${PASSWORD_MIN_LENGTH} characters long`, "password-too-short");
  }
  if (password.length > PASSWORD_MAX_LENGTH) {
    throw new BadRequestError(`Password must be at most ${PASSWORD_MAX_LENGTH} characters long`, "password-too-long");
  }
  if (!/\p{Ll}/u.test(password))
    throw new BadRequestError("Password must contain at least one lowercase character", "password-lowercase");
  if (!/\p{Lu}/u.test(password))
    throw new BadRequestError("Password must contain at least one uppercase character", "password-uppercase");
  if (!/\p{Nd}/u.test(password))
    throw new BadRequestError("Password must contain at least one number", "password-digit");
  if (isCommonPassword(password)) throw new AppError("PASSWORD_TOO_COMMON");
}
