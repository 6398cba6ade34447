/**
 * Encryption of secrets at rest (TOTP seeds) with AES-256-GCM and named keys, so keys can rotate.
 *
 * Config: `LATCHKEY_ENCRYPTION_KEYS=kid:base64key[,kid:base64key…]`, each key 32 bytes in standard
 * base64 (`openssl rand -base64 32`). The first key encrypts; all of them decrypt, so an old key
 * stays listed until `needsReencrypt` finds no ciphertext left under it.
 *
 * Sealed format: `v1.<kid>.<base64url(iv ‖ ciphertext ‖ tag)>`, 12-byte random IV and 16-byte tag
 * (NIST SP 800-38D). A kid cannot contain ".", so the three parts split unambiguously.
 */
import { aesGcmDecrypt, aesGcmEncrypt, hmacSha256 } from "../../platform/crypto.js";
import type { Random } from "../../platform/random.js";

const VERSION = "v1";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]+$/;

export interface Keyring {
  /** The kid new ciphertexts are sealed under (the first configured key). */
  readonly activeKid: string;
  /** `aad` binds the ciphertext to its owner (e.g. `totp:<userId>`); decrypt must pass the same. */
  encrypt(plaintext: Buffer, aad: string, random: Random): string;
  /** Throws SecretDecryptError for a bad format, an unknown kid, or a failed authentication. */
  decrypt(sealed: string, aad: string): Buffer;
  kids(): string[];
  /**
   * A 32-byte key for keyed hashes (recovery codes, mailed codes), derived from key `kid` (default:
   * the active one) and bound to `purpose`, so one configured secret serves every use separately.
   */
  macKey(purpose: string, kid?: string): { kid: string; key: Buffer };
}

/** One error for every decryption failure, so callers (and attackers) cannot tell the causes apart. */
export class SecretDecryptError extends Error {
  constructor() {
    super("secret cannot be decrypted");
    this.name = "SecretDecryptError";
  }
}

/** Parses the config value. Messages name the entry and kid, never the key material. */
export function parseKeyring(value: string): Keyring {
  const entries = value.split(",").map((entry) => entry.trim());
  if (entries.length === 1 && entries[0] === "") throw new Error("encryption keyring is empty: expected kid:base64key");
  const keys = new Map<string, Buffer>();
  entries.forEach((entry, index) => {
    const position = `encryption key entry ${index + 1}`;
    const colon = entry.indexOf(":");
    if (colon < 0) throw new Error(`${position} is not of the form kid:base64key`);
    const kid = entry.slice(0, colon);
    const encoded = entry.slice(colon + 1);
    if (!KID_PATTERN.test(kid)) throw new Error(`${position} has an invalid kid (1-32 of A-Z a-z 0-9 _ -)`);
    if (keys.has(kid)) throw new Error(`${position} repeats kid "${kid}"`);
    const key = decodeStrict(encoded, BASE64_PATTERN, "base64");
    if (key === null) throw new Error(`${position} (kid "${kid}") is not valid padded standard base64`);
    if (key.length !== KEY_BYTES) {
      throw new Error(`${position} (kid "${kid}") must be ${KEY_BYTES} bytes, got ${key.length}`);
    }
    keys.set(kid, key);
  });
  return new AesGcmKeyring(keys);
}

/** True when `sealed` is under a key other than the active one. Throws SecretDecryptError if malformed. */
export function needsReencrypt(sealed: string, keyring: Keyring): boolean {
  return parseSealed(sealed).kid !== keyring.activeKid;
}

class AesGcmKeyring implements Keyring {
  // A private field: keys do not show up in console.log, JSON.stringify or error reports.
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly activeKid: string;

  constructor(keys: ReadonlyMap<string, Buffer>) {
    const first = keys.keys().next();
    if (first.done) throw new Error("encryption keyring is empty");
    this.#keys = keys;
    this.activeKid = first.value;
  }

  encrypt(plaintext: Buffer, aad: string, random: Random): string {
    const key = this.#keys.get(this.activeKid);
    if (key === undefined) throw new Error("active key is missing");
    // A fresh random 96-bit IV per message (SP 800-38D §8.2.2); IV reuse under one key breaks GCM.
    const iv = random.bytes(IV_BYTES);
    if (iv.length !== IV_BYTES) throw new Error("random source returned the wrong number of bytes");
    const body = aesGcmEncrypt(key, iv, plaintext, aad);
    return `${VERSION}.${this.activeKid}.${body.toString("base64url")}`;
  }

  decrypt(sealed: string, aad: string): Buffer {
    const { kid, body } = parseSealed(sealed);
    const key = this.#keys.get(kid);
    if (key === undefined) throw new SecretDecryptError();
    try {
      return aesGcmDecrypt(key, body, aad);
    } catch {
      throw new SecretDecryptError();
    }
  }

  kids(): string[] {
    return [...this.#keys.keys()];
  }

  macKey(purpose: string, kid: string = this.activeKid): { kid: string; key: Buffer } {
    const key = this.#keys.get(kid);
    if (key === undefined) throw new SecretDecryptError();
    return { kid, key: hmacSha256(key, `latchkey-mac-key:${purpose}`) };
  }
}

function parseSealed(sealed: string): { kid: string; body: Buffer } {
  const parts = sealed.split(".");
  if (parts.length !== 3) throw new SecretDecryptError();
  const [version, kid, encoded] = parts as [string, string, string];
  if (version !== VERSION || !KID_PATTERN.test(kid)) throw new SecretDecryptError();
  const body = decodeStrict(encoded, BASE64URL_PATTERN, "base64url");
  if (body === null || body.length < IV_BYTES + TAG_BYTES) throw new SecretDecryptError();
  return { kid, body };
}

/**
 * Node's base64 decoder skips characters it does not know; insisting that the value re-encodes to
 * itself rejects typos and truncation instead of quietly decoding something else.
 */
function decodeStrict(encoded: string, pattern: RegExp, encoding: "base64" | "base64url"): Buffer | null {
  if (!pattern.test(encoded)) return null;
  const decoded = Buffer.from(encoded, encoding);
  return decoded.toString(encoding) === encoded ? decoded : null;
}
