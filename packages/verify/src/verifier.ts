import { createRemoteJWKSet, customFetch, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import {
  InvalidTokenError,
  JwksUnavailableError,
  NoTokenError,
  ServiceUnavailableError,
  TokenExpiredError,
  TokenRevokedError,
  VerifyError,
  WrongTokenTypeError,
} from "./errors.js";

/** What a verified Latchkey access token says. */
export interface LatchkeyClaims {
  /** The user's id (the `sub` claim as a number). */
  userId: number;
  /** The `sub` claim as it is in the token. */
  sub: string;
  /** The session the token belongs to. */
  sid: string;
  /** The token's own id. */
  jti: string;
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** Expires at, seconds since the epoch. */
  exp: number;
  iss: string;
  /** Always `access`: other kinds are refused. */
  typ: "access";
}

/** Anything with `now()` in milliseconds since the epoch. */
export interface VerifierClock {
  now(): number;
}

export interface VerifierOptions {
  /** The issuer Latchkey signs with (its LATCHKEY_ISSUER, the `issuer` of its openid-configuration). */
  issuer: string;
  /** Where the service answers, when it is not the issuer URL (a private address, a test server). */
  url?: string;
  /** The key set; `<url>/.well-known/jwks.json` unless given. */
  jwksUrl?: string;
  /** Required `aud` claim. Latchkey sets none today: leave unset unless a proxy adds one. */
  audience?: string | string[];
  /** Leeway for `exp`, `iat` and `nbf` between this host's clock and Latchkey's: seconds, or "30s". */
  clockTolerance?: number | string;
  /** Also ask Latchkey (`GET /auth/accesstoken/validate`) whether the session is still live. Default false. */
  online?: boolean;
  /** The time tokens are checked against; the system clock unless given. */
  clock?: VerifierClock;
  /** The fetch used for the key set and the online check; the global fetch unless given. */
  fetch?: typeof fetch;
  /** How long a fetched key set is used before it is fetched again (ms, default 10 minutes). */
  cacheMaxAge?: number;
  /** After a fetch, how long an unknown `kid` does not cause another (ms, default 30 s). */
  cooldownDuration?: number;
  /** How long the key set fetch and the online check may take (ms, default 5 s). */
  timeoutDuration?: number;
}

export interface VerifyOptions {
  /** Override the verifier's `online` setting for this call. */
  online?: boolean;
}

export interface Verifier {
  /** Verifies an access token; throws a VerifyError subclass when it is refused. */
  verify(token: string, options?: VerifyOptions): Promise<LatchkeyClaims>;
  /** Reads the token from an `Authorization: Bearer …` header value, then verifies it. */
  verifyAuthorization(header: string | undefined, options?: VerifyOptions): Promise<LatchkeyClaims>;
}

/** Latchkey refuses anything longer before parsing; so does the verifier. */
const MAX_TOKEN_LENGTH = 4096;
const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]+)$/;

/** The token of an `Authorization` header value: NO_TOKEN_PROVIDED when absent, INVALID_TOKEN when malformed. */
export function bearerToken(header: string | undefined): string {
  if (header === undefined || header === "") throw new NoTokenError();
  const match = BEARER.exec(header);
  if (!match?.[1]) throw new InvalidTokenError();
  return match[1];
}

function trimSlash(url: string): string {
  return url.endsWith("/") ? url.slice(0, -1) : url;
}

/**
 * A verifier for Latchkey access tokens. Offline by default: EdDSA signatures checked against the
 * key set, fetched once and cached (a token with an unknown `kid` fetches it again, at most once per
 * cooldown). Offline, a token stays good until its `exp` even after a logout; `online` closes that
 * gap at the cost of one request to Latchkey per verification.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const base = trimSlash(options.url ?? options.issuer);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const timeout = options.timeoutDuration ?? 5000;
  const keySet = createRemoteJWKSet(new URL(options.jwksUrl ?? `${base}/.well-known/jwks.json`), {
    ...(options.cacheMaxAge === undefined ? {} : { cacheMaxAge: options.cacheMaxAge }),
    ...(options.cooldownDuration === undefined ? {} : { cooldownDuration: options.cooldownDuration }),
    timeoutDuration: timeout,
    [customFetch]: fetchImpl,
  });
  // Tells "no such key" (the token's fault) from "no key set at all" (ours).
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await keySet(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      throw new JwksUnavailableError({ cause: error });
    }
  };

  async function verifyOffline(token: string): Promise<LatchkeyClaims> {
    if (token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        issuer: options.issuer,
        ...(options.audience === undefined ? {} : { audience: options.audience }),
        algorithms: ["EdDSA"],
        typ: "JWT",
        requiredClaims: ["sub", "jti", "iat", "exp"],
        ...(options.clockTolerance === undefined ? {} : { clockTolerance: options.clockTolerance }),
        ...(options.clock === undefined ? {} : { currentDate: new Date(options.clock.now()) }),
      }));
    } catch (error) {
      if (error instanceof VerifyError) throw error;
      if (error instanceof errors.JWTExpired) throw new TokenExpiredError({ cause: error });
      throw new InvalidTokenError({ cause: error });
    }
    // Only a token Latchkey signed gets here: its kind is what it says.
    if (payload.typ !== "access") throw new WrongTokenTypeError();
    const userId = Number(payload.sub);
    const { sid, jti, iat, exp, iss } = payload;
    if (
      typeof payload.sub !== "string" ||
      !Number.isSafeInteger(userId) ||
      userId <= 0 ||
      typeof sid !== "string" ||
      typeof jti !== "string" ||
      typeof iat !== "number" ||
      typeof exp !== "number" ||
      typeof iss !== "string"
    ) {
      throw new InvalidTokenError();
    }
    return { userId, sub: payload.sub, sid, jti, iat, exp, iss, typ: "access" };
  }

  async function checkOnline(token: string, claims: LatchkeyClaims): Promise<void> {
    let response: Response;
    let body: unknown;
    try {
      response = await fetchImpl(`${base}/auth/accesstoken/validate`, {
        headers: { authorization: `Bearer ${token}`, accept: "application/json" },
        redirect: "manual",
        signal: AbortSignal.timeout(timeout),
      });
      body = await response.json();
    } catch (error) {
      throw new ServiceUnavailableError({ cause: error });
    }
    const fields = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
    if (response.status === 200) {
      if (fields.userId !== claims.userId) throw new InvalidTokenError();
      return;
    }
    if (response.status === 401) {
      switch (fields.message) {
        case "TOKEN_EXPIRED":
          throw new TokenExpiredError();
        case "TOKEN_REVOKED":
        case "ACCOUNT_DISABLED":
          throw new TokenRevokedError();
        default:
          throw new InvalidTokenError();
      }
    }
    throw new ServiceUnavailableError();
  }

  const verifier: Verifier = {
    async verify(token, verifyOptions = {}) {
      if (typeof token !== "string" || token === "") throw new NoTokenError();
      const claims = await verifyOffline(token);
      if (verifyOptions.online ?? options.online ?? false) await checkOnline(token, claims);
      return claims;
    },
    async verifyAuthorization(header, verifyOptions) {
      return verifier.verify(bearerToken(header), verifyOptions);
    },
  };
  return verifier;
}
