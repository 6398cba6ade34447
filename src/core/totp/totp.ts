/**
 * TOTP (RFC 6238) on top of HOTP (RFC 4226), using the `otpauth` package for the HMAC truncation.
 * Parameters are the ones every authenticator app supports: SHA-1, 6 digits, 30 s steps.
 *
 * Pure: the caller passes the time (`nowMs`) and the randomness; nothing here reads a clock.
 */
import { HOTP, Secret } from "otpauth";
import { constantTimeEqual } from "../../platform/crypto.js";
import type { Random } from "../../platform/random.js";

export const TOTP_ALGORITHM = "SHA1";
export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
/** Steps accepted either side of the current one (RFC 6238 §5.2 recommends at most one). */
export const TOTP_WINDOW = 1;
/** 160 bits: the length RFC 4226 §4 (R6) recommends and the HMAC-SHA-1 output size. */
export const TOTP_SECRET_BYTES = 20;
/** RFC 4226 §4 (R6): the shared secret MUST be at least 128 bits. */
const MIN_SECRET_BYTES = 16;

const CODE_PATTERN = /^[0-9]{6}$/;

export function generateTotpSecret(random: Random): Buffer {
  const secret = random.bytes(TOTP_SECRET_BYTES);
  if (secret.length !== TOTP_SECRET_BYTES) throw new Error("random source returned the wrong number of bytes");
  return secret;
}

/**
 * The Key URI for authenticator apps (Google's "Key Uri Format"):
 * `otpauth://totp/<issuer>:<account>?secret=<base32>&issuer=<issuer>&algorithm=SHA1&digits=6&period=30`.
 *
 * Built by hand rather than with otpauth's `TOTP.toString()`, because that one puts `issuer` before
 * `secret`; apps accept either order, but our contract fixes this one. Issuer and account are
 * encoded with encodeURIComponent (so a space is %20, `@` is %40), the label colon stays literal,
 * and the base32 secret is unpadded (20 bytes encode to exactly 32 characters).
 *
 * The issuer may not contain a colon: parsers split the label at the first literal or encoded
 * colon, so one in the issuer would move part of it into the account name.
 */
export function totpUrl({ secret, issuer, account }: { secret: Buffer; issuer: string; account: string }): string {
  assertSecret(secret);
  if (issuer.length === 0) throw new RangeError("TOTP issuer must not be empty");
  if (issuer.includes(":")) throw new RangeError("TOTP issuer must not contain a colon");
  if (account.length === 0) throw new RangeError("TOTP account must not be empty");
  const e = encodeURIComponent;
  return (
    `otpauth://totp/${e(issuer)}:${e(account)}` +
    `?secret=${toOtpSecret(secret).base32}` +
    `&issuer=${e(issuer)}` +
    `&algorithm=${TOTP_ALGORITHM}&digits=${TOTP_DIGITS}&period=${TOTP_PERIOD_SECONDS}`
  );
}

/** The RFC 6238 time step T = floor((unix time - T0) / X) with T0 = 0 and X = 30 s. */
export function totpStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS);
}

/**
 * Checks `code` against steps now-1, now and now+1 (clock drift, RFC 6238 §5.2 / §6) and returns the
 * matched step, or null.
 *
 * Replay protection (RFC 6238 §5.2: "the verifier MUST NOT accept the second attempt of the same
 * OTP after the successful validation has been issued for the first OTP"): a step is acceptable
 * only if it is strictly greater than `lastUsedStep`, so a used code and every earlier one are dead.
 * The caller must store the returned step as the new `lastUsedStep` (atomically with accepting it).
 *
 * Every candidate is generated and compared in constant time, with no early exit, so timing does
 * not say which step matched. If the code matches several acceptable steps (a 1-in-10^6 collision),
 * the highest wins: storing it keeps the same code string from being accepted twice in this window.
 */
export function matchTotp({
  secret,
  code,
  nowMs,
  lastUsedStep,
}: {
  secret: Buffer;
  code: string;
  nowMs: number;
  lastUsedStep: number | null;
}): { step: number } | null {
  assertSecret(secret);
  if (!CODE_PATTERN.test(code)) return null;
  if (!Number.isFinite(nowMs)) return null;
  const otpSecret = toOtpSecret(secret);
  const current = totpStep(nowMs);
  let matched: number | null = null;
  for (let step = current - TOTP_WINDOW; step <= current + TOTP_WINDOW; step++) {
    if (step < 0) continue;
    const expected = HOTP.generate({
      secret: otpSecret,
      algorithm: TOTP_ALGORITHM,
      digits: TOTP_DIGITS,
      counter: step,
    });
    const fresh = lastUsedStep === null || step > lastUsedStep;
    if (constantTimeEqual(expected, code) && fresh) matched = step;
  }
  return matched === null ? null : { step: matched };
}

function assertSecret(secret: Buffer): void {
  if (secret.length < MIN_SECRET_BYTES) throw new RangeError(`TOTP secret must be at least ${MIN_SECRET_BYTES} bytes`);
}

/** Copies the bytes: a small Buffer is a view into Node's shared pool, so its `.buffer` holds other data. */
function toOtpSecret(secret: Buffer): Secret {
  return new Secret({ buffer: Uint8Array.from(secret).buffer });
}
