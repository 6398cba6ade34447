import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { decodeProtectedHeader, errors, jwtVerify } from "jose";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ManualClock } from "../../platform/clock.js";
import { secureRandom } from "../../platform/random.js";
import { type KyselyStore, openKyselyStore } from "../../storage/kysely/store.js";
import { AppError } from "../errors.js";
import { parseKeyring } from "../secrets/keyring.js";
import { SigningKeys } from "./signing-keys.js";
import { type TokenClaims, TokenService } from "./tokens.js";

const ISSUER = "http://latchkey.test";
const T0 = Date.UTC(2026, 5, 1);

function b64(value: unknown): string {
  return Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
}

/** A compact JWS over arbitrary header and payload segments, signed with Ed25519. */
function signed(header: unknown, payload: unknown, key: KeyObject): string {
  const input = `${typeof header === "string" ? header : b64(header)}.${typeof payload === "string" ? payload : b64(payload)}`;
  return `${input}.${sign(null, Buffer.from(input), key).toString("base64url")}`;
}

async function outcome(promise: Promise<TokenClaims>): Promise<TokenClaims | string> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
}

describe("TokenService.verify", () => {
  let store: KyselyStore;
  let clock: ManualClock;
  let keys: SigningKeys;
  let service: TokenService;
  let kid: string;
  let privateKey: KeyObject;

  beforeEach(async () => {
    store = openKyselyStore("sqlite::memory:");
    await store.migrate();
    clock = new ManualClock(T0);
    keys = new SigningKeys(store, clock, secureRandom, parseKeyring(`k1:${Buffer.alloc(32, 1).toString("base64")}`));
    await keys.init();
    service = new TokenService(keys, ISSUER, clock, secureRandom, { verifiedCacheSize: 4 });
    kid = keys.active().kid;
    privateKey = keys.active().privateKey;
  });
  afterEach(async () => {
    await store.close();
  });

  it("issues compact EdDSA JWTs that a standard library (jose) verifies against the published key", async () => {
    const expiresAt = T0 + 300_000;
    const issued = await service.issue("access", { userId: 42, sessionId: "s-9" }, expiresAt + 999);
    expect(issued.expiresAt).toBe(expiresAt);
    expect(decodeProtectedHeader(issued.token)).toEqual({ alg: "EdDSA", kid, typ: "JWT" });
    const { payload } = await jwtVerify(issued.token, keys.active().publicKey, {
      issuer: ISSUER,
      algorithms: ["EdDSA"],
      currentDate: new Date(T0),
    });
    expect(payload).toEqual({
      typ: "access",
      sid: "s-9",
      iss: ISSUER,
      sub: "42",
      jti: issued.jti,
      iat: T0 / 1000,
      exp: expiresAt / 1000,
    });
    const refresh = await service.issue("refresh", { userId: 7 }, expiresAt);
    expect(
      (await jwtVerify(refresh.token, keys.active().publicKey, { currentDate: new Date(T0) })).payload,
    ).not.toHaveProperty("sid");
    expect(await service.verify(issued.token)).toMatchObject({ typ: "access", sub: 42, sid: "s-9" });
  });

  const claims = (extra: Record<string, unknown> = {}) => ({
    typ: "access",
    sid: "s1",
    iss: ISSUER,
    sub: "7",
    jti: "j1",
    iat: T0 / 1000,
    exp: T0 / 1000 + 300,
    ...extra,
  });

  it("verifies a token it issued, then answers it from the cache without looking for the key again", async () => {
    const issued = await service.issue("access", { userId: 7, sessionId: "s1" }, T0 + 300_000);
    const find = vi.spyOn(keys, "find");
    const first = await service.verify(issued.token);
    expect(first).toMatchObject({ sub: 7, sid: "s1", typ: "access", jti: issued.jti, exp: T0 / 1000 + 300 });
    expect(find).toHaveBeenCalledTimes(1);
    expect(await service.verify(issued.token)).toEqual(first);
    expect(find).toHaveBeenCalledTimes(1);
  });

  it("never answers a tampered copy of a cached token from the cache", async () => {
    const issued = await service.issue("access", { userId: 7, sessionId: "s1" }, T0 + 300_000);
    await service.verify(issued.token);
    const [header, payload, signature] = issued.token.split(".") as [string, string, string];
    const otherUser = b64({ ...JSON.parse(Buffer.from(payload, "base64url").toString()), sub: "8" });
    const flipped = `${signature.slice(0, 10)}${signature[10] === "A" ? "B" : "A"}${signature.slice(11)}`;
    const { privateKey: foreign } = generateKeyPairSync("ed25519");
    const tampered = [
      `${header}.${otherUser}.${signature}`,
      `${header}.${payload}.${flipped}`,
      `${b64({ alg: "EdDSA", kid, typ: "JWT", x: 1 })}.${payload}.${signature}`,
      signed({ alg: "EdDSA", kid, typ: "JWT" }, claims({ jti: issued.jti }), foreign),
      `${issued.token}.`,
      `${issued.token}x`,
    ];
    for (const token of tampered) expect(await outcome(service.verify(token))).toBe("INVALID_TOKEN");
    // The genuine token still verifies, from the cache.
    expect(await outcome(service.verify(issued.token))).toMatchObject({ sub: 7 });
  });

  it("stops answering a cached token once it has expired", async () => {
    const issued = await service.issue("access", { userId: 7, sessionId: "s1" }, T0 + 300_000);
    await service.verify(issued.token);
    clock.set(T0 + 299_999);
    expect(await outcome(service.verify(issued.token))).toMatchObject({ sub: 7 });
    clock.set(T0 + 300_000);
    expect(await outcome(service.verify(issued.token))).toBe("TOKEN_EXPIRED");
  });

  it("stops answering a cached token once its key is gone", async () => {
    const issued = await service.issue("access", { userId: 7, sessionId: "s1" }, T0 + 300_000);
    await service.verify(issued.token);
    await keys.rotate();
    await store.db.deleteFrom("signing_keys").where("kid", "=", kid).execute();
    await keys.reload();
    expect(await outcome(service.verify(issued.token))).toBe("INVALID_TOKEN");
  });

  it("keeps a bounded number of verified tokens", async () => {
    const tokens = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => service.issue("access", { userId: n, sessionId: `s${n}` }, T0 + 300_000)),
    );
    for (const t of tokens) await service.verify(t.token);
    const find = vi.spyOn(keys, "find");
    await service.verify(tokens[4]?.token ?? ""); // recent: cached
    expect(find).toHaveBeenCalledTimes(0);
    await service.verify(tokens[0]?.token ?? ""); // evicted by the fifth (bound 4): verified again
    expect(find).toHaveBeenCalledTimes(1);
  });

  it("refuses what jose refused, with the same code (the implementation it replaced)", async () => {
    const header = { alg: "EdDSA", kid, typ: "JWT" };
    const { privateKey: foreign } = generateKeyPairSync("ed25519");
    const cases: Record<string, string> = {
      valid: signed(header, claims(), privateKey),
      "partial without sid": signed(header, claims({ typ: "partial", sid: undefined }), privateKey),
      "alg none": `${b64({ alg: "none", kid })}.${b64(claims())}.`,
      "alg HS256": signed({ alg: "HS256", kid }, claims(), privateKey),
      "alg Ed25519": signed({ alg: "Ed25519", kid }, claims(), privateKey),
      "crit header": signed({ ...header, crit: ["exp"] }, claims(), privateKey),
      "crit b64": signed({ ...header, crit: ["b64"], b64: false }, claims(), privateKey),
      "b64 without crit": signed({ ...header, b64: false }, claims(), privateKey),
      "no kid": signed({ alg: "EdDSA" }, claims(), privateKey),
      "unknown kid": signed({ ...header, kid: "nope" }, claims(), privateKey),
      "numeric kid": signed({ ...header, kid: 5 }, claims(), privateKey),
      "foreign key": signed(header, claims(), foreign),
      "header not JSON": signed("bm90IGpzb24", claims(), privateKey),
      "header an array": signed([header], claims(), privateKey),
      "payload an array": signed(header, [claims()], privateKey),
      "payload a number": signed(header, 42, privateKey),
      "payload null": signed(header, "null", privateKey),
      "payload not UTF-8": signed(header, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString("base64url"), privateKey),
      "wrong issuer": signed(header, claims({ iss: "http://elsewhere" }), privateKey),
      "no issuer": signed(header, claims({ iss: undefined }), privateKey),
      "no sub": signed(header, claims({ sub: undefined }), privateKey),
      "sub zero": signed(header, claims({ sub: "0" }), privateKey),
      "sub not a number": signed(header, claims({ sub: "seven" }), privateKey),
      "no jti": signed(header, claims({ jti: undefined }), privateKey),
      "no iat": signed(header, claims({ iat: undefined }), privateKey),
      "iat a string": signed(header, claims({ iat: String(T0 / 1000) }), privateKey),
      "no exp": signed(header, claims({ exp: undefined }), privateKey),
      "exp a string": signed(header, claims({ exp: String(T0 / 1000 + 300) }), privateKey),
      "exp now": signed(header, claims({ exp: T0 / 1000 }), privateKey),
      "exp past": signed(header, claims({ exp: T0 / 1000 - 1 }), privateKey),
      "nbf future": signed(header, claims({ nbf: T0 / 1000 + 1 }), privateKey),
      "nbf past": signed(header, claims({ nbf: T0 / 1000 - 1 }), privateKey),
      "nbf a string": signed(header, claims({ nbf: "0" }), privateKey),
      "unknown typ": signed(header, claims({ typ: "admin" }), privateKey),
      "access without sid": signed(header, claims({ sid: undefined }), privateKey),
      "numeric sid": signed(header, claims({ sid: 1 }), privateKey),
      "two segments": `${b64(header)}.${b64(claims())}`,
      "four segments": `${signed(header, claims(), privateKey)}.x`,
      "empty signature": `${b64(header)}.${b64(claims())}.`,
      "short signature": `${b64(header)}.${b64(claims())}.AAAA`,
    };
    // The verification this replaced: jose's jwtVerify, then the same claim checks.
    const previous = async (token: string): Promise<TokenClaims> => {
      let headerKid: string | undefined;
      try {
        headerKid = decodeProtectedHeader(token).kid;
      } catch {
        throw new AppError("INVALID_TOKEN");
      }
      const key = headerKid === undefined ? undefined : await keys.find(headerKid);
      if (!key) throw new AppError("INVALID_TOKEN");
      try {
        const { payload } = await jwtVerify(token, key.publicKey, {
          algorithms: ["EdDSA"],
          issuer: ISSUER,
          currentDate: new Date(clock.now()),
          requiredClaims: ["sub", "jti", "iat", "exp"],
        });
        const sub = Number(payload.sub);
        if (!Number.isSafeInteger(sub) || sub <= 0) throw new AppError("INVALID_TOKEN");
        if (typeof payload.typ !== "string" || !["refresh", "access", "sudo", "partial"].includes(payload.typ)) {
          throw new AppError("INVALID_TOKEN");
        }
        if (payload.sid !== undefined && typeof payload.sid !== "string") throw new AppError("INVALID_TOKEN");
        if (payload.typ !== "partial" && payload.sid === undefined) throw new AppError("INVALID_TOKEN");
        const gen = payload.gen;
        if (gen !== undefined && !(typeof gen === "number" && Number.isSafeInteger(gen) && gen >= 0)) {
          throw new AppError("INVALID_TOKEN");
        }
        return {
          sub,
          sid: payload.sid,
          jti: String(payload.jti),
          typ: payload.typ as TokenClaims["typ"],
          iat: Number(payload.iat),
          exp: Number(payload.exp),
          gen,
        };
      } catch (error) {
        if (error instanceof AppError) throw error;
        if (error instanceof errors.JWTExpired) throw new AppError("TOKEN_EXPIRED");
        throw new AppError("INVALID_TOKEN");
      }
    };
    const results: Record<string, [unknown, unknown]> = {};
    for (const [name, token] of Object.entries(cases)) {
      const fresh = new TokenService(keys, ISSUER, clock, secureRandom);
      results[name] = [await outcome(fresh.verify(token)), await outcome(previous(token))];
    }
    for (const [name, [now, before]] of Object.entries(results)) expect(now, name).toEqual(before);
    expect(results.valid?.[0]).toMatchObject({ sub: 7, typ: "access" });
    expect(results["nbf past"]?.[0]).toMatchObject({ sub: 7 });
    expect(results["exp now"]?.[0]).toBe("TOKEN_EXPIRED");
    expect(results["alg none"]?.[0]).toBe("INVALID_TOKEN");
  });

  it("refuses padded or non-canonical base64url that jose would have decoded leniently", async () => {
    const token = signed({ alg: "EdDSA", kid, typ: "JWT" }, claims(), privateKey);
    const [h, p, s] = token.split(".") as [string, string, string];
    for (const variant of [`${h}.${p}.${s}==`, `${h}.${p}.${s.slice(0, 40)}+${s.slice(41)}`, `${h}.${p}.${s}\n`]) {
      expect(await outcome(service.verify(variant))).toBe("INVALID_TOKEN");
    }
  });

  it("refuses a token longer than 4 kB before parsing it", async () => {
    expect(await outcome(service.verify("a".repeat(4097)))).toBe("INVALID_TOKEN");
  });
});
