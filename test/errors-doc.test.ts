import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, ERROR_STRINGS } from "../src/core/errors.js";
import { ENVELOPE_ERRORS } from "./support/http.js";

const read = (path: string) => readFileSync(new URL(path, import.meta.url), "utf8");

/** Every message code the API contract names, with its status (docs/api.md §1–§6). */
const CONTRACT_CODES: Record<string, number> = {
  // §1 Conventions
  UNABLE_TO_FIND_MAIL_TEMPLATE: 500,
  // §2 Tokens
  NO_TOKEN_PROVIDED: 401,
  INVALID_TOKEN: 401,
  TOKEN_EXPIRED: 401,
  TOKEN_REVOKED: 401,
  WRONG_TOKEN_TYPE: 401,
  "2FA_REQUIRED_PARTIAL_TOKEN": 401,
  REFRESH_TOKEN_REUSED: 401,
  SUDO_TOKEN_REQUIRED: 403,
  // §3 Endpoints
  PASSWORD_INCORRECT: 401,
  TOO_MANY_FAILED_PASSWORD_CHECKS: 429,
  NO_PASSWORD_INFO: 500,
  TOTP_INVALID: 401,
  TOTP_UNINITIALIZED: 409,
  TOO_MANY_TOTP_CHECKS: 429,
  TOTP_CORRUPT: 500,
  TOTP_ALREADY_INACTIVE: 409,
  FORBIDDEN_MAIL_PROVIDER: 403,
  TOO_MANY_OTP_EMAILS: 429,
  OTP_INVALID_EXPIRED: 401,
  EMAIL_OTP_UNINITIALIZED: 409,
  EMAIL_OTP_INACTIVE: 409,
  EMAIL_OTP_ALREADY_INACTIVE: 409,
  RECOVERY_CODE_INVALID: 401,
  RECOVERY_CODES_UNINITIALIZED: 409,
  TOO_MANY_RECOVERY_CODE_CHECKS: 429,
  "2FA_IS_DISABLED": 409,
  TOO_MANY_RESET_MAIL_ATTEMPTS: 429,
  NEW_EMAIL_ALREADY_IN_USE: 409,
  TOO_MANY_TRANSFER_ATTEMPTS: 429,
  // §4 Codes and throttles
  PASSWORD_TOO_COMMON: 400,
  TOO_MANY_OTP_CHECKS: 429,
  TOO_MANY_REQUESTS: 429,
  // §5 Admin API
  ADMIN_TOKEN_INVALID: 401,
  ACCOUNT_DISABLED: 401,
  EMAIL_ALREADY_IN_USE: 409,
  USER_NOT_FOUND: 404,
  INVITATION_NOT_NEEDED: 409,
  // §3 User: invitation [ours]
  INVITATION_INVALID: 401,
  // §6 The user's own sessions
  SESSION_NOT_FOUND: 404,
};

const registry = Object.entries(ERROR_CODES).map(([code, { status, description }]) => ({
  code,
  status: status as number,
  description: description as string,
}));

describe("docs/errors.md", () => {
  const rows = [
    ...read("../docs/errors.md").matchAll(
      /^\|\s*`([A-Z0-9_]+)`\s*\|\s*(\d{3})\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|$/gm,
    ),
  ].map((m) => ({ code: m[1], status: Number(m[2]), error: m[3], meaning: m[4] }));

  it("lists every registry code, in the registry's order, with its status and meaning, and nothing else", () => {
    expect(rows.map(({ code, status, meaning }) => ({ code, status, description: meaning }))).toEqual(registry);
  });

  it("gives each code the contract's error string for its status", () => {
    for (const { code, status, error } of rows) {
      expect({ code, error }).toEqual({ code, error: ENVELOPE_ERRORS[status] });
    }
  });
});

describe("the error registry", () => {
  it("answers the contract's error strings", () => {
    expect(ERROR_STRINGS).toEqual(ENVELOPE_ERRORS);
  });

  it("holds every code the contract names, with the contract's status", () => {
    for (const [code, status] of Object.entries(CONTRACT_CODES)) {
      expect({ code, status: registry.find((entry) => entry.code === code)?.status }).toEqual({ code, status });
    }
  });
});

describe("docs/api.md", () => {
  const named = new Set([...read("../docs/api.md").matchAll(/`([A-Z0-9]+(?:_[A-Z0-9]+)+)`/g)].map((m) => m[1]));

  it("names every code of the contract list above", () => {
    expect([...Object.keys(CONTRACT_CODES)].filter((code) => !named.has(code))).toEqual([]);
  });

  it("names only codes the registry holds", () => {
    const known = new Set(Object.keys(ERROR_CODES));
    const variables = (code: string | undefined) => code?.startsWith("LATCHKEY_") ?? false;
    expect([...named].filter((code) => !known.has(code ?? "") && !variables(code))).toEqual([]);
  });
});
