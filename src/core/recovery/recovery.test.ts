import { describe, expect, it } from "vitest";
import type { Random } from "../../platform/random.js";
import { secureRandom } from "../../platform/random.js";
import {
  generateRecoveryCodes,
  hashRecoveryCode,
  normaliseRecoveryCode,
  RECOVERY_ALPHABET,
  RECOVERY_CODE_LENGTH,
} from "./recovery.js";

/** Returns the given integers in turn (cycling) and records every bound it was asked for. */
function scriptedRandom(values: number[]): Random & { bounds: number[] } {
  let index = 0;
  const bounds: number[] = [];
  return {
    bounds,
    bytes: () => {
      throw new Error("not expected");
    },
    int: (maxExclusive) => {
      bounds.push(maxExclusive);
      const value = values[index % values.length] ?? 0;
      index++;
      return value;
    },
    uuid: () => "unused",
  };
}

const KEY_A = Buffer.alloc(32, 0xa1);
const KEY_B = Buffer.alloc(32, 0xb2);

describe("alphabet", () => {
  it("has no ambiguous characters and 31 distinct symbols", () => {
    for (const ambiguous of "0O1IL") expect(RECOVERY_ALPHABET).not.toContain(ambiguous);
    expect(new Set(RECOVERY_ALPHABET).size).toBe(31);
    expect(RECOVERY_ALPHABET).toMatch(/^[A-Z2-9]+$/);
  });
});

describe("generateRecoveryCodes", () => {
  it("makes 10 codes of 16 alphabet characters by default", () => {
    const codes = generateRecoveryCodes(secureRandom);
    expect(codes).toHaveLength(10);
    for (const code of codes) expect(code).toMatch(/^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{16}$/);
  });

  it("honours count", () => {
    expect(generateRecoveryCodes(secureRandom, 3)).toHaveLength(3);
    expect(() => generateRecoveryCodes(secureRandom, 0)).toThrow(RangeError);
  });

  it("draws each symbol with random.int(alphabet length), mapping index i to alphabet[i]", () => {
    const random = scriptedRandom(Array.from({ length: 32 }, (_, i) => i % 31));
    const [first, second] = generateRecoveryCodes(random, 2);
    expect(random.bounds).toEqual(Array(32).fill(31));
    expect(first).toBe(RECOVERY_ALPHABET.slice(0, 16));
    expect(second).toBe(RECOVERY_ALPHABET.slice(16) + RECOVERY_ALPHABET.slice(0, 1));
  });

  it("never returns duplicates, and gives up on a random source that only repeats", () => {
    const stuck = scriptedRandom([5]);
    expect(() => generateRecoveryCodes(stuck, 2)).toThrow(/repeating/);
    // A source that repeats once: the duplicate is replaced, not returned.
    const onceRepeating = scriptedRandom([...Array(16).fill(0), ...Array(16).fill(0), ...Array(16).fill(1)]);
    expect(generateRecoveryCodes(onceRepeating, 2)).toEqual(["A".repeat(16), "B".repeat(16)]);
  });

  it("produces distinct codes over many draws", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) for (const code of generateRecoveryCodes(secureRandom)) seen.add(code);
    expect(seen.size).toBe(2000);
  });

  it("uses every symbol in every position with real randomness", () => {
    const perPosition = Array.from({ length: RECOVERY_CODE_LENGTH }, () => new Set<string>());
    for (let i = 0; i < 100; i++) {
      for (const code of generateRecoveryCodes(secureRandom)) {
        for (const [position, char] of [...code].entries()) perPosition[position]?.add(char);
      }
    }
    // 1000 draws per position: missing one of 31 symbols has probability ≈ 31·(30/31)^1000 ≈ 2e-13.
    for (const symbols of perPosition) expect(symbols.size).toBe(31);
  });
});

describe("normaliseRecoveryCode", () => {
  const code = "ABCD2345EFGH6789";

  it("accepts the plain code", () => {
    expect(normaliseRecoveryCode(code)).toBe(code);
  });

  it("upper-cases and strips spaces and dashes", () => {
    expect(normaliseRecoveryCode("abcd2345efgh6789")).toBe(code);
    expect(normaliseRecoveryCode("abcd-2345-efgh-6789")).toBe(code);
    expect(normaliseRecoveryCode(" ABCD 2345\tefgh-6789 \n")).toBe(code);
    expect(normaliseRecoveryCode("AbCd--2345  EfGh6789")).toBe(code);
  });

  it("refuses ambiguous characters instead of guessing", () => {
    for (const ambiguous of ["0", "O", "o", "1", "I", "i", "L", "l"]) {
      expect(normaliseRecoveryCode(`${ambiguous}BCD2345EFGH6789`), ambiguous).toBeNull();
    }
  });

  it("refuses the wrong length and foreign characters", () => {
    expect(normaliseRecoveryCode("")).toBeNull();
    expect(normaliseRecoveryCode("ABCD2345EFGH678")).toBeNull();
    expect(normaliseRecoveryCode("ABCD2345EFGH67899")).toBeNull();
    expect(normaliseRecoveryCode("ABCD2345EFGH678_")).toBeNull();
    expect(normaliseRecoveryCode("ABCD2345EFGH678É")).toBeNull();
    expect(normaliseRecoveryCode("ABCD.2345.EFGH.6789")).toBeNull();
  });
});

describe("hashRecoveryCode", () => {
  const code = "ABCD2345EFGH6789";

  it("is a deterministic hex HMAC-SHA-256 per key", () => {
    const hash = hashRecoveryCode(KEY_A, code);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hashRecoveryCode(KEY_A, code)).toBe(hash);
  });

  it("is HMAC-SHA-256 over the ASCII code, hex encoded", () => {
    // Expected values computed independently (Python hmac). Pinned so that a change of algorithm or
    // encoding, which would orphan every stored hash, cannot go unnoticed.
    expect(hashRecoveryCode(KEY_A, code)).toBe("33dd8d39a46c70abe07c1a1d92937bcdf0b93476a5f24c91f2a573615ae44ad5");
    expect(hashRecoveryCode(Buffer.alloc(32, 0), "AAAAAAAAAAAAAAAA")).toBe(
      "4a81d613b00e919e8ad9637888e6a4fe08224ab6484b0a3747a6a662b6a2990d",
    );
  });

  it("differs across keys and across codes", () => {
    expect(hashRecoveryCode(KEY_A, code)).not.toBe(hashRecoveryCode(KEY_B, code));
    expect(hashRecoveryCode(KEY_A, code)).not.toBe(hashRecoveryCode(KEY_A, "ABCD2345EFGH678A"));
  });

  it("refuses an unnormalised code and a short key", () => {
    expect(() => hashRecoveryCode(KEY_A, "abcd2345efgh6789")).toThrow(RangeError);
    expect(() => hashRecoveryCode(KEY_A, "ABCD-2345-EFGH-6789")).toThrow(RangeError);
    expect(() => hashRecoveryCode(Buffer.alloc(16), code)).toThrow(RangeError);
  });
});
