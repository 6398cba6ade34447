import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { secureRandom } from "../src/platform/random.js";
import { CommitWatch } from "../src/storage/kysely/reads/commit-watch.js";

const betterSqlite3 = createRequire(import.meta.url).resolve("better-sqlite3");

describe("CommitWatch", () => {
  let file: string;
  let writer: SQLite.Database;
  let reader: SQLite.Database;
  let dataVersion: () => number;
  let watch: CommitWatch;

  beforeEach(() => {
    file = join(tmpdir(), `lk-watch-${secureRandom.bytes(6).toString("hex")}.db`);
    writer = new SQLite(file);
    writer.pragma("journal_mode = WAL");
    writer.exec("create table t (id integer primary key, v text)");
    reader = new SQLite(file, { fileMustExist: true });
    reader.pragma("query_only = ON");
    const statement = reader.prepare<[], number>("pragma data_version").pluck();
    dataVersion = () => statement.get() as number;
    dataVersion();
    watch = new CommitWatch(`${file}-shm`, dataVersion);
  });
  afterEach(() => {
    watch.close();
    reader.close();
    writer.close();
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
  });

  const insert = (db: SQLite.Database, v: string) => db.prepare("insert into t (v) values (?)").run(v);
  const count = () => (reader.prepare("select count(*) from t").pluck().get() as number) ?? 0;

  it("reads the wal-index, and moves on every commit of another connection and only then", () => {
    expect(watch.readsWalIndex).toBe(true);
    const first = watch.version();
    expect(watch.version()).toBe(first);
    expect(count()).toBe(0);
    expect(watch.version()).toBe(first);
    insert(writer, "a");
    const second = watch.version();
    expect(second).not.toBe(first);
    expect(watch.version()).toBe(second);
    insert(writer, "b");
    insert(writer, "c");
    expect(watch.version()).not.toBe(second);
  });

  it("does not move for a transaction still open, and moves at its commit", () => {
    const before = watch.version();
    writer.exec("begin immediate");
    insert(writer, "pending");
    expect(watch.version()).toBe(before);
    expect(count()).toBe(0);
    writer.exec("commit");
    expect(watch.version()).not.toBe(before);
    expect(count()).toBe(1);
  });

  it("sees a commit made by another process", () => {
    const before = watch.version();
    const script = `const D = require(${JSON.stringify(betterSqlite3)});
      const db = new D(${JSON.stringify(file)}); db.prepare("insert into t (v) values ('other')").run(); db.close();`;
    const child = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
    expect(child.status, child.stderr).toBe(0);
    expect(watch.version()).not.toBe(before);
    expect(count()).toBe(1);
  });

  it("keeps moving after the WAL is checkpointed and starts over", () => {
    insert(writer, "a");
    const before = watch.version();
    writer.pragma("wal_checkpoint(TRUNCATE)");
    insert(writer, "b");
    const after = watch.version();
    expect(after).not.toBe(before);
    writer.pragma("wal_checkpoint(RESTART)");
    insert(writer, "c");
    expect(watch.version()).not.toBe(after);
    expect(count()).toBe(3);
  });

  it("never gives a version another watch gave (a reader reopened starts afresh)", () => {
    const first = [watch.version(), watch.version()];
    const again = new CommitWatch(`${file}-shm`, dataVersion);
    try {
      expect(first).not.toContain(again.version());
    } finally {
      again.close();
    }
  });

  it("falls back to PRAGMA data_version without a wal-index", () => {
    for (const fallback of [new CommitWatch(undefined, dataVersion), new CommitWatch(`${file}-none`, dataVersion)]) {
      expect(fallback.readsWalIndex).toBe(false);
      const before = fallback.version();
      expect(fallback.version()).toBe(before);
      insert(writer, "x");
      expect(fallback.version()).not.toBe(before);
      fallback.close();
    }
  });

  it("once closed (as after a failed read) answers from PRAGMA data_version, never reusing a version", () => {
    const seen = new Set([watch.version()]);
    insert(writer, "a");
    seen.add(watch.version());
    watch.close();
    expect(watch.readsWalIndex).toBe(false);
    const next = watch.version();
    expect(seen.has(next)).toBe(false);
    expect(watch.version()).toBe(next);
    insert(writer, "b");
    expect(watch.version()).not.toBe(next);
  });
});
