import { generateKeyPairSync, sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sameLengthConstantTimeEqual, verifyEd25519 } from "./crypto.js";

describe("verifyEd25519", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const data = Buffer.from("header.payload");
  const signature = sign(null, data, privateKey);

  it("accepts the signature of the key's pair over the same bytes only", () => {
    expect(verifyEd25519(publicKey, data, signature)).toBe(true);
    expect(verifyEd25519(publicKey, Buffer.from("header.payloaD"), signature)).toBe(false);
    expect(verifyEd25519(generateKeyPairSync("ed25519").publicKey, data, signature)).toBe(false);
    const flipped = Buffer.from(signature);
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(verifyEd25519(publicKey, data, flipped)).toBe(false);
  });

  it("is false, never a throw, for a signature of the wrong length or a key of another kind", () => {
    expect(verifyEd25519(publicKey, data, signature.subarray(0, 63))).toBe(false);
    expect(verifyEd25519(publicKey, data, Buffer.concat([signature, Buffer.alloc(1)]))).toBe(false);
    expect(verifyEd25519(privateKey, data, signature)).toBe(false);
    expect(verifyEd25519(generateKeyPairSync("x25519").publicKey, data, signature)).toBe(false);
    expect(verifyEd25519(generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey, data, signature)).toBe(false);
  });
});

describe("sameLengthConstantTimeEqual", () => {
  it("is true for equal strings only, whatever position differs", () => {
    const token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
    expect(sameLengthConstantTimeEqual(token, `${token}`)).toBe(true);
    expect(sameLengthConstantTimeEqual("", "")).toBe(true);
    for (const position of [0, 10, token.length - 1]) {
      const other = `${token.slice(0, position)}${token[position] === "x" ? "y" : "x"}${token.slice(position + 1)}`;
      expect(sameLengthConstantTimeEqual(token, other)).toBe(false);
    }
    expect(sameLengthConstantTimeEqual(token, token.slice(1))).toBe(false);
    expect(sameLengthConstantTimeEqual("é", "e")).toBe(false);
  });
});
