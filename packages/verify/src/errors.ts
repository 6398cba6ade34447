/** The reasons a token is refused, named as Latchkey's own error messages where they match. */
export type VerifyErrorCode =
  | "NO_TOKEN_PROVIDED"
  | "INVALID_TOKEN"
  | "TOKEN_EXPIRED"
  | "WRONG_TOKEN_TYPE"
  | "TOKEN_REVOKED"
  | "JWKS_UNAVAILABLE"
  | "SERVICE_UNAVAILABLE";

/**
 * Why a token was refused. `status` is what a resource server answers for it: 401 when the caller's
 * token is at fault, 503 when the key set or the service could not be reached.
 */
export class VerifyError extends Error {
  readonly code: VerifyErrorCode;
  readonly status: 401 | 503;

  constructor(code: VerifyErrorCode, options?: { cause?: unknown }) {
    super(code, options);
    this.name = "VerifyError";
    this.code = code;
    this.status = code === "JWKS_UNAVAILABLE" || code === "SERVICE_UNAVAILABLE" ? 503 : 401;
  }
}

/** No token in the request. */
export class NoTokenError extends VerifyError {
  constructor() {
    super("NO_TOKEN_PROVIDED");
    this.name = "NoTokenError";
  }
}

/** Not a JWT, a bad signature, an unknown key, another issuer or audience, or claims of the wrong shape. */
export class InvalidTokenError extends VerifyError {
  constructor(options?: { cause?: unknown }) {
    super("INVALID_TOKEN", options);
    this.name = "InvalidTokenError";
  }
}

/** Signed by Latchkey but past its `exp` (beyond the clock tolerance). */
export class TokenExpiredError extends VerifyError {
  constructor(options?: { cause?: unknown }) {
    super("TOKEN_EXPIRED", options);
    this.name = "TokenExpiredError";
  }
}

/** A genuine Latchkey token of another kind: refresh, sudo or partial. */
export class WrongTokenTypeError extends VerifyError {
  constructor() {
    super("WRONG_TOKEN_TYPE");
    this.name = "WrongTokenTypeError";
  }
}

/** The online check says the session is over (logout, password change, an administrator). */
export class TokenRevokedError extends VerifyError {
  constructor() {
    super("TOKEN_REVOKED");
    this.name = "TokenRevokedError";
  }
}

/** The key set could not be fetched or read, so no token can be checked now. */
export class JwksUnavailableError extends VerifyError {
  constructor(options?: { cause?: unknown }) {
    super("JWKS_UNAVAILABLE", options);
    this.name = "JwksUnavailableError";
  }
}

/** The online check could not get an answer from Latchkey (network error, 5xx, not JSON). */
export class ServiceUnavailableError extends VerifyError {
  constructor(options?: { cause?: unknown }) {
    super("SERVICE_UNAVAILABLE", options);
    this.name = "ServiceUnavailableError";
  }
}

/** The `error` string of the Latchkey error envelope for the statuses a verifier answers. */
const ENVELOPE_ERROR: Record<401 | 503, string> = { 401: "Unauthorized", 503: "Service unavailable" };

/** The answer body a resource server sends for a refused token, in Latchkey's error envelope. */
export function errorEnvelope(error: VerifyError): { statusCode: number; error: string; message: string } {
  return { statusCode: error.status, error: ENVELOPE_ERROR[error.status], message: error.code };
}
