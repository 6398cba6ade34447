import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "./config/config.js";
import { loadKeyring } from "./deps.js";
import { secureRandom } from "./platform/random.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "latchkey-deps-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("loadKeyring", () => {
  it("without LATCHKEY_ENCRYPTION_KEYS, makes a key file of one key under the data directory, then reads it", () => {
    const config = loadConfig({ LATCHKEY_DATA_DIR: join(dir, "data") });
    const keyring = loadKeyring(config, secureRandom);
    expect(keyring.kids()).toHaveLength(1);
    expect(readFileSync(join(dir, "data", "encryption.keys"), "utf8").trim()).toMatch(
      new RegExp(`^${keyring.activeKid}:`),
    );
    expect(loadKeyring(config, secureRandom).kids()).toEqual(keyring.kids());
  });

  it("refuses a key file that is not a valid keyring, naming the file without echoing it", () => {
    const config = loadConfig({ LATCHKEY_DATA_DIR: dir });
    const path = join(dir, "encryption.keys");
    const short = Buffer.alloc(16, 9).toString("base64");
    writeFileSync(path, `a:${short}\n`);
    expect(() => loadKeyring(config, secureRandom)).toThrow(
      /key file .*encryption\.keys is not a valid keyring.*must be 32 bytes/,
    );
    try {
      loadKeyring(config, secureRandom);
    } catch (error) {
      expect((error as Error).message).not.toContain(short);
    }
    writeFileSync(path, "");
    expect(() => loadKeyring(config, secureRandom)).toThrow(/empty/);
  });

  it("takes LATCHKEY_ENCRYPTION_KEYS when set and leaves the data directory alone", () => {
    const ring = `main:${Buffer.alloc(32, 3).toString("base64")}`;
    const config = loadConfig({ LATCHKEY_DATA_DIR: join(dir, "data"), LATCHKEY_ENCRYPTION_KEYS: ring });
    expect(loadKeyring(config, secureRandom).kids()).toEqual(["main"]);
    expect(() => readFileSync(join(dir, "data", "encryption.keys"))).toThrow(/ENOENT/);
  });
});
