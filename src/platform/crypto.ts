import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  timingSafeEqual,
  verify,
} from "node:crypto";

/** Constant-time equality of two strings; unequal lengths compare a digest so timing does not reveal length. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = createHash("sha256").update(a).digest();
  const right = createHash("sha256").update(b).digest();
  return timingSafeEqual(left, right) && a.length === b.length;
}

/**
 * Equality of two strings in a time that depends on their length alone, without hashing them: for a
 * hot path whose strings have a public length (tokens of one format). Unequal lengths answer at once.
 */
export function sameLengthConstantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

export function sha256Hex(input: string | Buffer): string {
  return createHash("sha256").update(input).digest("hex");
}

export function hmacSha256(key: Buffer, input: string): Buffer {
  return createHmac("sha256", key).update(input).digest();
}

export function hmacSha256Hex(key: Buffer, input: string): string {
  return createHmac("sha256", key).update(input).digest("hex");
}

/** A key pair as PEM: PKCS#8 private, SPKI public. */
export interface KeyPairPem {
  privatePem: string;
  publicPem: string;
}

export function generateEd25519(): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privatePem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    publicPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
  };
}

/** RSA, 2048 bits (RS256, as OpenID Connect requires of a provider): ~0.1 s of a core to make. */
export function generateRsa(): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    publicPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
  };
}

export function privateKeyFromPem(pem: string): KeyObject {
  return createPrivateKey(pem);
}

export function publicKeyFromPem(pem: string): KeyObject {
  return createPublicKey(pem);
}

const ED25519_SIGNATURE_BYTES = 64;

/**
 * Ed25519 (RFC 8032) verification with a public KeyObject, synchronously in OpenSSL: about half the
 * cost of the same check through WebCrypto. False for a wrong signature, a signature of the wrong
 * length, or a key that is not an Ed25519 public key; never throws.
 */
export function verifyEd25519(publicKey: KeyObject, data: Buffer, signature: Buffer): boolean {
  if (signature.length !== ED25519_SIGNATURE_BYTES) return false;
  if (publicKey.type !== "public" || publicKey.asymmetricKeyType !== "ed25519") return false;
  try {
    return verify(null, data, publicKey, signature);
  } catch {
    return false;
  }
}

/**
 * Ed25519 (RFC 8032) signature with a private KeyObject, synchronously in OpenSSL (~50 µs): WebCrypto
 * would queue it on libuv's thread pool, behind password hashes under a login load.
 */
export function signEd25519(privateKey: KeyObject, data: Buffer): Buffer {
  return sign(null, data, privateKey);
}

const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;

/** AES-256-GCM: returns iv ‖ ciphertext ‖ tag. `aad` binds the ciphertext to its context. */
export function aesGcmEncrypt(key: Buffer, iv: Buffer, plaintext: Buffer, aad: string): Buffer {
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

/** Throws when the ciphertext, tag or aad does not check out. */
export function aesGcmDecrypt(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < GCM_IV_BYTES + GCM_TAG_BYTES) throw new Error("ciphertext too short");
  const iv = sealed.subarray(0, GCM_IV_BYTES);
  const tag = sealed.subarray(sealed.length - GCM_TAG_BYTES);
  const body = sealed.subarray(GCM_IV_BYTES, sealed.length - GCM_TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key, iv);
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(body), decipher.final()]);
}

export type { KeyObject };
