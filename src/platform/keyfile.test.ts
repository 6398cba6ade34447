import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadOrCreateKeyFile } from "./keyfile.js";
import { type Random, secureRandom } from "./random.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "latchkey-keyfile-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const posix = process.platform !== "win32";

describe("loadOrCreateKeyFile", () => {
  it("creates a 0600 file (and its parent dirs) holding one valid 32-byte key", () => {
    const path = join(dir, "nested", "deeper", "keys");
    const value = loadOrCreateKeyFile(path, secureRandom);
    expect(value).toMatch(/^k[0-9a-f]{8}:[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(value.slice(value.indexOf(":") + 1), "base64")).toHaveLength(32);
    expect(readFileSync(path, "utf8").trim()).toBe(value);
    if (posix) {
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, "nested")).mode & 0o077).toBe(0);
    }
    // No temporary file is left behind.
    expect(readdirSync(join(dir, "nested", "deeper"))).toEqual(["keys"]);
  });

  it("returns the same value on the second call instead of generating a new key", () => {
    const path = join(dir, "keys");
    const first = loadOrCreateKeyFile(path, secureRandom);
    expect(loadOrCreateKeyFile(path, secureRandom)).toBe(first);
  });

  it("reads an existing keyring written by an operator, trimming the trailing newline", () => {
    const path = join(dir, "keys");
    const ring = `new:${Buffer.alloc(32, 1).toString("base64")},old:${Buffer.alloc(32, 2).toString("base64")}`;
    writeFileSync(path, `${ring}\n`);
    expect(loadOrCreateKeyFile(path, secureRandom)).toBe(ring);
  });

  it("returns an existing file's text without judging it (the caller parses the keyring)", () => {
    const path = join(dir, "keys");
    writeFileSync(path, "not a keyring\n");
    expect(loadOrCreateKeyFile(path, secureRandom)).toBe("not a keyring");
    writeFileSync(path, "");
    expect(loadOrCreateKeyFile(path, secureRandom)).toBe("");
  });

  it("when another process creates the file first, keeps and returns that one", () => {
    const path = join(dir, "keys");
    const winner = `w:${Buffer.alloc(32, 7).toString("base64")}`;
    let calls = 0;
    // Simulates the race: the other process writes its file after we found none, before we link ours.
    const racing: Random = {
      bytes: (length) => {
        calls++;
        if (calls === 3) writeFileSync(path, `${winner}\n`, { mode: 0o600, flag: "wx" });
        return secureRandom.bytes(length);
      },
      int: (max) => secureRandom.int(max),
      uuid: () => secureRandom.uuid(),
    };
    expect(loadOrCreateKeyFile(path, racing)).toBe(winner);
    expect(calls).toBe(3);
    expect(readFileSync(path, "utf8").trim()).toBe(winner);
    expect(readdirSync(dir)).toEqual(["keys"]);
  });
});
