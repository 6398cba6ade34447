/**
 * Deterministic fixtures: user `i` has email `user<i>@bench.example`, session `sessionId(i)` and
 * refresh token `refreshJti(i)`. PostgreSQL computes the same values with generate_series and md5(),
 * so a million rows are seeded without shipping them from Node, and the runner can mint tokens for
 * any of them without keeping a list.
 */
import { createHash, generateKeyPairSync, type KeyObject, sign } from "node:crypto";

export const BENCH_PASSWORD = "Bench-Password-7";

export function email(i: number): string {
  return `user${i}@bench.example`;
}

function md5(text: string): string {
  return createHash("md5").update(text).digest("hex");
}

/** md5('bench-session-' || i)::uuid::text in PostgreSQL. */
export function sessionId(i: number): string {
  const h = md5(`bench-session-${i}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** md5('bench-refresh-' || i) in PostgreSQL. */
export function refreshJti(i: number): string {
  return md5(`bench-refresh-${i}`);
}

/** The TOTP secret of user `i` (20 bytes, as the app generates). */
export function totpSecret(i: number): Buffer {
  return createHash("sha256").update(`bench-totp-${i}`).digest().subarray(0, 20);
}

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  privatePem: string;
  publicPem: string;
}

export function newSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    kid: "bench-key",
    privateKey,
    privatePem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    publicPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
  };
}

/**
 * Mints tokens exactly as the server's TokenService shapes them (EdDSA compact JWS, `kid` header,
 * claims typ/sid/iss/sub/jti/iat/exp), with the signing key the runner seeded into the database.
 */
export class Minter {
  #counter = 0;
  readonly #header: string;
  constructor(
    private readonly key: SigningKey,
    private readonly issuer: string,
  ) {
    this.#header = Buffer.from(JSON.stringify({ alg: "EdDSA", kid: key.kid, typ: "JWT" })).toString("base64url");
  }

  mint(kind: "access" | "refresh" | "sudo", userId: number, sid: string, ttlSeconds: number, jti?: string): string {
    const iat = Math.floor(Date.now() / 1000);
    const payload = {
      typ: kind,
      sid,
      iss: this.issuer,
      sub: String(userId),
      jti: jti ?? `bench-${process.pid}-${++this.#counter}`,
      iat,
      exp: iat + ttlSeconds,
    };
    const body = `${this.#header}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
    return `${body}.${sign(null, Buffer.from(body), this.key.privateKey).toString("base64url")}`;
  }
}
