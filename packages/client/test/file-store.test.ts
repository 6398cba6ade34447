import { rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../../../test/support/harness.js";
import { FileStore, LockTimeoutError } from "../src/file-store.js";

describe("the session file", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  function sessionPath() {
    const dir = tempDir("latchkey-file-store-");
    dirs.push(dir);
    return join(dir, "session.json");
  }

  it("is written whole, readable by its owner only, and removed by clear", async () => {
    const path = sessionPath();
    const store = new FileStore(path);
    expect(await store.load()).toBeUndefined();
    await store.save({ refreshToken: "r", accessToken: "a" });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await new FileStore(path).load()).toEqual({ refreshToken: "r", accessToken: "a" });
    await store.clear();
    expect(await store.load()).toBeUndefined();
  });

  it("reads a damaged file as no session rather than failing", async () => {
    const path = sessionPath();
    writeFileSync(path, "{not json", { mode: 0o600 });
    expect(await new FileStore(path).load()).toBeUndefined();
  });

  it("gives up on a lock held by someone else after its bounded wait, and runs nothing", async () => {
    const path = sessionPath();
    writeFileSync(`${path}.lock`, "");
    const store = new FileStore(path, { lockTimeoutMs: 3, retryDelayMs: 1 });
    let ran = false;
    const error = await store
      .withLock(async () => {
        ran = true;
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect(ran).toBe(false);
    // The other holder's lock is left alone.
    expect(statSync(`${path}.lock`).isFile()).toBe(true);
  });

  it("takes over a lock left behind by a crashed holder", async () => {
    const path = sessionPath();
    writeFileSync(`${path}.lock`, "");
    const longAgo = new Date(Date.UTC(2020, 0, 1));
    utimesSync(`${path}.lock`, longAgo, longAgo);
    const store = new FileStore(path, { lockTimeoutMs: 3, retryDelayMs: 1 });
    expect(await store.withLock(async () => "ran")).toBe("ran");
    expect(() => statSync(`${path}.lock`)).toThrow();
  });
});
