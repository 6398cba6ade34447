import { once } from "node:events";
import { sql } from "kysely";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RevocationFeed, RevocationNotice } from "../src/storage/kysely/reads/revocation-feed.js";
import type { SessionCacheView } from "../src/storage/kysely/reads/sql.js";
import type { KyselyStore } from "../src/storage/kysely/store.js";
import { createTestApp, createTestDatabase, type TestApp, type TestDatabase, testDialects } from "./support/harness.js";
import { bearer, expectError, get, post, signIn } from "./support/http.js";

const ADMIN_TOKEN = "admin-token-0123456789abcdefghijklmnopqrstuvwxyz";
const postgres = testDialects().filter((d) => d.name === "postgres");

/** The session statuses a node keeps (the suite runs with LATCHKEY_SESSION_CACHE=on). */
function cacheOf(t: TestApp): SessionCacheView {
  const cache = (t.deps.store as KyselyStore).sessionCache;
  if (!cache) throw new Error("the node keeps no session statuses");
  return cache;
}
const feedOf = (t: TestApp): RevocationFeed => cacheOf(t).feed;
const kept = (t: TestApp): number => cacheOf(t).size();

/** The next notice `t` hears that matches. */
function noticeOn(t: TestApp, matches: (notice: RevocationNotice) => boolean): Promise<RevocationNotice> {
  const feed = feedOf(t);
  return new Promise((resolve) => {
    const listener = (notice: RevocationNotice) => {
      if (!matches(notice)) return;
      feed.off("notice", listener);
      resolve(notice);
    };
    feed.on("notice", listener);
  });
}

describe.each(postgres)("session statuses kept on the database's revocation notices ($name)", (dialect) => {
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  const nodes: TestApp[] = [];
  const env = { LATCHKEY_SESSION_CACHE: "on", LATCHKEY_ADMIN_TOKEN: ADMIN_TOKEN };

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    a = await createTestApp(dialect, { database, env });
    b = await createTestApp(dialect, { database, env, clock: a.clock });
    await Promise.all([feedOf(a).listening(), feedOf(b).listening()]);
    await a.createUser("alice@example.com");
  });
  afterEach(async () => {
    for (const node of nodes.splice(0)) await node.close();
    await a.close();
    await b.close();
    await database.drop();
  });

  const validate = (t: TestApp, access: string) => get(t, "/auth/accesstoken/validate", access);

  it("keeps a session status it has read, and a logout on another node is refused once its notice came", async () => {
    const { refresh, access } = await signIn(a, "alice@example.com");
    expect(kept(b)).toBe(0);
    for (let i = 0; i < 5; i++) expect((await validate(b, access)).statusCode).toBe(200);
    expect(kept(b)).toBe(1);

    const heard = noticeOn(b, (n) => n.kind === "session");
    expect((await post(a, "/auth/logout", refresh)).statusCode).toBe(204);
    await heard;
    expect(kept(b)).toBe(0);
    expectError(await validate(b, access), 401, "TOKEN_REVOKED");
  });

  it("refuses at once on the node that revoked, without waiting for the notice", async () => {
    const { refresh, access } = await signIn(a, "alice@example.com");
    expect((await validate(a, access)).statusCode).toBe(200);
    expect((await post(a, "/auth/logout", refresh)).statusCode).toBe(204);
    expectError(await validate(a, access), 401, "TOKEN_REVOKED");
  });

  it("follows an admin's disable and enable, and a password change, made on another node", async () => {
    const userId = (await a.db.selectFrom("users").select("id").executeTakeFirstOrThrow()).id;
    const { access } = await signIn(a, "alice@example.com");
    expect((await validate(b, access)).statusCode).toBe(200);

    const admin = (url: string) => a.app.inject({ method: "POST", url, headers: bearer(ADMIN_TOKEN), payload: {} });
    let heard = noticeOn(b, (n) => n.kind === "user" && n.id === userId);
    expect((await admin(`/admin/users/${userId}/disable`)).statusCode).toBeLessThan(300);
    await heard;
    expectError(await validate(b, access), 401, "ACCOUNT_DISABLED");

    heard = noticeOn(b, (n) => n.kind === "user" && n.id === userId);
    expect((await admin(`/admin/users/${userId}/enable`)).statusCode).toBeLessThan(300);
    await heard;
    expect((await validate(b, access)).statusCode).toBe(200);

    // A change keeps the session it is made from and ends the others.
    const other = await signIn(a, "alice@example.com");
    heard = noticeOn(b, (n) => n.kind === "session");
    const change = await a.app.inject({
      method: "PUT",
      url: "/user/password/old-password",
      headers: bearer(other.access),
      payload: { oldPassword: "Correct7Horse", newPassword: "Fresh9Lantern" },
    });
    expect(change.statusCode).toBe(204);
    await heard;
    expectError(await validate(b, access), 401, "TOKEN_REVOKED");
  });

  it("hears a revocation written by anyone, an operator's SQL included", async () => {
    const { access } = await signIn(a, "alice@example.com");
    expect((await validate(b, access)).statusCode).toBe(200);
    const operator = new pg.Client({ connectionString: dialect.url });
    await operator.connect();
    try {
      const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(a.db);
      const heard = noticeOn(b, (n) => n.kind === "session");
      await operator.query(`update ${rows[0]?.schema}.sessions set revoked_at = $1`, [a.clock.now()]);
      await heard;
    } finally {
      await operator.end();
    }
    expectError(await validate(b, access), 401, "TOKEN_REVOKED");
  });

  it("reads every request while its feed is down, and keeps statuses again once it listens", async () => {
    // A node that waits a minute before it connects again: the test ends the wait itself.
    const c = await createTestApp(dialect, { database, env, clock: a.clock, revocationRetryMs: 60_000 });
    nodes.push(c);
    await feedOf(c).listening();
    const { refresh, access } = await signIn(a, "alice@example.com");
    expect((await validate(c, access)).statusCode).toBe(200);
    const feed = feedOf(c);
    const lost = once(feed, "lost");
    const back = once(feed, "listening");
    await sql`select pg_terminate_backend(${feed.backendPid ?? -1})`.execute(a.db);
    await lost;
    expect(feed.trusted).toBe(false);

    // Not listening: nothing is kept, each validation reads, so a revocation it could not hear is refused at once.
    expect(kept(c)).toBe(0);
    expect((await validate(c, access)).statusCode).toBe(200);
    expect(kept(c)).toBe(0);
    expect((await post(a, "/auth/logout", refresh)).statusCode).toBe(204);
    expectError(await validate(c, access), 401, "TOKEN_REVOKED");
    expect(feed.trusted).toBe(false);

    feed.retryNow();
    await back;
    expect(feed.trusted).toBe(true);
    const fresh = await signIn(a, "alice@example.com");
    expect((await validate(c, fresh.access)).statusCode).toBe(200);
    expect(kept(c)).toBe(1);
  });
});
