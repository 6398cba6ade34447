import { describe, expect, it } from "vitest";
import { CompactStringSet } from "./compact-set.js";

describe("CompactStringSet", () => {
  it("answers membership exactly like a Set, over many strings of every length", () => {
    const items = Array.from({ length: 5000 }, (_, i) => `${(i * 7919) % 10007}.example${"x".repeat(i % 5)}`);
    const compact = new CompactStringSet(items);
    const plain = new Set(items);
    expect(compact.size).toBe(plain.size);
    for (const item of items) expect(compact.has(item)).toBe(true);
    for (const probe of ["", "x", "0.example", "10006.examplexxxx", "zzz", "1.exampl", "1.examplex"]) {
      expect(compact.has(probe)).toBe(plain.has(probe));
    }
  });

  it("keeps strings that are prefixes of one another, empty and non-ASCII ones apart", () => {
    const compact = new CompactStringSet(["mail.com", "mail.co", "mail", "", "ñandú.example", "mail.com"]);
    expect(compact.size).toBe(5);
    for (const item of ["mail.com", "mail.co", "mail", "", "ñandú.example"]) expect(compact.has(item)).toBe(true);
    for (const item of ["mail.c", "mail.comm", "ma", "nandu.example"]) expect(compact.has(item)).toBe(false);
  });

  it("is empty when given nothing", () => {
    const compact = new CompactStringSet([]);
    expect(compact.size).toBe(0);
    expect(compact.has("")).toBe(false);
  });
});
