/**
 * The one registry of message codes. Every error the service answers carries one of these codes
 * (or a validator's message for schema failures) in the contract's envelope:
 * `{"statusCode", "error", "message"}`. docs/errors.md lists the same codes; a test keeps them in sync.
 */
export const ERROR_STRINGS = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  429: "Too many requests",
  500: "Internal server error",
  503: "Service unavailable",
} as const;

export type ErrorStatus = keyof typeof ERROR_STRINGS;

export const ERROR_CODES = {
  // Request shape (§1)
  MALFORMED_JSON: { status: 400, description: "The request body is not valid JSON." },
  UNSUPPORTED_CONTENT_TYPE: { status: 400, description: "The request body is not application/json." },
  BODY_TOO_LARGE: { status: 400, description: "The request body exceeds the size limit." },
  INVALID_REQUEST: { status: 400, description: "The request could not be parsed." },
  ROUTE_NOT_FOUND: { status: 404, description: "No endpoint answers this method and path." },
  // Tokens (§2)
  NO_TOKEN_PROVIDED: { status: 401, description: "No bearer token in the Authorization header or cookie." },
  INVALID_TOKEN: { status: 401, description: "The token is malformed or its signature does not verify." },
  TOKEN_EXPIRED: { status: 401, description: "The token's lifetime is over." },
  TOKEN_REVOKED: { status: 401, description: "The token's session was ended (logout, password change, reuse)." },
  WRONG_TOKEN_TYPE: { status: 401, description: "The token is of a kind this endpoint does not accept." },
  "2FA_REQUIRED_PARTIAL_TOKEN": {
    status: 401,
    description: "A partial token (second factor pending) was used where a full login is needed.",
  },
  REFRESH_TOKEN_REUSED: {
    status: 401,
    description: "A rotated refresh token was presented after the grace period; the session is revoked.",
  },
  SUDO_TOKEN_REQUIRED: { status: 403, description: "The endpoint needs a sudo token (a second factor just checked)." },
  ACCOUNT_DISABLED: { status: 401, description: "The account was disabled by an administrator." },
  // Passwords (§4)
  PASSWORD_INCORRECT: { status: 401, description: "Wrong username or password (also for unknown users)." },
  TOO_MANY_FAILED_PASSWORD_CHECKS: { status: 429, description: "Password guesses are throttled; see retryAfter." },
  NO_PASSWORD_INFO: { status: 500, description: "The account has no password." },
  PASSWORD_TOO_COMMON: { status: 400, description: "The new password is on a list of commonly used passwords." },
  // TOTP
  TOTP_INVALID: { status: 401, description: "The TOTP code is wrong or was already used." },
  TOTP_UNINITIALIZED: { status: 409, description: "No TOTP secret is set up (or pending) for this account." },
  TOO_MANY_TOTP_CHECKS: { status: 429, description: "TOTP guesses are throttled; see retryAfter." },
  TOTP_CORRUPT: { status: 500, description: "The stored TOTP secret cannot be decrypted." },
  TOTP_ALREADY_INACTIVE: { status: 409, description: "TOTP is not active." },
  // Passkeys
  PASSKEY_RESPONSE_MALFORMED: {
    status: 400,
    description: "The response fits the schema but cannot be decoded (client data, authenticator data, attestation).",
  },
  PASSKEY_NAME_INVALID: { status: 400, description: "A passkey's name must not be blank." },
  PASSKEY_CHALLENGE_INVALID: {
    status: 401,
    description: "The response answers no live challenge of this ceremony: unknown, used, expired, or another's.",
  },
  PASSKEY_INVALID: {
    status: 401,
    description:
      "The passkey response does not verify: origin, relying party, signature, presence or user verification.",
  },
  PASSKEY_UNKNOWN: { status: 401, description: "The credential is not a registered passkey (of this account)." },
  PASSKEY_COUNTER_INVALID: {
    status: 401,
    description: "The authenticator's signature counter did not go forward (a cloned authenticator?); recorded.",
  },
  PASSKEY_NOT_FOUND: { status: 404, description: "The caller has no passkey with that id." },
  PASSKEY_ALREADY_REGISTERED: { status: 409, description: "That credential is registered already." },
  PASSKEY_LIMIT_REACHED: { status: 409, description: "The account has the most passkeys allowed (20)." },
  PASSKEYS_UNINITIALIZED: { status: 409, description: "The account has no passkey." },
  // Email OTP and mailed codes
  OTP_INVALID_EXPIRED: { status: 401, description: "The code is wrong, expired, used or dead after too many tries." },
  EMAIL_OTP_UNINITIALIZED: { status: 409, description: "Email OTP was never set up for this account." },
  EMAIL_OTP_INACTIVE: { status: 409, description: "Email OTP is set up but not active." },
  EMAIL_OTP_ALREADY_INACTIVE: { status: 409, description: "Email OTP is not active." },
  TOO_MANY_OTP_EMAILS: { status: 429, description: "A code was mailed too recently; see retryAfter." },
  TOO_MANY_OTP_CHECKS: { status: 429, description: "Mailed-code guesses are throttled; see retryAfter." },
  FORBIDDEN_MAIL_PROVIDER: { status: 403, description: "The address belongs to a throw-away mail provider." },
  UNABLE_TO_FIND_MAIL_TEMPLATE: { status: 500, description: "Unknown origin, or no template for the mail." },
  MAIL_DELIVERY_FAILED: { status: 500, description: "The mail could not be handed to the mail server." },
  // Recovery codes
  RECOVERY_CODE_INVALID: { status: 401, description: "The recovery code is wrong or already spent." },
  RECOVERY_CODES_UNINITIALIZED: { status: 409, description: "The account has no recovery codes." },
  TOO_MANY_RECOVERY_CODE_CHECKS: { status: 429, description: "Recovery code guesses are throttled; see retryAfter." },
  "2FA_IS_DISABLED": { status: 409, description: "Two-factor authentication is off for this account." },
  // Password reset and email transfer
  TOO_MANY_RESET_MAIL_ATTEMPTS: { status: 429, description: "A reset mail was sent too recently; see retryAfter." },
  TOO_MANY_TRANSFER_ATTEMPTS: { status: 429, description: "A transfer mail was sent too recently; see retryAfter." },
  NEW_EMAIL_ALREADY_IN_USE: { status: 409, description: "Another account uses that address." },
  // Sign-up
  SIGNUP_DOMAIN_NOT_ALLOWED: { status: 403, description: "Sign-up is not open to addresses of this domain." },
  TOO_MANY_SIGNUP_ATTEMPTS: { status: 429, description: "A sign-up mail was sent too recently; see retryAfter." },
  // The user's sessions (§6)
  SESSION_NOT_FOUND: { status: 404, description: "The caller has no live session with that id." },
  // Operator surface
  TOO_MANY_REQUESTS: { status: 429, description: "Per-client request limit reached; see retryAfter." },
  ADMIN_TOKEN_INVALID: { status: 401, description: "Missing or wrong admin token." },
  EMAIL_ALREADY_IN_USE: { status: 409, description: "An account with that address exists." },
  USER_NOT_FOUND: { status: 404, description: "No such user." },
  // Invitations
  INVITATION_INVALID: {
    status: 401,
    description: "The invitation's code is wrong, expired, used or replaced, or the address has none.",
  },
  INVITATION_NOT_NEEDED: { status: 409, description: "The account has a password already: nothing to invite to." },
  // OAuth clients (the admin API's client registry)
  CLIENT_NAME_INVALID: {
    status: 400,
    description: "A client's name must be 1 to 100 characters, not blank, without control characters.",
  },
  INVALID_REDIRECT_URI: {
    status: 400,
    description:
      "Redirect URIs: 1 to 10, no two alike, each an absolute https URL (http on a loopback host only) without fragment, userinfo or asterisk.",
  },
  INVALID_POST_LOGOUT_REDIRECT_URI: {
    status: 400,
    description: "Post-logout redirect URIs: 0 to 10, under the redirect URIs' rules.",
  },
  INVALID_SCOPE: {
    status: 400,
    description: "Scopes are among openid, profile, email and offline_access, each once, and include openid.",
  },
  CLIENT_UPDATE_EMPTY: { status: 400, description: "An update names no field to change." },
  CLIENT_NOT_FOUND: { status: 404, description: "No such OAuth client." },
  CLIENT_IS_PUBLIC: { status: 409, description: "A public client has no secret to rotate." },
  // Faults
  INTERNAL_SERVER_ERROR: { status: 500, description: "An unexpected fault; details are in the server log." },
  SERVICE_UNAVAILABLE: {
    status: 503,
    description: "The database does not answer (readiness, or a request it could not serve); see retryAfter.",
  },
} as const satisfies Record<string, { status: ErrorStatus; description: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  retryAfter?: number;
}

/** A refusal the domain decided on. Carries a registry code; the HTTP layer renders the envelope. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: ErrorStatus;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, options: { retryAfterSeconds?: number } = {}) {
    super(code);
    this.name = "AppError";
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { statusCode: this.status, error: ERROR_STRINGS[this.status], message: this.code };
    if (this.retryAfterSeconds !== undefined) body.retryAfter = this.retryAfterSeconds;
    return body;
  }
}

/**
 * A 400 whose message is free text (validator messages, password-rule messages). `rule` names the
 * rule broken, for faces that word it themselves (the hosted pages, in the reader's language).
 */
export class BadRequestError extends Error {
  constructor(
    message: string,
    readonly rule?: string,
  ) {
    super(message);
    this.name = "BadRequestError";
  }
  toBody(): ErrorBody {
    return { statusCode: 400, error: ERROR_STRINGS[400], message: this.message };
  }
}
