import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { secureRandom } from "../src/platform/random.js";
import {
  type PreparedReads,
  REFRESH_TOKEN_STATUS_SELECT,
  SESSION_STATUS_SELECT,
  TWO_FACTOR_ONE,
} from "../src/storage/kysely/reads/sql.js";
import { RowsWhileUnchanged } from "../src/storage/kysely/reads/sqlite.js";
import { insertSession } from "../src/storage/kysely/sessions.js";
import { type KyselyStore, kyselyStore, openKyselyStore } from "../src/storage/kysely/store.js";
import { createTestDatabase, type TestDatabase, type TestDialect, testDialects } from "./support/harness.js";

const T0 = 1_800_000_000_000;

/** SQLite in a file (an in-memory database has no second connection to read from) and PostgreSQL. */
function dialects(): Array<TestDialect & { file?: string }> {
  return testDialects().map((d) =>
    d.name === "sqlite" ? { ...d, file: join(tmpdir(), `lk-reads-${secureRandom.bytes(6).toString("hex")}.db`) } : d,
  );
}

describe.each(dialects())("prepared session reads on $name", (dialect) => {
  let database: TestDatabase;
  let store: KyselyStore;

  beforeEach(async () => {
    database = await createTestDatabase(dialect, dialect.file);
    store = database.store();
    await store.migrate();
  });
  afterEach(async () => {
    await database.drop();
    if (dialect.file) for (const suffix of ["", "-wal", "-shm"]) rmSync(`${dialect.file}${suffix}`, { force: true });
  });

  async function session(email: string, id: string, jti: string): Promise<number> {
    const userId = await store.createUser({ email, passwordHash: null, createdAt: T0 });
    await insertSession(
      store.db,
      { id, userId, createdAt: T0, expiresAt: T0 + 60_000, ip: null, userAgent: null },
      jti,
    );
    return userId;
  }

  it("reads sessions, refresh tokens and the second-factor state through the reads it is built with", async () => {
    const asked: string[] = [];
    const status = { user_id: 7, revoked_at: null, expires_at: T0 + 9, disabled_at: T0 };
    const reads: PreparedReads = {
      sessionStatus: async (sessionId) => {
        asked.push(`session ${sessionId}`);
        return sessionId === "known" ? status : undefined;
      },
      refreshTokenStatus: async (jti) => {
        asked.push(`refresh token ${jti}`);
        return { ...status, session_id: "known", used_at: T0 + 1, last_used_at: T0 };
      },
      twoFactorState: async (userId) => {
        asked.push(`two-factor ${userId}`);
        if (userId !== 7) return undefined;
        return {
          totp_user: 7,
          secret_enc: "sealed",
          pending_secret_enc: null,
          totp_enabled_at: T0,
          email_user: null,
          email: null,
          pending_email: null,
          email_enabled_at: null,
          codes_created_at: String(T0),
          codes_total: "10",
          codes_used: 3,
          passkeys_created_at: String(T0 + 2),
          passkeys_total: "2",
        };
      },
      close() {},
    };
    // Nothing of this is in the database: every answer comes from the reads handed over.
    const built = kyselyStore({ db: store.db, dialect: store.dialect, reads });
    expect(await built.sessionStatus("known")).toEqual({
      userId: 7,
      revokedAt: null,
      expiresAt: T0 + 9,
      userDisabled: true,
    });
    expect(await built.sessionStatus("unknown")).toBeUndefined();
    expect(await built.refreshTokenStatus("r")).toEqual({
      sessionId: "known",
      usedAt: T0 + 1,
      userId: 7,
      revokedAt: null,
      expiresAt: T0 + 9,
      userDisabled: true,
    });
    expect(await built.twoFactor(7)).toEqual({
      totp: { secretEnc: "sealed", pendingSecretEnc: null, enabledAt: T0 },
      emailOtp: undefined,
      recoveryCodes: { createdAt: T0, remaining: 7 },
      passkeys: { count: 2, createdAt: T0 + 2 },
    });
    // No row for a user is a broken read, never "no second factor": it fails closed.
    await expect(built.twoFactor(8)).rejects.toThrow("the second-factor state read returned no row");
    expect(asked).toEqual(["session known", "session unknown", "refresh token r", "two-factor 7", "two-factor 8"]);
  });

  it("prepares each read once, however often it runs", async () => {
    const userId = await session("alice@example.com", "s1", "r1");
    const reader = dialect.name === "postgres" ? await singleConnectionStore(store, dialect.url) : store;
    const runs = 4;
    const readAll = async (run: number) => {
      // A commit before each read, so that each one runs its statement (SQLite keeps the rows it read
      // only while nothing changes).
      await reader.setUserDisabled(userId, run % 2 === 0 ? T0 : null);
      expect(await reader.sessionStatus("s1")).toMatchObject({ userDisabled: run % 2 === 0 });
      expect(await reader.refreshTokenStatus("r1")).toMatchObject({ userDisabled: run % 2 === 0 });
      expect(await reader.twoFactor(userId)).toEqual({
        totp: undefined,
        emailOtp: undefined,
        recoveryCodes: undefined,
      });
    };
    try {
      if (dialect.name === "postgres") {
        for (let run = 0; run < runs; run++) await readAll(run);
        // Each read is one named statement on the connection, executed once per run.
        const { rows } = await sql<{ name: string; runs: number }>`
          select name, (generic_plans + custom_plans)::int as runs from pg_prepared_statements
          where name like 'latchkey\_%\_many' order by name`.execute(reader.db);
        expect(rows).toEqual([
          { name: "latchkey_refresh_token_status_many", runs },
          { name: "latchkey_session_status_many", runs },
          { name: "latchkey_two_factor_many", runs },
        ]);
        return;
      }
      await readAll(0);
      const prepare = vi.spyOn(SQLite.prototype, "prepare");
      try {
        for (let run = 1; run <= runs; run++) await readAll(run);
        const reads = [SESSION_STATUS_SELECT, REFRESH_TOKEN_STATUS_SELECT, TWO_FACTOR_ONE];
        const prepared = prepare.mock.calls.filter(([text]) => reads.some((read) => text.startsWith(read)));
        expect(prepared).toEqual([]);
      } finally {
        prepare.mockRestore();
      }
    } finally {
      if (reader !== store) await reader.close();
    }
  });

  it("sees a revocation, a rotation and a disabled account by the very next read", async () => {
    const userId = await session("alice@example.com", "s1", "r1");
    expect(await store.sessionStatus("s1")).toEqual({
      userId,
      revokedAt: null,
      expiresAt: T0 + 60_000,
      userDisabled: false,
    });
    expect(await store.refreshTokenStatus("r1")).toMatchObject({ sessionId: "s1", usedAt: null, revokedAt: null });

    await store.rotateRefreshToken({ jti: "r1", newJti: "r2", sessionId: "s1", now: T0 + 1 });
    expect(await store.refreshTokenStatus("r1")).toMatchObject({ usedAt: T0 + 1 });
    expect(await store.refreshTokenStatus("r2")).toMatchObject({ usedAt: null, userId });

    await store.setUserDisabled(userId, T0 + 2);
    expect(await store.sessionStatus("s1")).toMatchObject({ userDisabled: true });

    expect(await store.revokeSession("s1", T0 + 3)).toBe(true);
    expect(await store.sessionStatus("s1")).toMatchObject({ revokedAt: T0 + 3 });
    expect(await store.refreshTokenStatus("r2")).toMatchObject({ revokedAt: T0 + 3 });

    expect(await store.sessionStatus("missing")).toBeUndefined();
    expect(await store.refreshTokenStatus("missing")).toBeUndefined();
  });

  it("answers many concurrent reads with their own rows, and reads asked after a revocation see it", async () => {
    const users: number[] = [];
    for (let i = 0; i < 40; i++) users.push(await session(`user${i}@example.com`, `c${i}`, `cr${i}`));
    const ids = users.map((_, i) => `c${i}`);
    // Concurrent reads (PostgreSQL batches them), mixed with unknown ids and repeats.
    const asked = [...ids, "unknown-1", ...ids.slice(0, 5), "unknown-2"];
    const answers = await Promise.all(asked.map((id) => store.sessionStatus(id)));
    asked.forEach((id, i) => {
      const index = ids.indexOf(id);
      if (index < 0) expect(answers[i]).toBeUndefined();
      else expect(answers[i]).toMatchObject({ userId: users[index], revokedAt: null });
    });
    const tokens = await Promise.all(asked.map((_, i) => store.refreshTokenStatus(`cr${i}`)));
    tokens.forEach((token, i) => {
      if (i < ids.length) expect(token).toMatchObject({ sessionId: `c${i}`, userId: users[i] });
      else expect(token).toBeUndefined();
    });

    // Reads in flight while a revocation commits; every read asked after the commit sees it.
    const before = ids.map((id) => store.sessionStatus(id));
    expect(await store.revokeSession("c7", T0 + 9)).toBe(true);
    const after = await Promise.all(ids.map((id) => store.sessionStatus(id)));
    expect(after[7]).toMatchObject({ revokedAt: T0 + 9 });
    expect(after.filter((row) => row?.revokedAt !== null)).toHaveLength(1);
    expect(await store.refreshTokenStatus("cr7")).toMatchObject({ revokedAt: T0 + 9 });
    await Promise.all(before);
  });

  it("moves the last use of many sessions with concurrent reads of their refresh tokens, each by its own touch", async () => {
    const users: number[] = [];
    for (let i = 0; i < 30; i++) users.push(await session(`user${i}@example.com`, `t${i}`, `tr${i}`));
    await store.revokeSession("t3", T0);
    await store.setUserDisabled(users[4] ?? 0, T0);
    const lastUse = async (i: number) => {
      const [row] = await store.db.selectFrom("sessions").select("last_used_at").where("id", "=", `t${i}`).execute();
      return row?.last_used_at;
    };
    // Each session at its own time; session 5 asked twice at once (the later time wins); session 6 only
    // if last used 100 ms before: not so.
    const touches = users.map((_, i) => ({ jti: `tr${i}`, at: T0 + 1000 + i, ifLastUsedBy: T0 + 999 + i }));
    touches.push(
      { jti: "tr5", at: T0 + 5000, ifLastUsedBy: T0 + 4999 },
      { jti: "missing", at: T0 + 1, ifLastUsedBy: T0 },
    );
    const six = touches[6];
    if (six) six.ifLastUsedBy = T0 - 100;
    const answers = await Promise.all(
      touches.map(({ jti, at, ifLastUsedBy }) => store.refreshTokenStatusAndTouch(jti, { at, ifLastUsedBy })),
    );
    answers.forEach((answer, n) => {
      const i = n < users.length ? n : n === users.length ? 5 : -1;
      if (i < 0) expect(answer).toBeUndefined();
      else expect(answer).toMatchObject({ sessionId: `t${i}`, userId: users[i], revokedAt: i === 3 ? T0 : null });
    });
    for (let i = 0; i < users.length; i++) {
      const expected = i === 5 ? T0 + 5000 : [3, 4, 6].includes(i) ? T0 : T0 + 1000 + i;
      expect({ i, lastUse: await lastUse(i) }).toEqual({ i, lastUse: expected });
    }
  });

  it("answers concurrent second-factor state reads with each user's own state, and sees a change at once", async () => {
    const none = { totp: undefined, emailOtp: undefined, recoveryCodes: undefined };
    const plain = await session("plain@example.com", "p1", "pr1");
    const totp = await session("totp@example.com", "p2", "pr2");
    const mail = await session("mail@example.com", "p3", "pr3");
    await store.setPendingTotpSecret(totp, "sealed");
    await store.activateTotp({
      userId: totp,
      pendingSecretEnc: "sealed",
      step: 1,
      now: T0 + 1,
      recoveryCodeHashes: ["a", "b"],
    });
    await store.setPendingEmailOtp(mail, "otp@example.com");
    const expected = new Map<number, unknown>([
      [plain, none],
      [
        totp,
        {
          totp: { secretEnc: "sealed", pendingSecretEnc: null, enabledAt: T0 + 1 },
          emailOtp: undefined,
          recoveryCodes: { createdAt: T0 + 1, remaining: 2 },
        },
      ],
      [
        mail,
        {
          totp: undefined,
          emailOtp: { email: null, pendingEmail: "otp@example.com", enabledAt: null },
          recoveryCodes: undefined,
        },
      ],
      [999_999, none],
    ]);
    // Asked together (PostgreSQL answers them in one query), repeated and interleaved.
    const asked = [plain, totp, mail, 999_999, totp, plain, totp, mail];
    const answers = await Promise.all(asked.map((userId) => store.twoFactor(userId)));
    expect(answers).toEqual(asked.map((userId) => expected.get(userId)));

    // A change committed before a read is seen by it, whatever reads are in flight.
    const inFlight = asked.map((userId) => store.twoFactor(userId));
    await store.activateEmailOtp({ userId: mail, email: "otp@example.com", now: T0 + 2, recoveryCodeHashes: ["c"] });
    const [afterMail, afterTotp] = await Promise.all([store.twoFactor(mail), store.twoFactor(totp)]);
    expect(afterMail).toMatchObject({ emailOtp: { enabledAt: T0 + 2 }, recoveryCodes: { remaining: 1 } });
    expect(afterTotp).toMatchObject({ totp: { enabledAt: T0 + 1 }, recoveryCodes: { remaining: 2 } });
    await Promise.all(inFlight);
  });

  // SQLite only: another connection to the same file (on PostgreSQL every read is a query anyway).
  if (dialect.file !== undefined)
    it("sees a commit made by another connection (the CLI, another process) by the very next read", async () => {
      const userId = await session("carol@example.com", "s3", "r4");
      expect(await store.sessionStatus("s3")).toMatchObject({ revokedAt: null, userDisabled: false });
      expect(await store.refreshTokenStatus("r4")).toMatchObject({ usedAt: null });
      const other = new SQLite(dialect.file as string);
      try {
        other.prepare("update sessions set revoked_at = ? where id = ?").run(T0 + 7, "s3");
        expect(await store.sessionStatus("s3")).toMatchObject({ revokedAt: T0 + 7 });
        expect(await store.refreshTokenStatus("r4")).toMatchObject({ revokedAt: T0 + 7 });
        other.prepare("update users set disabled_at = ? where id = ?").run(T0 + 8, userId);
        expect(await store.sessionStatus("s3")).toMatchObject({ userDisabled: true });
        other.prepare("delete from sessions where id = ?").run("s3");
        expect(await store.sessionStatus("s3")).toBeUndefined();
        expect(await store.refreshTokenStatus("r4")).toBeUndefined();
      } finally {
        other.close();
      }
    });

  // SQLite: the reads asked in one turn of the event loop are answered together, with one look at
  // the wal-index taken after the last of them was asked.
  if (dialect.file !== undefined)
    it("answers a turn's reads after the turn, so a commit made in the same turn is seen", async () => {
      await session("dan@example.com", "s4", "r5");
      await session("erin@example.com", "s5", "r6");
      const other = new SQLite(dialect.file as string);
      try {
        const first = store.sessionStatus("s4");
        other.prepare("update sessions set revoked_at = ? where id in ('s4', 's5')").run(T0 + 11);
        const second = store.sessionStatus("s5");
        expect(await first).toMatchObject({ revokedAt: T0 + 11 });
        expect(await second).toMatchObject({ revokedAt: T0 + 11 });
      } finally {
        other.close();
      }
    });

  // PostgreSQL: the touch rides in the batched read, and a session row another transaction holds is
  // skipped rather than waited for (on SQLite every write waits for the one writer anyway).
  if (dialect.name === "postgres")
    it("reads a refresh token without waiting for a transaction that holds its session, and skips the touch", async () => {
      await session("fay@example.com", "s6", "r7");
      const lastUse = async () =>
        (await store.db.selectFrom("sessions").select("last_used_at").where("id", "=", "s6").executeTakeFirst())
          ?.last_used_at;
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let locked: () => void = () => {};
      const isLocked = new Promise<void>((resolve) => {
        locked = resolve;
      });
      const transaction = store.db.transaction().execute(async (trx) => {
        await trx.updateTable("sessions").set({ ip: "10.0.0.1" }).where("id", "=", "s6").execute();
        locked();
        await held;
      });
      await isLocked;
      expect(await store.refreshTokenStatusAndTouch("r7", { at: T0 + 100, ifLastUsedBy: T0 + 50 })).toMatchObject({
        sessionId: "s6",
        revokedAt: null,
      });
      release();
      await transaction;
      expect(await lastUse()).toBe(T0);
      await store.refreshTokenStatusAndTouch("r7", { at: T0 + 200, ifLastUsedBy: T0 + 150 });
      expect(await lastUse()).toBe(T0 + 200);
    });

  it("reads committed rows while another transaction holds the connection, and sees its commit", async () => {
    await session("bob@example.com", "s2", "r3");
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const transaction = store.db.transaction().execute(async (trx) => {
      await trx
        .updateTable("sessions")
        .set({ revoked_at: T0 + 5 })
        .where("id", "=", "s2")
        .execute();
      await held;
    });
    // Not committed yet: still live, and the read does not wait for the transaction.
    expect(await store.sessionStatus("s2")).toMatchObject({ revokedAt: null });
    release();
    await transaction;
    expect(await store.sessionStatus("s2")).toMatchObject({ revokedAt: T0 + 5 });
  });
});

/** Another store on the same PostgreSQL schema as `store`, with one connection (prepared statements are per connection). */
async function singleConnectionStore(store: KyselyStore, url: string): Promise<KyselyStore> {
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(store.db);
  return openKyselyStore(url, { searchPath: rows[0]?.schema as string, poolSize: 1 });
}

describe("the SQLite statement cache", () => {
  let database: TestDatabase;
  let store: KyselyStore;

  beforeEach(async () => {
    database = await createTestDatabase({ name: "sqlite", url: "sqlite::memory:" });
    store = database.store();
    await store.migrate();
  });
  afterEach(async () => {
    await database.drop();
  });

  it("binds fresh values on every run of a reused statement", async () => {
    const ids = [];
    for (const email of ["a@example.com", "b@example.com", "c@example.com"]) {
      ids.push(await store.createUser({ email, passwordHash: null, createdAt: T0 }));
    }
    for (const [index, email] of ["a@example.com", "b@example.com", "c@example.com"].entries()) {
      expect((await store.findUserByEmail(email))?.id).toBe(ids[index]);
    }
    expect(await store.findUserByEmail("nobody@example.com")).toBeUndefined();
  });

  it("prepares a query's text once, however often it runs", async () => {
    await store.createUser({ email: "a@example.com", passwordHash: null, createdAt: T0 });
    await store.findUserByEmail("a@example.com");
    const prepare = vi.spyOn(SQLite.prototype, "prepare");
    try {
      for (const email of ["a@example.com", "b@example.com", "a@example.com"]) await store.findUserByEmail(email);
      expect(await store.findUserById(1)).toMatchObject({ email: "a@example.com" });
      // findUserById's text was new: prepared once; findUserByEmail's was prepared before.
      expect(prepare.mock.calls.map(([text]) => text)).toEqual([expect.stringContaining('"id" = ?')]);
    } finally {
      prepare.mockRestore();
    }
  });

  it("reuses a statement after a stream read it fully or stopped early", async () => {
    for (const email of ["a@example.com", "b@example.com", "c@example.com"]) {
      await store.createUser({ email, passwordHash: null, createdAt: T0 });
    }
    const query = () => store.db.selectFrom("users").select("email").orderBy("id");
    const all = ["a@example.com", "b@example.com", "c@example.com"];
    const streamed: string[] = [];
    for await (const row of query().stream()) streamed.push(row.email);
    expect(streamed).toEqual(all);
    for await (const row of query().stream()) {
      expect(row.email).toBe("a@example.com");
      break;
    }
    expect((await query().execute()).map((r) => r.email)).toEqual(all);
  });
});

describe("RowsWhileUnchanged", () => {
  function reader(rows: Record<string, number>) {
    const reads: string[] = [];
    return {
      reads,
      read: (key: string) => {
        reads.push(key);
        return rows[key];
      },
    };
  }

  it("reads a key once per database version, the absent ones included", () => {
    const rows: Record<string, number> = { a: 1 };
    const memory = new RowsWhileUnchanged<number>(10);
    const { reads, read } = reader(rows);
    expect(memory.get(1, "a", read)).toBe(1);
    expect(memory.get(1, "a", read)).toBe(1);
    expect(memory.get(1, "none", read)).toBeUndefined();
    expect(memory.get(1, "none", read)).toBeUndefined();
    expect(reads).toEqual(["a", "none"]);
    // Another connection committed: the version moved and everything is read again.
    rows.a = 2;
    rows.none = 3;
    expect(memory.get(2, "a", read)).toBe(2);
    expect(memory.get(2, "none", read)).toBe(3);
    expect(reads).toEqual(["a", "none", "a", "none"]);
  });

  it("keeps at most maxRows, forgetting the oldest", () => {
    const memory = new RowsWhileUnchanged<number>(2);
    const { reads, read } = reader({ a: 1, b: 2, c: 3 });
    for (const key of ["a", "b", "c", "c", "b", "a"]) memory.get(1, key, read);
    expect(reads).toEqual(["a", "b", "c", "a"]);
  });
});
