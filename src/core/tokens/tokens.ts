import { decodeProtectedHeader, errors, jwtVerify, SignJWT } from "jose";
import type { Clock } from "../../platform/clock.js";
import type { Random } from "../../platform/random.js";
import { AppError } from "../errors.js";
import type { SigningKeys } from "./signing-keys.js";

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
}

export interface IssuedToken {
  token: string;
  jti: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** Longer than any token we issue (~1 kB with headroom); anything bigger is refused before parsing. */
const MAX_TOKEN_LENGTH = 4096;

/** Issues and verifies the four token kinds of §2 as EdDSA JWTs with `kid`. */
export class TokenService {
  constructor(
    private readonly keys: SigningKeys,
    private readonly issuer: string,
    private readonly clock: Clock,
    private readonly random: Random,
  ) {}

  async issue(
    kind: TokenKind,
    subject: { userId: number; sessionId?: string },
    expiresAtMs: number,
  ): Promise<IssuedToken> {
    const key = this.keys.active();
    const jti = this.random.bytes(16).toString("base64url");
    const nowSeconds = Math.floor(this.clock.now() / 1000);
    const claims: Record<string, unknown> = { typ: kind };
    if (subject.sessionId !== undefined) claims.sid = subject.sessionId;
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: "JWT" })
      .setIssuer(this.issuer)
      .setSubject(String(subject.userId))
      .setJti(jti)
      .setIssuedAt(nowSeconds)
      .setExpirationTime(Math.floor(expiresAtMs / 1000))
      .sign(key.privateKey);
    return { token, jti, expiresAt: Math.floor(expiresAtMs / 1000) * 1000 };
  }

  /** Verifies signature, issuer and expiry; throws INVALID_TOKEN or TOKEN_EXPIRED. Says nothing of kind. */
  async verify(token: string): Promise<TokenClaims> {
    if (token.length > MAX_TOKEN_LENGTH) throw new AppError("INVALID_TOKEN");
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new AppError("INVALID_TOKEN");
    }
    const key = kid === undefined ? undefined : await this.keys.find(kid);
    if (!key) throw new AppError("INVALID_TOKEN");
    try {
      const { payload } = await jwtVerify(token, key.publicKey, {
        algorithms: ["EdDSA"],
        issuer: this.issuer,
        currentDate: new Date(this.clock.now()),
        requiredClaims: ["sub", "jti", "iat", "exp"],
      });
      const sub = Number(payload.sub);
      const typ = payload.typ;
      const sid = payload.sid;
      if (!Number.isSafeInteger(sub) || sub <= 0) throw new AppError("INVALID_TOKEN");
      if (typeof typ !== "string" || !TOKEN_KINDS.includes(typ)) throw new AppError("INVALID_TOKEN");
      if (sid !== undefined && typeof sid !== "string") throw new AppError("INVALID_TOKEN");
      if (typ !== "partial" && sid === undefined) throw new AppError("INVALID_TOKEN");
      return {
        sub,
        sid,
        jti: String(payload.jti),
        typ: typ as TokenKind,
        iat: Number(payload.iat),
        exp: Number(payload.exp),
      };
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (error instanceof errors.JWTExpired) throw new AppError("TOKEN_EXPIRED");
      throw new AppError("INVALID_TOKEN");
    }
  }
}
