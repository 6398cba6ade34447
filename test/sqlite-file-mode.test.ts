import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type KyselyStore, openKyselyStore } from "../src/storage/kysely/store.js";

/** The permission bits of `path` (what `ls -l` shows), e.g. 0o600. */
const modeOf = (path: string) => statSync(path).mode & 0o777;

describe("SQLite database files", () => {
  let dir: string;
  let previousUmask: number;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "latchkey-mode-"));
    // The usual default, under which SQLite alone would create the files 0644.
    previousUmask = process.umask(0o022);
  });
  afterEach(() => {
    process.umask(previousUmask);
    rmSync(dir, { recursive: true, force: true });
  });

  async function openAndWrite(file: string): Promise<KyselyStore> {
    const store = openKyselyStore(`sqlite:${file}`);
    await store.migrate();
    await store.createUser({ email: "alice@example.com", passwordHash: null, createdAt: 1 });
    // The query-only reader maps the -shm file too.
    await store.sessionStatus("none");
    return store;
  }

  it("creates the database and its -wal and -shm files readable by the owner only", async () => {
    const file = join(dir, "data", "latchkey.db");
    const store = await openAndWrite(file);
    try {
      for (const suffix of ["", "-wal", "-shm"]) {
        expect(existsSync(`${file}${suffix}`), `${suffix || "database"} exists`).toBe(true);
        expect(modeOf(`${file}${suffix}`).toString(8), `${suffix || "database"} mode`).toBe("600");
      }
      // A data directory it creates is the owner's only, as the key file's is.
      expect(modeOf(join(dir, "data")).toString(8)).toBe("700");
    } finally {
      await store.close();
    }
  });

  it("tightens an existing database file that others could read", async () => {
    const file = join(dir, "latchkey.db");
    writeFileSync(file, "");
    chmodSync(file, 0o644);
    const store = await openAndWrite(file);
    try {
      for (const suffix of ["", "-wal", "-shm"]) expect(modeOf(`${file}${suffix}`).toString(8)).toBe("600");
    } finally {
      await store.close();
    }
  });
});
