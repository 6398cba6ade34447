import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { sql } from "kysely";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../src/platform/clock.js";
import { createTestApp, createTestDatabase, type TestApp, type TestDatabase, testDialects } from "./support/harness.js";
import { accessFor, get, kidOf, login } from "./support/http.js";

const RELOAD_INTERVAL_MS = 30_000;

/** What the node's reload timer does when it fires. */
async function tick(node: TestApp): Promise<void> {
  await node.scheduler.fire();
}

async function accessToken(node: TestApp): Promise<string> {
  return accessFor(node, await login(node, "alice@example.com"));
}

async function jwks(node: TestApp): Promise<{ kids: string[]; maxAgeSeconds: number }> {
  const res = await get(node, "/.well-known/jwks.json");
  const maxAge = /max-age=(\d+)/.exec(String(res.headers["cache-control"]))?.[1];
  return {
    kids: res
      .json()
      .keys.map((k: { kid: string }) => k.kid)
      .sort(),
    maxAgeSeconds: Number(maxAge),
  };
}

async function validates(node: TestApp, token: string): Promise<number> {
  return (await get(node, "/auth/accesstoken/validate", token)).statusCode;
}

describe.each(testDialects())("signing keys across nodes on $name", (dialect) => {
  let dir: string;
  let database: TestDatabase;
  let clock: ManualClock;
  let a: TestApp;
  let b: TestApp;
  const nodes: TestApp[] = [];
  const lines: string[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "latchkey-rotation-"));
    database = await createTestDatabase(dialect, dialect.name === "sqlite" ? join(dir, "latchkey.db") : undefined);
    clock = new ManualClock();
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    a = await createTestApp(dialect, { database, clock });
    b = await createTestApp(dialect, { database, clock, logger: pino({ level: "info" }, sink) });
    nodes.push(a, b);
    await a.createUser("alice@example.com");
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
    lines.length = 0;
  });

  it("publishes a key rotated elsewhere on every node before any node signs with it", async () => {
    const [oldKid] = (await jwks(a)).kids;
    // `latchkey keys rotate` is a third process on the same database.
    const operator = await createTestApp(dialect, { database, clock });
    const rotatedAt = clock.now();
    const { kid: newKid, activatesAt } = await operator.deps.keys.rotate();
    expect(newKid).not.toBe(oldKid);
    await operator.close();
    expect(operator.scheduler.intervals()).toEqual([]); // its reload timer stopped with it

    // Every node reloads on a timer; nothing else tells it of a key rotated elsewhere.
    expect(b.scheduler.intervals()).toContain(RELOAD_INTERVAL_MS);
    expect((await jwks(b)).kids).toEqual([oldKid]);

    // One reload later, B publishes the new key but keeps signing with the old one.
    clock.advanceSeconds(RELOAD_INTERVAL_MS / 1000);
    await tick(b);
    const published = await jwks(b);
    expect(published.kids).toEqual([oldKid, newKid].sort());
    expect(kidOf(await accessToken(b))).toBe(oldKid);
    // No node signs with it before a client that fetched any node's JWKS just before the key
    // appeared there has fetched it again.
    expect(activatesAt - (rotatedAt + RELOAD_INTERVAL_MS)).toBeGreaterThanOrEqual(published.maxAgeSeconds * 1000);

    await tick(a);
    clock.set(activatesAt - 1);
    expect(kidOf(await accessToken(a))).toBe(oldKid);
    expect(kidOf(await accessToken(b))).toBe(oldKid);
    clock.set(activatesAt);
    const signedByB = await accessToken(b);
    expect(kidOf(signedByB)).toBe(newKid);
    expect(kidOf(await accessToken(a))).toBe(newKid);
    expect(await validates(a, signedByB)).toBe(200);
  });

  it("drops a pruned key from every node within one reload", async () => {
    const [oldKid] = (await jwks(a)).kids;
    // A key made long ago signs until its successor takes over, and its last tokens live on after.
    clock.advanceSeconds(30 * 86_400);
    const { kid: newKid, activatesAt } = await a.deps.keys.rotate();
    clock.set(activatesAt);
    await tick(b);
    expect(await a.deps.keys.prune(14 * 86_400)).toBe(0);
    clock.advanceSeconds(14 * 86_400);
    expect(await a.deps.keys.prune(14 * 86_400)).toBe(0);
    clock.advanceSeconds(61);
    expect(await a.deps.keys.prune(14 * 86_400)).toBe(1);
    expect((await jwks(a)).kids).toEqual([newKid]);
    expect((await jwks(b)).kids).toEqual([oldKid, newKid].sort());
    await tick(b);
    expect((await jwks(b)).kids).toEqual([newKid]);
  });

  it("keeps serving with the keys it has, and says why, when the key table cannot be read", async () => {
    const before = await jwks(b);
    const token = await accessToken(b);
    await sql`alter table signing_keys rename to signing_keys_away`.execute(a.db);
    try {
      await tick(b);
    } finally {
      await sql`alter table signing_keys_away rename to signing_keys`.execute(a.db);
    }
    expect(await jwks(b)).toEqual(before);
    expect(await validates(b, token)).toBe(200);
    expect(kidOf(await accessToken(b))).toBe(before.kids[0]);
    const warning = lines.map((line) => JSON.parse(line)).find((entry) => entry.level === 40);
    expect(warning?.msg).toMatch(/signing keys/);
    expect(lines.join("")).not.toMatch(/PRIVATE KEY|v1\./);

    // The next reload that succeeds picks up where it left off.
    const { kid } = await a.deps.keys.rotate();
    await tick(b);
    expect((await jwks(b)).kids).toContain(kid);
  });
});
