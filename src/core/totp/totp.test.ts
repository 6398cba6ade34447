import { HOTP, Secret, TOTP, URI } from "otpauth";
import { describe, expect, it } from "vitest";
import type { Random } from "../../platform/random.js";
import { generateTotpSecret, matchTotp, totpStep, totpUrl } from "./totp.js";

/** RFC 6238 Appendix B / RFC 4226 Appendix D seed for SHA-1. */
const RFC_SEED = Buffer.from("12345678901234567890", "ascii");
const rfcSecret = () => Secret.fromLatin1("12345678901234567890");

/** A code for `step` from the library, whose correctness the RFC vectors below pin down. */
function codeAt(secret: Buffer, step: number): string {
  return HOTP.generate({ secret: new Secret({ buffer: Uint8Array.from(secret).buffer }), counter: step });
}

describe("otpauth against the RFC test vectors", () => {
  it.each([
    [59, "94287082"],
    [1111111109, "07081804"],
    [1111111111, "14050471"],
    [1234567890, "89005924"],
    [2000000000, "69279037"],
    [20000000000, "65353130"],
  ])("RFC 6238 Appendix B, SHA-1, T=%i → %s", (seconds, expected) => {
    const code = TOTP.generate({
      secret: rfcSecret(),
      algorithm: "SHA1",
      digits: 8,
      period: 30,
      timestamp: seconds * 1000,
    });
    expect(code).toBe(expected);
  });

  it.each([
    [0, "755224"],
    [1, "287082"],
    [2, "359152"],
    [3, "969429"],
    [4, "338314"],
    [5, "254676"],
    [6, "287922"],
    [7, "162583"],
    [8, "399871"],
    [9, "520489"],
  ])("RFC 4226 Appendix D, counter %i → %s", (counter, expected) => {
    expect(HOTP.generate({ secret: rfcSecret(), algorithm: "SHA1", digits: 6, counter })).toBe(expected);
  });
});

describe("matchTotp", () => {
  // Appendix D codes double as TOTP codes: counter c is the step that covers [30c, 30c + 30) seconds.
  it("accepts the RFC 4226 code of the current step", () => {
    expect(matchTotp({ secret: RFC_SEED, code: "969429", nowMs: 3 * 30_000 + 12_345, lastUsedStep: null })).toEqual({
      step: 3,
    });
  });

  it("does not depend on the secret Buffer being a view into a shared pool", () => {
    // Small Buffers are often slices of a larger ArrayBuffer; only the view's bytes are the secret.
    const view = Buffer.alloc(64, 0xff).subarray(7, 27);
    RFC_SEED.copy(view);
    expect(matchTotp({ secret: view, code: "969429", nowMs: 3 * 30_000, lastUsedStep: null })).toEqual({ step: 3 });
  });

  const secret = Buffer.from("8f0c3a1be2d94c7711aa6e5b0d3c9f2e41b7a6c0", "hex");
  const nowMs = Date.UTC(2026, 0, 1, 12, 0, 10);
  const now = totpStep(nowMs);

  it("computes the step as floor(unix seconds / 30)", () => {
    expect(now).toBe(Math.floor(nowMs / 1000 / 30));
    expect(totpStep(29_999)).toBe(0);
    expect(totpStep(30_000)).toBe(1);
  });

  it.each([
    ["previous", -1],
    ["current", 0],
    ["next", 1],
  ])("accepts the %s step and returns it", (_name, offset) => {
    const code = codeAt(secret, now + offset);
    expect(matchTotp({ secret, code, nowMs, lastUsedStep: null })).toEqual({ step: now + offset });
  });

  it.each([-2, 2, -3, 3])("refuses the code of step now%+i", (offset) => {
    const code = codeAt(secret, now + offset);
    // Make sure the refusal is about the step, not an accidental collision with a window code.
    for (const inWindow of [-1, 0, 1]) expect(codeAt(secret, now + inWindow)).not.toBe(code);
    expect(matchTotp({ secret, code, nowMs, lastUsedStep: null })).toBeNull();
  });

  it("refuses a code once its step was used (replay, RFC 6238 §5.2)", () => {
    const code = codeAt(secret, now);
    const first = matchTotp({ secret, code, nowMs, lastUsedStep: null });
    expect(first).toEqual({ step: now });
    expect(matchTotp({ secret, code, nowMs, lastUsedStep: now })).toBeNull();
    // Still refused 30 s later, when the step is "previous".
    expect(matchTotp({ secret, code, nowMs: nowMs + 30_000, lastUsedStep: now })).toBeNull();
  });

  it("refuses a step earlier than the last used one", () => {
    expect(matchTotp({ secret, code: codeAt(secret, now - 1), nowMs, lastUsedStep: now })).toBeNull();
    expect(matchTotp({ secret, code: codeAt(secret, now), nowMs, lastUsedStep: now + 1 })).toBeNull();
  });

  it("accepts a step just after the last used one", () => {
    expect(matchTotp({ secret, code: codeAt(secret, now), nowMs, lastUsedStep: now - 1 })).toEqual({ step: now });
    expect(matchTotp({ secret, code: codeAt(secret, now + 1), nowMs, lastUsedStep: now })).toEqual({
      step: now + 1,
    });
  });

  it("refuses a code from another secret", () => {
    const other = Buffer.from("00112233445566778899aabbccddeeff00112233", "hex");
    const code = codeAt(other, now);
    for (const inWindow of [-1, 0, 1]) expect(codeAt(secret, now + inWindow)).not.toBe(code);
    expect(matchTotp({ secret, code, nowMs, lastUsedStep: null })).toBeNull();
  });

  it("returns the highest step when one code matches two steps, so it cannot be replayed", () => {
    // Found offline: for the RFC seed, steps 57017782 and 57017784 both yield 882938.
    expect(codeAt(RFC_SEED, 57017782)).toBe("882938");
    expect(codeAt(RFC_SEED, 57017784)).toBe("882938");
    const collisionNow = 57017783 * 30_000;
    const accepted = matchTotp({ secret: RFC_SEED, code: "882938", nowMs: collisionNow, lastUsedStep: null });
    expect(accepted).toEqual({ step: 57017784 });
    expect(matchTotp({ secret: RFC_SEED, code: "882938", nowMs: collisionNow, lastUsedStep: 57017784 })).toBeNull();
  });

  it("refuses anything that is not exactly six ASCII digits", () => {
    const code = codeAt(secret, now);
    const malformed = [
      "",
      code.slice(0, 5),
      `${code}0`,
      ` ${code}`,
      `${code} `,
      `${code}\n`,
      `${code.slice(0, 3)} ${code.slice(3)}`,
      `${code.slice(0, 5)}a`,
      "abcdef",
      "+12345",
      "-12345",
      "１２３４５６", // full-width digits
      "١٢٣٤٥٦", // Arabic-Indic digits
    ];
    for (const input of malformed) {
      expect(matchTotp({ secret, code: input, nowMs, lastUsedStep: null }), JSON.stringify(input)).toBeNull();
    }
  });

  it("refuses a secret shorter than 128 bits (RFC 4226 §4, R6)", () => {
    expect(() => matchTotp({ secret: Buffer.alloc(15), code: "123456", nowMs, lastUsedStep: null })).toThrow(
      RangeError,
    );
  });
});

describe("generateTotpSecret", () => {
  it("takes 20 bytes from the random source", () => {
    const requested: number[] = [];
    const random: Random = {
      bytes: (length) => {
        requested.push(length);
        return Buffer.alloc(length, 7);
      },
      int: () => 0,
      uuid: () => "unused",
    };
    expect(generateTotpSecret(random)).toEqual(Buffer.alloc(20, 7));
    expect(requested).toEqual([20]);
  });
});

describe("totpUrl", () => {
  it("has the documented shape and parameter order", () => {
    expect(totpUrl({ secret: RFC_SEED, issuer: "Latchkey", account: "alice@example.com" })).toBe(
      "otpauth://totp/Latchkey:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" +
        "&issuer=Latchkey&algorithm=SHA1&digits=6&period=30",
    );
  });

  it("URI-encodes issuer and account, and parses back to the same settings", () => {
    const url = totpUrl({ secret: RFC_SEED, issuer: "Acme & Co", account: "bob smith+2fa@example.com" });
    expect(url.startsWith("otpauth://totp/Acme%20%26%20Co:bob%20smith%2B2fa%40example.com?")).toBe(true);
    expect(url).toContain("&issuer=Acme%20%26%20Co&");
    const parsed = URI.parse(url);
    expect(parsed).toBeInstanceOf(TOTP);
    expect(parsed.issuer).toBe("Acme & Co");
    expect(parsed.label).toBe("bob smith+2fa@example.com");
    expect(parsed.secret.hex).toBe(RFC_SEED.toString("hex"));
    expect(parsed.algorithm).toBe("SHA1");
    expect(parsed.digits).toBe(6);
    expect((parsed as TOTP).period).toBe(30);
  });

  it("refuses an issuer with a colon, and empty names", () => {
    expect(() => totpUrl({ secret: RFC_SEED, issuer: "a:b", account: "x" })).toThrow(RangeError);
    expect(() => totpUrl({ secret: RFC_SEED, issuer: "", account: "x" })).toThrow(RangeError);
    expect(() => totpUrl({ secret: RFC_SEED, issuer: "a", account: "" })).toThrow(RangeError);
  });
});
