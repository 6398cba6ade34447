import type { Clock } from "../../platform/clock.js";
import { signEd25519, verifyEd25519 } from "../../platform/crypto.js";
import type { Random } from "../../platform/random.js";
import { AppError } from "../errors.js";
import type { SigningKeys } from "./signing-keys.js";
import { VerifiedTokenCache } from "./verified-cache.js";

export type TokenKind = "refresh" | "access" | "sudo" | "partial";
const TOKEN_KINDS: readonly string[] = ["refresh", "access", "sudo", "partial"];

export interface TokenClaims {
  sub: number;
  /** Session id; partial tokens have none (the session is created when the second factor passes). */
  sid: string | undefined;
  jti: string;
  typ: TokenKind;
  iat: number;
  exp: number;
  /** Partial tokens: the user's token generation at issue; revoking the user's sessions moves it on. */
  gen: number | undefined;
}

/** Whose token it is: the user, the session (all kinds but partial) and, for partial tokens, the generation. */
export interface TokenSubject {
  userId: number;
  sessionId?: string;
  tokenGeneration?: number;
}

export interface IssuedToken {
  token: string;
  jti: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** Longer than any token we issue (~1 kB with headroom); anything bigger is refused before parsing. */
const MAX_TOKEN_LENGTH = 4096;

/**
 * Verified tokens remembered per node. An access token is ~400 bytes, so the bound keeps the cache
 * under ~10 MB; a working set larger than this only costs signature checks again, never correctness.
 */
export const DEFAULT_VERIFIED_TOKEN_CACHE_SIZE = 10_000;

export interface TokenServiceOptions {
  /** Entries of the verified-token cache; 0 turns it off. */
  verifiedCacheSize?: number;
}

/** Issues and verifies the four token kinds of §2 as EdDSA JWTs with `kid`. */
export class TokenService {
  readonly #verified: VerifiedTokenCache<TokenClaims>;

  constructor(
    private readonly keys: SigningKeys,
    private readonly issuer: string,
    private readonly clock: Clock,
    private readonly random: Random,
    options: TokenServiceOptions = {},
  ) {
    this.#verified = new VerifiedTokenCache(options.verifiedCacheSize ?? DEFAULT_VERIFIED_TOKEN_CACHE_SIZE);
  }

  /** A fresh token id, for a row that must name its token before the token is signed. */
  newJti(): string {
    return this.random.bytes(16).toString("base64url");
  }

  /**
   * Signs a token. Ed25519 signatures are deterministic, so the same kind, subject, expiry, jti and
   * `issuedAtMs` under the same key give the same token again (a refresh rotation's answer, §2).
   */
  async issue(
    kind: TokenKind,
    subject: TokenSubject,
    expiresAtMs: number,
    jti: string = this.newJti(),
    issuedAtMs: number = this.clock.now(),
  ): Promise<IssuedToken> {
    const key = this.keys.active();
    const nowSeconds = Math.floor(issuedAtMs / 1000);
    // RFC 7515 compact serialisation, the claims in the order jose's SignJWT wrote them.
    const claims = {
      typ: kind,
      ...(subject.sessionId === undefined ? {} : { sid: subject.sessionId }),
      ...(subject.tokenGeneration === undefined ? {} : { gen: subject.tokenGeneration }),
      iss: this.issuer,
      sub: String(subject.userId),
      jti,
      iat: nowSeconds,
      exp: Math.floor(expiresAtMs / 1000),
    };
    const header = { alg: "EdDSA", kid: key.kid, typ: "JWT" };
    const signingInput = `${base64Url(JSON.stringify(header))}.${base64Url(JSON.stringify(claims))}`;
    const signature = signEd25519(key.privateKey, Buffer.from(signingInput, "ascii")).toString("base64url");
    return { token: `${signingInput}.${signature}`, jti, expiresAt: Math.floor(expiresAtMs / 1000) * 1000 };
  }

  /**
   * Verifies signature, issuer and expiry; throws INVALID_TOKEN or TOKEN_EXPIRED. Says nothing of kind.
   * A token already verified by this node and not yet expired is answered from the verified-token
   * cache (keyed by the exact token string); anything else goes through the full verification.
   */
  async verify(token: string): Promise<TokenClaims> {
    if (token.length > MAX_TOKEN_LENGTH) throw new AppError("INVALID_TOKEN");
    const nowMs = this.clock.now();
    const cached = this.#verified.get(token, nowMs);
    // A key dropped since (pruned after its last token expired) takes its tokens with it.
    if (cached !== undefined && this.keys.has(cached.kid)) return cached.claims;
    const { kid, claims } = await this.#verifyFully(token, nowMs);
    this.#verified.set(token, kid, claims);
    return claims;
  }

  /**
   * RFC 7515 compact serialisation, EdDSA only, checked as jose's jwtVerify checks it (which is what
   * this replaced): the signature over `header.payload` first, then the claims — required sub, jti,
   * iat, exp and our issuer; iat, nbf and exp numeric; nbf not in the future; exp in the future.
   */
  async #verifyFully(token: string, nowMs: number): Promise<{ kid: string; claims: TokenClaims }> {
    const parts = token.split(".");
    if (parts.length !== 3) throw new AppError("INVALID_TOKEN");
    const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
    const header = decodeJsonObject(encodedHeader);
    // No critical extension is understood here, so a token that names one is refused (RFC 7515 §4.1.11).
    if (header === undefined || header.alg !== "EdDSA" || header.crit !== undefined) {
      throw new AppError("INVALID_TOKEN");
    }
    const kid = header.kid;
    const key = typeof kid === "string" ? await this.keys.find(kid) : undefined;
    const signature = decodeBase64Url(encodedSignature);
    if (key === undefined || signature === undefined || typeof kid !== "string") throw new AppError("INVALID_TOKEN");
    const signed = Buffer.from(`${encodedHeader}.${encodedPayload}`, "ascii");
    if (!verifyEd25519(key.publicKey, signed, signature)) throw new AppError("INVALID_TOKEN");

    const payload = decodeJsonObject(encodedPayload);
    if (payload === undefined) throw new AppError("INVALID_TOKEN");
    for (const claim of REQUIRED_CLAIMS) {
      if (!Object.hasOwn(payload, claim)) throw new AppError("INVALID_TOKEN");
    }
    if (payload.iss !== this.issuer) throw new AppError("INVALID_TOKEN");
    const nowSeconds = Math.floor(nowMs / 1000);
    const { iat, nbf, exp } = payload;
    if (typeof iat !== "number" || typeof exp !== "number") throw new AppError("INVALID_TOKEN");
    if (nbf !== undefined && (typeof nbf !== "number" || nbf > nowSeconds)) throw new AppError("INVALID_TOKEN");
    if (exp <= nowSeconds) throw new AppError("TOKEN_EXPIRED");

    const sub = Number(payload.sub);
    const typ = payload.typ;
    const sid = payload.sid;
    if (!Number.isSafeInteger(sub) || sub <= 0) throw new AppError("INVALID_TOKEN");
    if (typeof typ !== "string" || !TOKEN_KINDS.includes(typ)) throw new AppError("INVALID_TOKEN");
    if (sid !== undefined && typeof sid !== "string") throw new AppError("INVALID_TOKEN");
    if (typ !== "partial" && sid === undefined) throw new AppError("INVALID_TOKEN");
    const gen = payload.gen;
    if (gen !== undefined && !(Number.isSafeInteger(gen) && (gen as number) >= 0)) throw new AppError("INVALID_TOKEN");
    const claims: TokenClaims = Object.freeze({
      sub,
      sid,
      jti: String(payload.jti),
      typ: typ as TokenKind,
      iat,
      exp,
      gen: gen as number | undefined,
    });
    return { kid, claims };
  }
}

const REQUIRED_CLAIMS = ["iss", "sub", "jti", "iat", "exp"] as const;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const UTF8 = new TextDecoder("utf-8", { fatal: true });

function base64Url(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url");
}

/** Unpadded base64url only (RFC 7515 §2); undefined for anything else. */
function decodeBase64Url(encoded: string): Buffer | undefined {
  if (!BASE64URL.test(encoded) || encoded.length % 4 === 1) return undefined;
  return Buffer.from(encoded, "base64url");
}

/** A base64url-encoded UTF-8 JSON object (a JOSE header or a JWT claims set); undefined otherwise. */
function decodeJsonObject(encoded: string): Record<string, unknown> | undefined {
  const bytes = decodeBase64Url(encoded);
  if (bytes === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(UTF8.decode(bytes));
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    return value as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
