import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, ERROR_STRINGS } from "../src/core/errors.js";

const doc = readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8");
const rows = [...doc.matchAll(/^\|\s*`([A-Z0-9_]+)`\s*\|\s*(\d{3})\s*\|\s*([^|]+?)\s*\|/gm)].map((m) => ({
  code: m[1],
  status: Number(m[2]),
  error: m[3]?.trim(),
}));

describe("docs/errors.md", () => {
  it("lists every registry code with its status and error string, and nothing else", () => {
    const expected = Object.entries(ERROR_CODES).map(([code, { status }]) => ({
      code,
      status,
      error: ERROR_STRINGS[status],
    }));
    expect(rows).toEqual(expected);
  });

  it("uses only the contract's error strings for the contract's statuses", () => {
    expect(ERROR_STRINGS).toMatchObject({
      400: "Bad Request",
      401: "Unauthorized",
      403: "Forbidden",
      404: "Not Found",
      409: "Conflict",
      429: "Too many requests",
      500: "Internal server error",
    });
  });
});
