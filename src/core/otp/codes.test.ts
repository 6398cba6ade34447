import { describe, expect, it } from "vitest";
import type { Random } from "../../platform/random.js";
import { generateMailCode, hashMailCode } from "./codes.js";

const fixed = (value: number): Random => ({
  bytes: (length) => Buffer.alloc(length),
  int: () => value,
  uuid: () => "00000000-0000-4000-8000-000000000000",
});

describe("mail codes", () => {
  it("are six digits drawn with one uniform integer below 10^6, zero-padded", () => {
    const bounds: number[] = [];
    const spy: Random = {
      ...fixed(42),
      int: (max) => {
        bounds.push(max);
        return 42;
      },
    };
    expect(generateMailCode(spy)).toBe("000042");
    expect(bounds).toEqual([1_000_000]);
    expect(generateMailCode(fixed(999_999))).toBe("999999");
  });

  it("refuses an out-of-range random integer", () => {
    expect(() => generateMailCode(fixed(1_000_000))).toThrow(/out-of-range/);
    expect(() => generateMailCode(fixed(-1))).toThrow(/out-of-range/);
  });

  it("hash differently per key, purpose, subject and code", () => {
    const key = Buffer.alloc(32, 1);
    const base = hashMailCode(key, { purpose: "password-reset", subject: "email:a@example.com" }, "123456");
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    const variants = [
      hashMailCode(Buffer.alloc(32, 2), { purpose: "password-reset", subject: "email:a@example.com" }, "123456"),
      hashMailCode(key, { purpose: "email-transfer", subject: "email:a@example.com" }, "123456"),
      hashMailCode(key, { purpose: "password-reset", subject: "email:b@example.com" }, "123456"),
      hashMailCode(key, { purpose: "password-reset", subject: "email:a@example.com" }, "123457"),
    ];
    for (const variant of variants) expect(variant).not.toBe(base);
  });
});
