import { type Kysely, sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { iso } from "../src/core/iso-time.js";
import { migrateUpTo } from "../src/storage/kysely/migrations.js";
import { createTestApp, createTestDatabase, type TestApp, testDialects } from "./support/harness.js";
import {
  accessFor,
  call,
  del,
  expectError,
  expectNoContent,
  get,
  login,
  PASSWORD,
  post,
  sessionIdOf,
  signIn,
  tokensOf,
} from "./support/http.js";
import { snapshot } from "./support/snapshot.js";
import { authenticateTotp, codeAt, enrolTotp } from "./two-factor/support.js";

interface ListedSession {
  sessionId: string;
  createdAt: string;
  lastUsedAt: string;
  ip: string | null;
  userAgent: string | null;
  current: boolean;
}

describe.each(testDialects())("the user's own sessions (§6) on $name", (dialect) => {
  let t: TestApp;
  let alice: number;

  beforeEach(async () => {
    t = await createTestApp(dialect);
    alice = await t.createUser("alice@example.com");
  });
  afterEach(async () => {
    await t.close();
  });

  /** A password login from a device named by its user agent: its refresh token and an access token. */
  async function signInFrom(userAgent: string, email = "alice@example.com") {
    const res = await t.app.inject({
      method: "POST",
      url: "/auth/login",
      headers: { "user-agent": userAgent },
      payload: { username: email, password: PASSWORD },
    });
    expect(res.statusCode, res.body).toBe(200);
    const refresh = res.body;
    return { refresh, access: await accessFor(t, refresh), sessionId: sessionIdOf(refresh) };
  }

  async function list(access: string): Promise<ListedSession[]> {
    const res = await get(t, "/user/sessions", access);
    expect(res.statusCode, res.body).toBe(200);
    expect(Object.keys(res.json())).toEqual(["sessions"]);
    return res.json().sessions;
  }

  async function sessionEvents(userId: number) {
    const { events } = await t.deps.store.listAuditEvents({ userId, offset: 0, limit: 50 });
    return events.filter((event) => event.type === "session.revoked").map((event) => event.details);
  }

  it("lists the caller's sessions newest first, the current one marked, with the login's address and agent", async () => {
    const laptop = await signInFrom("Laptop/1.0");
    const loggedInAt = t.clock.now();
    t.clock.advanceSeconds(60);
    const phone = await signInFrom("Phone/2.0");
    await t.createUser("bob@example.com");
    await signInFrom("Bob/1.0", "bob@example.com");

    expect(await list(laptop.access)).toEqual([
      {
        sessionId: phone.sessionId,
        createdAt: iso(loggedInAt + 60_000),
        lastUsedAt: iso(loggedInAt + 60_000),
        ip: "127.0.0.1",
        userAgent: "Phone/2.0",
        current: false,
      },
      {
        sessionId: laptop.sessionId,
        createdAt: iso(loggedInAt),
        lastUsedAt: iso(loggedInAt),
        ip: "127.0.0.1",
        userAgent: "Laptop/1.0",
        current: true,
      },
    ]);
    expect((await list(phone.access)).map((s) => [s.sessionId, s.current])).toEqual([
      [phone.sessionId, true],
      [laptop.sessionId, false],
    ]);
  });

  it("moves lastUsedAt on a rotation and on an access token issued, never on a validation or a listing", async () => {
    const laptop = await signInFrom("Laptop/1.0");
    const start = t.clock.now();
    t.clock.advanceSeconds(60);
    const phone = await signInFrom("Phone/2.0");
    const lastUse = async (access = phone.access) =>
      Object.fromEntries((await list(access)).map((s) => [s.userAgent, s.lastUsedAt] as const));
    expect(await lastUse()).toEqual({ "Laptop/1.0": iso(start), "Phone/2.0": iso(start + 60_000) });

    // A rotation of the laptop's refresh token.
    t.clock.advanceSeconds(60);
    const rotated = await get(t, "/auth/refreshtoken", laptop.refresh);
    expect(rotated.statusCode, rotated.body).toBe(200);
    expect(await lastUse()).toEqual({ "Laptop/1.0": iso(start + 120_000), "Phone/2.0": iso(start + 60_000) });

    // An access token issued from the phone's refresh token.
    t.clock.advanceSeconds(60);
    const phoneAccess = await accessFor(t, phone.refresh);
    expect(await lastUse()).toEqual({ "Laptop/1.0": iso(start + 120_000), "Phone/2.0": iso(start + 180_000) });

    // Checking tokens, and using an access token (the listing too), write nothing.
    t.clock.advanceSeconds(60);
    const before = await snapshot(t);
    for (const [url, token] of [
      ["/auth/refreshtoken/validate", rotated.body],
      ["/auth/refreshtoken/validate", phone.refresh],
      ["/auth/accesstoken/validate", laptop.access],
      ["/auth/accesstoken/validate", phoneAccess],
      ["/user/sessions", laptop.access],
      ["/user/2fa", phoneAccess],
    ] as const) {
      expect((await get(t, url, token)).statusCode, url).toBe(200);
    }
    expect(await snapshot(t)).toBe(before);
    expect(await lastUse()).toEqual({ "Laptop/1.0": iso(start + 120_000), "Phone/2.0": iso(start + 180_000) });

    // The rotated token's successor, used in turn, moves it on again.
    t.clock.advanceSeconds(60);
    const laptopAccess = await accessFor(t, rotated.body);
    expect((await lastUse(laptopAccess))["Laptop/1.0"]).toBe(iso(start + 300_000));

    // An access token moves it a minute at a time (a client asking in a loop writes once a minute);
    // a rotation at once.
    t.clock.advanceSeconds(59);
    await accessFor(t, rotated.body);
    expect((await lastUse(laptopAccess))["Laptop/1.0"]).toBe(iso(start + 300_000));
    t.clock.advanceSeconds(1);
    await accessFor(t, rotated.body);
    expect((await lastUse(laptopAccess))["Laptop/1.0"]).toBe(iso(start + 360_000));
    t.clock.advanceSeconds(1);
    expect((await get(t, "/auth/refreshtoken", rotated.body)).statusCode).toBe(200);
    expect((await lastUse(laptopAccess))["Laptop/1.0"]).toBe(iso(start + 361_000));
  });

  it("leaves out sessions logged out, revoked or past their end", async () => {
    const refreshTtlSeconds = t.config.tokens.refreshTtlSeconds;
    const old = await signInFrom("Old/1.0");
    t.clock.advanceSeconds(refreshTtlSeconds - 120);
    const loggedOut = await signInFrom("LoggedOut/1.0");
    expectNoContent(await post(t, "/auth/logout", loggedOut.refresh));
    const revoked = await signInFrom("Revoked/1.0");
    await t.deps.store.revokeSession(revoked.sessionId, t.clock.now());
    const live = await signInFrom("Live/1.0");
    expect((await list(live.access)).map((s) => s.userAgent)).toEqual(["Live/1.0", "Old/1.0"]);

    // The first session reaches its absolute end (§2): no longer listed, and no longer to be ended.
    t.clock.advanceSeconds(120);
    const access = await accessFor(t, live.refresh);
    expect((await list(access)).map((s) => s.userAgent)).toEqual(["Live/1.0"]);
    expectError(await del(t, `/user/sessions/${old.sessionId}`, access), 404, "SESSION_NOT_FOUND");
  });

  it("ends another of the caller's sessions: its refresh and access tokens are refused at once", async () => {
    const laptop = await signInFrom("Laptop/1.0");
    const phone = await signInFrom("Phone/2.0");

    expectNoContent(await del(t, `/user/sessions/${phone.sessionId}`, laptop.access));

    expectError(await get(t, "/auth/accesstoken", phone.refresh), 401, "TOKEN_REVOKED");
    expectError(await get(t, "/auth/refreshtoken", phone.refresh), 401, "TOKEN_REVOKED");
    expectError(await get(t, "/auth/accesstoken/validate", phone.access), 401, "TOKEN_REVOKED");
    expectError(await get(t, "/user/sessions", phone.access), 401, "TOKEN_REVOKED");
    // The caller's own session goes on.
    expect((await list(laptop.access)).map((s) => s.sessionId)).toEqual([laptop.sessionId]);
    expect((await get(t, "/auth/accesstoken", laptop.refresh)).statusCode).toBe(200);
    expect(await sessionEvents(alice)).toEqual([{ reason: "user", sessionId: phone.sessionId, current: false }]);

    // Ended already: the same answer as for any other id that names no live session of the caller's.
    expectError(await del(t, `/user/sessions/${phone.sessionId}`, laptop.access), 404, "SESSION_NOT_FOUND");
  });

  it("ends the caller's current session too, as a logout", async () => {
    const laptop = await signInFrom("Laptop/1.0");
    const phone = await signInFrom("Phone/2.0");
    expectNoContent(await del(t, `/user/sessions/${laptop.sessionId}`, laptop.access));
    expectError(await get(t, "/user/sessions", laptop.access), 401, "TOKEN_REVOKED");
    expectError(await get(t, "/auth/accesstoken", laptop.refresh), 401, "TOKEN_REVOKED");
    expect((await list(phone.access)).map((s) => s.sessionId)).toEqual([phone.sessionId]);
    expect(await sessionEvents(alice)).toEqual([{ reason: "user", sessionId: laptop.sessionId, current: true }]);
  });

  it("answers another user's session, an unknown and a malformed id alike, 404 SESSION_NOT_FOUND, changing nothing", async () => {
    const mine = await signInFrom("Laptop/1.0");
    const bob = await t.createUser("bob@example.com");
    const bobs = await signInFrom("Bob/1.0", "bob@example.com");
    const before = await snapshot(t);

    const ids = [
      bobs.sessionId,
      "00000000-0000-4000-8000-000000000000",
      "not-a-session",
      " ",
      "' or '1'='1",
      bobs.sessionId.toUpperCase(),
      `${bobs.sessionId}' or user_id = ${bob} --`,
    ];
    const answers = [];
    for (const id of ids) {
      const res = await del(t, `/user/sessions/${encodeURIComponent(id)}`, mine.access);
      expectError(res, 404, "SESSION_NOT_FOUND");
      answers.push({ body: res.body, headers: Object.keys(res.headers).sort() });
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(await snapshot(t)).toBe(before);

    // Bob's session is untouched and still works.
    expect((await get(t, "/auth/accesstoken/validate", bobs.access)).statusCode).toBe(200);
    expect((await get(t, "/auth/accesstoken", bobs.refresh)).statusCode).toBe(200);
    expect((await list(bobs.access)).map((s) => s.sessionId)).toEqual([bobs.sessionId]);
  });

  it("ends every other session on revoke-others, and the logins still waiting for a second factor", async () => {
    const enrolled = await enrolTotp(t, "carol@example.com");
    // A second full login (the second factor checked), whose tokens are the caller's.
    const partial = await login(t, "carol@example.com");
    const caller = tokensOf(await authenticateTotp(t, partial, codeAt(enrolled.totp, t.clock.now())));
    // A third login elsewhere, waiting for its second factor.
    const waiting = await login(t, "carol@example.com");
    expect((await get(t, "/user/2fa", waiting)).statusCode).toBe(200);
    // Alice's session is not carol's to end.
    const alices = await signIn(t, "alice@example.com");

    expectNoContent(await post(t, "/user/sessions/revoke-others", caller.accessToken, {}));

    // The enrolment's session: its tokens are refused at once.
    expectError(await get(t, "/auth/accesstoken", enrolled.refresh), 401, "TOKEN_REVOKED");
    expectError(await get(t, "/auth/accesstoken/validate", enrolled.access), 401, "TOKEN_REVOKED");
    // The waiting login cannot complete: revoke-others moves the token generation on, as a password change does.
    expectError(await get(t, "/user/2fa", waiting), 401, "TOKEN_REVOKED");
    t.clock.advanceSeconds(30);
    expectError(await authenticateTotp(t, waiting, codeAt(enrolled.totp, t.clock.now())), 401, "TOKEN_REVOKED");
    // The caller's session goes on: refresh, access and sudo tokens alike.
    expect((await get(t, "/auth/accesstoken", caller.refreshToken)).statusCode).toBe(200);
    expect((await post(t, "/user/2fa/recovery-code/reset", caller.sudoToken, {})).statusCode).toBe(200);
    expect((await list(caller.accessToken)).map((s) => [s.sessionId, s.current])).toEqual([
      [sessionIdOf(caller.refreshToken), true],
    ]);
    expect(await sessionEvents(enrolled.userId)).toEqual([{ reason: "revoke-others", count: 1 }]);
    // Nobody else's sessions were touched.
    expect((await get(t, "/auth/accesstoken/validate", alices.access)).statusCode).toBe(200);

    // Again, with nothing left to end: still 204.
    expectNoContent(await post(t, "/user/sessions/revoke-others", caller.accessToken, {}));
    expect(await sessionEvents(enrolled.userId)).toEqual([
      { reason: "revoke-others", count: 0 },
      { reason: "revoke-others", count: 1 },
    ]);
  });

  it("refuses partial, sudo and refresh tokens and no token, as every access-only endpoint does, changing nothing", async () => {
    const enrolled = await enrolTotp(t, "carol@example.com");
    const partial = await login(t, "carol@example.com");
    const full = tokensOf(
      await authenticateTotp(t, await login(t, "carol@example.com"), codeAt(enrolled.totp, t.clock.now())),
    );
    const victim = sessionIdOf(enrolled.refresh);
    const before = await snapshot(t);
    const endpoints = [
      ["GET", "/user/sessions"],
      ["DELETE", `/user/sessions/${victim}`],
      ["POST", "/user/sessions/revoke-others"],
    ] as const;
    const tokens: [string | undefined, number, string][] = [
      [partial, 401, "2FA_REQUIRED_PARTIAL_TOKEN"],
      [full.sudoToken, 401, "WRONG_TOKEN_TYPE"],
      [full.refreshToken, 401, "WRONG_TOKEN_TYPE"],
      [undefined, 401, "NO_TOKEN_PROVIDED"],
    ];
    for (const [method, url] of endpoints) {
      for (const [token, status, code] of tokens) {
        const res = await call(t, method, url, token, method === "POST" ? {} : undefined);
        expect({ method, url, status: res.statusCode, message: res.json().message }).toEqual({
          method,
          url,
          status,
          message: code,
        });
      }
    }
    expect(await snapshot(t)).toBe(before);
  });

  it("answers 400 for a revoke-others body with a property it does not know", async () => {
    const laptop = await signInFrom("Laptop/1.0");
    await signInFrom("Phone/2.0");
    const before = await snapshot(t);
    const res = await post(t, "/user/sessions/revoke-others", laptop.access, { everywhere: true });
    expectError(res, 400, "body must NOT have additional properties");
    expect(await snapshot(t)).toBe(before);
  });

  it("ends a session once when many DELETEs for it race: one 204, the others 404", async () => {
    const laptop = await signInFrom("Laptop/1.0");
    const tablet = await signInFrom("Tablet/1.0");
    const phone = await signInFrom("Phone/2.0");
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        del(t, `/user/sessions/${phone.sessionId}`, i % 2 === 0 ? laptop.access : tablet.access),
      ),
    );
    expect(answers.map((res) => res.statusCode).sort()).toEqual([204, 404, 404, 404, 404, 404, 404, 404]);
    for (const res of answers.filter((r) => r.statusCode === 404)) expectError(res, 404, "SESSION_NOT_FOUND");
    expect(await sessionEvents(alice)).toHaveLength(1);
    expectError(await get(t, "/auth/accesstoken", phone.refresh), 401, "TOKEN_REVOKED");
  });
});

describe.each(testDialects())("the sessions' last use, migrated on $name", (dialect) => {
  it("gives the sessions stored before it their start as their last use", async () => {
    const database = await createTestDatabase(dialect);
    try {
      const store = database.store();
      const db = store.db as unknown as Kysely<unknown>;
      await migrateUpTo(db, dialect.name, "2026-12-02-003-signing-key-sealing");
      const userId = await store.createUser({ email: "old@example.com", passwordHash: null, createdAt: 1_000 });
      // As the earlier version stored a session: no last use.
      for (const [id, createdAt] of [
        ["s-old", 1_700_000_000_000],
        ["s-older", 1_600_000_000_000],
      ] as const) {
        await sql`insert into sessions (id, user_id, created_at, expires_at, revoked_at, ip, user_agent)
          values (${id}, ${userId}, ${createdAt}, ${createdAt + 1_000_000}, null, null, null)`.execute(db);
      }
      // The migration runs first of those not applied yet (later ones follow it).
      expect((await store.migrate())[0]).toBe("2026-12-03-001-session-last-use");
      expect(await store.listLiveSessions(userId, 1_550_000_000_000)).toEqual([
        { id: "s-old", createdAt: 1_700_000_000_000, lastUsedAt: 1_700_000_000_000, ip: null, userAgent: null },
        { id: "s-older", createdAt: 1_600_000_000_000, lastUsedAt: 1_600_000_000_000, ip: null, userAgent: null },
      ]);
    } finally {
      await database.drop();
    }
  });
});
