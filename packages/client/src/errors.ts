/** An answer of the service in its error envelope: `code` is the message code (`TOTP_INVALID`, …). */
export class LatchkeyError extends Error {
  override readonly name = "LatchkeyError";
  constructor(
    readonly code: string,
    readonly status: number,
    /** Seconds to wait before trying again, on a 429. */
    readonly retryAfter?: number,
  ) {
    super(`${status} ${code}`);
  }
}

/** The request never got an answer: refused connection, DNS failure, reset, abort. */
export class NetworkError extends Error {
  override readonly name = "NetworkError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * An answer the client cannot read as the contract's: a 5xx without the error envelope (a proxy's
 * page), a body that is not JSON where JSON was due, a token that is not a JWT.
 */
export class UnexpectedResponseError extends Error {
  override readonly name = "UnexpectedResponseError";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** The message codes on a refresh after which the stored session is dead and is removed. */
export const SESSION_ENDED_CODES: ReadonlySet<string> = new Set([
  "TOKEN_REVOKED",
  "REFRESH_TOKEN_REUSED",
  "TOKEN_EXPIRED",
]);
