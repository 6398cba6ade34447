import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import type { Random } from "../../platform/random.js";
import { secureRandom } from "../../platform/random.js";
import { needsReencrypt, parseKeyring, SecretDecryptError } from "./keyring.js";

const KEY_NEW = Buffer.alloc(32, 0x11).toString("base64");
const KEY_OLD = Buffer.alloc(32, 0x22).toString("base64");
const AAD = "totp:user-1";
const PLAINTEXT = Buffer.from("a TOTP seed, twenty!", "utf8");

/** Flips one bit of the byte at `index` of the sealed body. */
function tamper(sealed: string, index: number): string {
  const [version, kid, body] = sealed.split(".");
  const bytes = Buffer.from(body ?? "", "base64url");
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  return `${version}.${kid}.${bytes.toString("base64url")}`;
}

describe("encrypt / decrypt", () => {
  const keyring = parseKeyring(`main:${KEY_NEW}`);

  it("round-trips, in the v1.<kid>.<base64url> format", () => {
    const sealed = keyring.encrypt(PLAINTEXT, AAD, secureRandom);
    expect(sealed).toMatch(/^v1\.main\.[A-Za-z0-9_-]+$/);
    // 12-byte IV + ciphertext + 16-byte tag.
    expect(Buffer.from(sealed.split(".")[2] ?? "", "base64url")).toHaveLength(12 + PLAINTEXT.length + 16);
    expect(keyring.decrypt(sealed, AAD)).toEqual(PLAINTEXT);
  });

  it("round-trips an empty plaintext", () => {
    expect(keyring.decrypt(keyring.encrypt(Buffer.alloc(0), AAD, secureRandom), AAD)).toEqual(Buffer.alloc(0));
  });

  it("uses a fresh 12-byte IV from the random source for every message", () => {
    const requested: number[] = [];
    let counter = 0;
    const random: Random = {
      bytes: (length) => {
        requested.push(length);
        return Buffer.alloc(length, ++counter);
      },
      int: () => 0,
      uuid: () => "unused",
    };
    const first = keyring.encrypt(PLAINTEXT, AAD, random);
    const second = keyring.encrypt(PLAINTEXT, AAD, random);
    expect(requested).toEqual([12, 12]);
    expect(Buffer.from(first.split(".")[2] ?? "", "base64url").subarray(0, 12)).toEqual(Buffer.alloc(12, 1));
    expect(first).not.toBe(second);
    expect(keyring.decrypt(second, AAD)).toEqual(PLAINTEXT);
  });

  it("does not contain the plaintext, in any encoding", () => {
    const sealed = keyring.encrypt(PLAINTEXT, AAD, secureRandom);
    const body = Buffer.from(sealed.split(".")[2] ?? "", "base64url");
    expect(body.includes(PLAINTEXT)).toBe(false);
    expect(body.includes(PLAINTEXT.subarray(0, 8))).toBe(false);
    expect(sealed).not.toContain(PLAINTEXT.toString("base64url").slice(0, 12));
    expect(sealed).not.toContain(PLAINTEXT.toString("hex").slice(0, 12));
  });

  it("fails with another aad: a ciphertext moved to another user does not open", () => {
    const sealed = keyring.encrypt(PLAINTEXT, "totp:user-1", secureRandom);
    expect(() => keyring.decrypt(sealed, "totp:user-2")).toThrow(SecretDecryptError);
    expect(() => keyring.decrypt(sealed, "")).toThrow(SecretDecryptError);
  });

  it.each([
    ["IV", 0],
    ["ciphertext", 12],
    ["tag", 12 + PLAINTEXT.length + 15],
  ])("fails when one bit of the %s is flipped", (_part, index) => {
    const sealed = keyring.encrypt(PLAINTEXT, AAD, secureRandom);
    expect(() => keyring.decrypt(tamper(sealed, index), AAD)).toThrow(SecretDecryptError);
  });

  it("fails for an unknown kid, even if the key behind it would match", () => {
    const sealed = keyring.encrypt(PLAINTEXT, AAD, secureRandom);
    const elsewhere = parseKeyring(`other:${KEY_NEW}`);
    expect(() => elsewhere.decrypt(sealed, AAD)).toThrow(SecretDecryptError);
  });

  it.each([
    ["empty", ""],
    ["no parts", "garbage"],
    ["wrong version", "v2.main.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
    ["missing body", "v1.main."],
    ["extra part", "v1.main.AAAA.AAAA"],
    ["bad kid", "v1.ma!n.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
    ["non-base64url body", "v1.main.AAAA+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
    ["padded body", "v1.main.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="],
    ["too short for iv and tag", `v1.main.${Buffer.alloc(27).toString("base64url")}`],
  ])("fails on a malformed value (%s)", (_name, sealed) => {
    expect(() => keyring.decrypt(sealed, AAD)).toThrow(SecretDecryptError);
  });

  it("fails on a truncated ciphertext", () => {
    const sealed = keyring.encrypt(PLAINTEXT, AAD, secureRandom);
    expect(() => keyring.decrypt(sealed.slice(0, -4), AAD)).toThrow(SecretDecryptError);
  });

  it("does not reveal key material when inspected", () => {
    const shown = `${JSON.stringify(keyring)} ${inspect(keyring, { depth: 10, showHidden: true })}`;
    expect(shown).toContain("main");
    expect(shown).not.toContain(KEY_NEW);
    expect(shown).not.toContain("11 11 11");
    expect(shown).not.toMatch(/17,\s*17,\s*17/);
  });
});

describe("rotation", () => {
  const oldRing = parseKeyring(`old:${KEY_OLD}`);
  const rotated = parseKeyring(`new:${KEY_NEW},old:${KEY_OLD}`);

  it("encrypts with the first key and decrypts ciphertexts of the older ones", () => {
    const legacy = oldRing.encrypt(PLAINTEXT, AAD, secureRandom);
    expect(rotated.activeKid).toBe("new");
    expect(rotated.kids()).toEqual(["new", "old"]);
    expect(rotated.decrypt(legacy, AAD)).toEqual(PLAINTEXT);
    const fresh = rotated.encrypt(PLAINTEXT, AAD, secureRandom);
    expect(fresh.startsWith("v1.new.")).toBe(true);
    expect(rotated.decrypt(fresh, AAD)).toEqual(PLAINTEXT);
    expect(() => oldRing.decrypt(fresh, AAD)).toThrow(SecretDecryptError);
  });

  it("needsReencrypt is true exactly for ciphertexts under a non-active kid", () => {
    expect(needsReencrypt(oldRing.encrypt(PLAINTEXT, AAD, secureRandom), rotated)).toBe(true);
    expect(needsReencrypt(rotated.encrypt(PLAINTEXT, AAD, secureRandom), rotated)).toBe(false);
    expect(() => needsReencrypt("not sealed", rotated)).toThrow(SecretDecryptError);
  });

  it("a kid's key cannot be swapped: same kid with another key fails", () => {
    const sealed = parseKeyring(`k:${KEY_OLD}`).encrypt(PLAINTEXT, AAD, secureRandom);
    expect(() => parseKeyring(`k:${KEY_NEW}`).decrypt(sealed, AAD)).toThrow(SecretDecryptError);
  });
});

describe("parseKeyring", () => {
  it("accepts surrounding whitespace around entries", () => {
    const keyring = parseKeyring(` a:${KEY_NEW} , b_2-X:${KEY_OLD}\n`);
    expect(keyring.kids()).toEqual(["a", "b_2-X"]);
  });

  it.each([
    ["an empty value", "", /empty/],
    ["a blank value", "  ", /empty/],
    ["an entry without a colon", KEY_NEW, /entry 1 is not of the form kid:base64key/],
    ["an empty entry", `a:${KEY_NEW},`, /entry 2 is not of the form/],
    ["an empty kid", `:${KEY_NEW}`, /entry 1 has an invalid kid/],
    ["a kid with a dot", `a.b:${KEY_NEW}`, /invalid kid/],
    ["a kid of 33 characters", `${"k".repeat(33)}:${KEY_NEW}`, /invalid kid/],
    ["a duplicate kid", `a:${KEY_NEW},a:${KEY_OLD}`, /entry 2 repeats kid "a"/],
    ["a 16-byte key", `a:${Buffer.alloc(16, 3).toString("base64")}`, /must be 32 bytes, got 16/],
    ["a 33-byte key", `a:${Buffer.alloc(33, 3).toString("base64")}`, /must be 32 bytes, got 33/],
    ["a key with stray characters", `a:${KEY_NEW.slice(0, 20)}!${KEY_NEW.slice(21)}`, /not valid/],
    ["a base64url key", `a:${Buffer.alloc(32, 0xfb).toString("base64url")}`, /not valid/],
    ["an empty key", "a:", /not valid/],
  ])("refuses %s", (_name, value, message) => {
    expect(() => parseKeyring(value)).toThrow(message);
  });

  it("never echoes key material in its errors", () => {
    const secretish = Buffer.alloc(31, 0x5a).toString("base64");
    const attempts = [secretish, `a:${secretish}`, `a:${KEY_NEW},a:${KEY_OLD}`, `a:${KEY_NEW}x`];
    for (const value of attempts) {
      let message = "";
      try {
        parseKeyring(value);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).not.toBe("");
      for (const fragment of [secretish.slice(0, 8), KEY_NEW.slice(0, 8), KEY_OLD.slice(0, 8)]) {
        expect(message).not.toContain(fragment);
      }
    }
  });
});

describe("macKey", () => {
  const keyring = parseKeyring(`new:${KEY_NEW},old:${KEY_OLD}`);

  it("derives a 32-byte key per purpose and per kid, deterministically", () => {
    const a = keyring.macKey("recovery");
    expect(a.kid).toBe("new");
    expect(a.key).toHaveLength(32);
    expect(keyring.macKey("recovery").key).toEqual(a.key);
    expect(keyring.macKey("mail-code").key).not.toEqual(a.key);
    expect(keyring.macKey("recovery", "old").key).not.toEqual(a.key);
    expect(a.key.equals(Buffer.from(KEY_NEW, "base64"))).toBe(false);
  });

  it("refuses an unknown kid", () => {
    expect(() => keyring.macKey("recovery", "gone")).toThrow(SecretDecryptError);
  });
});
