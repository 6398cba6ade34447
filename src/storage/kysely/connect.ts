import SQLite from "better-sqlite3";
import { CompiledQuery, type Driver, Kysely, PostgresDialect, type SqliteDatabase, SqliteDialect, sql } from "kysely";
import pg from "pg";
import { setBounded } from "../../core/bounded-map.js";
import type { Dialect } from "../store.js";
import { CommitWatch } from "./commit-watch.js";
import { namedStatementClient, StatementNames } from "./pg-statements.js";
import { ReadBatcher } from "./read-batcher.js";
import type { Database } from "./schema.js";
import { prepareSqliteFile } from "./sqlite-file.js";

export interface Connection {
  db: Kysely<Database>;
  dialect: Dialect;
}

const PG_INT8_OID = 20;

/** The row of the session-status read: the session joined with its user by primary key. */
export interface SessionStatusRow {
  user_id: number;
  revoked_at: number | null;
  expires_at: number;
  disabled_at: number | null;
}

/** The row of the refresh-token-status read: the token's row, its session and its user. */
export interface RefreshTokenStatusRow extends SessionStatusRow {
  session_id: string;
  used_at: number | null;
}

/** The row of the second-factor state read: a user's TOTP and email OTP rows and recovery-code counts. */
export interface TwoFactorStateRow {
  totp_user: number | null;
  secret_enc: string | null;
  pending_secret_enc: string | null;
  totp_enabled_at: number | null;
  email_user: number | null;
  email: string | null;
  pending_email: string | null;
  email_enabled_at: number | null;
  codes_created_at: number | string | null;
  codes_total: number | string;
  codes_used: number | string;
}

/**
 * The reads every authenticated request makes (and the second-factor state, which `GET /user/2fa`
 * and the sudo-or-access endpoints read), prepared once instead of a query built, compiled and
 * prepared per request. Each reads committed rows by key, and a change committed before a read is
 * seen by it (see the implementations below for how each dialect keeps that cheap).
 */
export interface PreparedReads {
  sessionStatus(sessionId: string): Promise<SessionStatusRow | undefined>;
  refreshTokenStatus(jti: string): Promise<RefreshTokenStatusRow | undefined>;
  twoFactorState(userId: number): Promise<TwoFactorStateRow>;
}

// The two reads, written once: each returns its key as the column `key`, and ends with the key's
// column, to which every dialect appends its own condition (`= ?`, `= any($1)`).
const SESSION_STATUS_SELECT = `select s.id as key, s.user_id, s.revoked_at, s.expires_at, u.disabled_at
  from sessions s inner join users u on u.id = s.user_id where s.id`;
const REFRESH_TOKEN_STATUS_SELECT = `select r.jti as key, r.session_id, r.used_at, s.user_id, s.revoked_at,
  s.expires_at, u.disabled_at
  from refresh_tokens r inner join sessions s on s.id = r.session_id inner join users u on u.id = s.user_id
  where r.jti`;

// The second-factor state: one row per user, with nulls for the methods the user does not have and
// a count of 0 codes. Written once for one user (`?`, bound three times) and for many (`$1`, an array
// of user ids, joined laterally).
const TWO_FACTOR_COLUMNS = `t.user_id as totp_user, t.secret_enc, t.pending_secret_enc, t.enabled_at as totp_enabled_at,
  e.user_id as email_user, e.email, e.pending_email, e.enabled_at as email_enabled_at,
  r.created_at as codes_created_at, r.total as codes_total, r.used as codes_used`;
const twoFactorOf = (id: string) => `(select min(created_at) as created_at, count(*) as total, count(used_at) as used
        from recovery_codes where user_id = ${id}) r
  left join user_totp t on t.user_id = ${id}
  left join user_email_otp e on e.user_id = ${id}`;
const TWO_FACTOR_ONE = `select ${TWO_FACTOR_COLUMNS} from ${twoFactorOf("?")}`;
const TWO_FACTOR_MANY = `select u.id as key, ${TWO_FACTOR_COLUMNS}
  from unnest($1::bigint[]) as u(id) cross join lateral ${twoFactorOf("u.id")}`;

/**
 * The state read always returns one row per user asked (nulls and zero counts for a user with no
 * second factor). A missing row means the read itself is broken; answering "no second factor" then
 * would let an access token through where a sudo token is required, so it fails closed instead.
 */
function stateRow(row: TwoFactorStateRow | undefined): TwoFactorStateRow {
  if (row === undefined) throw new Error("the second-factor state read returned no row");
  return row;
}

const preparedReads = new WeakMap<Kysely<Database>, PreparedReads>();

/** The reads of a database opened by `connect`. */
export function preparedReadsOf(db: Kysely<Database>): PreparedReads {
  const reads = preparedReads.get(db);
  if (reads === undefined) throw new Error("a database opened by connect() was expected");
  return reads;
}

/** In-memory SQLite: one connection only, so the reads go through Kysely on it (with its statement cache). */
function kyselyReads(db: Kysely<Database>): PreparedReads {
  const first = async <Row>(select: string, key: string) =>
    (await sql<Row>`${sql.raw(select)} = ${key}`.execute(db)).rows[0];
  return {
    sessionStatus: (sessionId) => first<SessionStatusRow>(SESSION_STATUS_SELECT, sessionId),
    refreshTokenStatus: (jti) => first<RefreshTokenStatusRow>(REFRESH_TOKEN_STATUS_SELECT, jti),
    twoFactorState: async (userId) => {
      const query = CompiledQuery.raw(TWO_FACTOR_ONE, [userId, userId, userId]);
      return stateRow((await db.executeQuery<TwoFactorStateRow>(query)).rows[0]);
    },
  };
}

/**
 * SQLite's page cache per connection, negative: KiB (better-sqlite3's default is 16 000 KiB, and the
 * writer and the reader each fill theirs: 32 MB of the process). Pages beyond it are read again
 * from the operating system's file cache, which holds them anyway.
 */
const PAGE_CACHE_KIB = -4000;

/** Rows remembered per read while the SQLite file is unchanged; beyond this the oldest go. */
const UNCHANGED_ROWS_KEPT = 10_000;

/**
 * Rows read by key, kept only while the database has not changed. `version` is a CommitWatch's,
 * taken before the row: it changes whenever any connection commits (this process's writer, the CLI,
 * another process), and a new version forgets every row. A row read after
 * the version was taken is at least as new as that version, so a kept row is never older than the
 * last commit seen; and every lookup asks for the version first, so a revocation committed before a
 * request is seen by that request.
 */
export class RowsWhileUnchanged<Row> {
  readonly #rows = new Map<string, Row | null>();
  #version: number | undefined;

  constructor(readonly maxRows: number) {}

  /** The row of `key` at `version` (null: known to have none), reading it with `read` when not kept. */
  get(version: number, key: string, read: (key: string) => Row | undefined): Row | undefined {
    if (version !== this.#version) {
      this.#rows.clear();
      this.#version = version;
    }
    const kept = this.#rows.get(key);
    if (kept !== undefined) return kept ?? undefined;
    const row = read(key);
    setBounded(this.#rows, key, row ?? null, this.maxRows);
    return row;
  }
}

/** Keys answered by one look at the wal-index, at most (the rest go in the next batch, at once). */
const SQLITE_READ_BATCH_SIZE = 1024;

/**
 * The reads of one turn of the event loop, answered together: one look at the commit version, taken
 * after the last of them was asked (so each sees every commit made before it was asked), then each
 * row from memory or from its statement. On a busy node this takes the version check off each request
 * and sends the turn's responses together.
 */
function turnBatched<Row>(
  version: () => number,
  memory: RowsWhileUnchanged<Row>,
  read: (key: string) => Row | undefined,
): ReadBatcher<Row> {
  return new ReadBatcher<Row>(
    async (keys) => {
      const at = version();
      const rows = new Map<string, Row>();
      for (const key of keys) {
        const row = memory.get(at, key, read);
        if (row !== undefined) rows.set(key, row);
      }
      return rows;
    },
    { maxInFlight: 1, maxBatch: SQLITE_READ_BATCH_SIZE },
  );
}

/**
 * SQLite: a second, query-only connection to the same file. Kysely serialises everything on its one
 * connection (a transaction holds it across awaits); this one reads the last committed state (WAL)
 * without waiting for that, and keeps its statements prepared. While nobody commits, rows already
 * read are answered from memory after one look at the wal-index header (see CommitWatch and
 * RowsWhileUnchanged).
 * An in-memory database cannot be shared between connections, so it has none.
 */
function sqliteReads(path: string): { reads: PreparedReads; close(): void } {
  let reader:
    | {
        db: SQLite.Database;
        commits: CommitWatch;
        sessionStatus: SQLite.Statement<[string], SessionStatusRow>;
        refreshTokenStatus: SQLite.Statement<[string], RefreshTokenStatusRow>;
        twoFactorState: SQLite.Statement<[number, number, number], TwoFactorStateRow>;
      }
    | undefined;
  // Opened on first use: by then migrations have created the tables the statements name.
  const open = () => {
    if (reader === undefined) {
      const db = new SQLite(path, { fileMustExist: true });
      db.pragma("busy_timeout = 5000");
      db.pragma("query_only = ON");
      db.pragma(`cache_size = ${PAGE_CACHE_KIB}`);
      const dataVersion = db.prepare<[], number>("pragma data_version").pluck();
      // This first read maps the wal-index (the -shm file), which the connection holds until it closes.
      dataVersion.get();
      const wal = db.pragma("journal_mode", { simple: true }) === "wal";
      reader = {
        db,
        commits: new CommitWatch(wal ? `${path}-shm` : undefined, () => dataVersion.get() as number),
        sessionStatus: db.prepare(`${SESSION_STATUS_SELECT} = ?`),
        refreshTokenStatus: db.prepare(`${REFRESH_TOKEN_STATUS_SELECT} = ?`),
        twoFactorState: db.prepare(TWO_FACTOR_ONE),
      };
    }
    return reader;
  };
  const version = () => open().commits.version();
  const sessionReads = turnBatched<SessionStatusRow>(version, new RowsWhileUnchanged(UNCHANGED_ROWS_KEPT), (id) =>
    open().sessionStatus.get(id),
  );
  const refreshTokenReads = turnBatched<RefreshTokenStatusRow>(
    version,
    new RowsWhileUnchanged(UNCHANGED_ROWS_KEPT),
    (jti) => open().refreshTokenStatus.get(jti),
  );
  return {
    reads: {
      sessionStatus: (sessionId) => sessionReads.load(sessionId),
      refreshTokenStatus: (jti) => refreshTokenReads.load(jti),
      // Read at once on the reader: the state is read far less often than sessions, so it is not kept.
      twoFactorState: async (userId) => stateRow(open().twoFactorState.get(userId, userId, userId)),
    },
    close() {
      reader?.commits.close();
      reader?.db.close();
      reader = undefined;
    },
  };
}

/**
 * Batches of keys in flight per read, at most: under load the keys of many requests gather while
 * these are answered and go in one round trip; the rest of the pool (10 connections) is left to
 * writes. Six kept a node busy where three left it waiting on the database.
 */
const READ_BATCHES_IN_FLIGHT = 6;
const READ_BATCH_SIZE = 256;

/** A named many-row read by key, batched. */
function batchedRead<Row>(pool: pg.Pool, name: string, text: string): ReadBatcher<Row> {
  return new ReadBatcher<Row>(
    async (keys) => {
      const result = await pool.query<Row & { key: string | number }>({ name, text, values: [keys] });
      // Keys come back as the database typed them (a user id is a number): compare them as text.
      return new Map(result.rows.map(({ key, ...row }) => [String(key), row as Row]));
    },
    { maxInFlight: READ_BATCHES_IN_FLIGHT, maxBatch: READ_BATCH_SIZE },
  );
}

/**
 * PostgreSQL: named statements (parsed and planned once per pooled connection), and concurrent
 * reads coalesced into one query per batch. Each batch is sent after the requests it answers
 * arrived, so it sees every commit made before them (see ReadBatcher).
 */
function postgresReads(pool: pg.Pool): PreparedReads {
  const sessions = batchedRead<SessionStatusRow>(
    pool,
    "latchkey_session_status_many",
    `${SESSION_STATUS_SELECT} = any($1::text[])`,
  );
  const refreshTokens = batchedRead<RefreshTokenStatusRow>(
    pool,
    "latchkey_refresh_token_status_many",
    `${REFRESH_TOKEN_STATUS_SELECT} = any($1::text[])`,
  );
  const twoFactorStates = batchedRead<TwoFactorStateRow>(pool, "latchkey_two_factor_many", TWO_FACTOR_MANY);
  return {
    sessionStatus: (sessionId) => sessions.load(sessionId),
    refreshTokenStatus: (jti) => refreshTokens.load(jti),
    twoFactorState: async (userId) => stateRow(await twoFactorStates.load(String(userId))),
  };
}

/** Statements kept per SQLite connection; Kysely's SQL texts are few (one per query shape). */
const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely prepares every query it runs, and better-sqlite3 compiles the SQL text each time (tens of
 * microseconds, more than most of our indexed statements take to run). This keeps the prepared
 * statements by SQL text (least recently used beyond the bound) and hands them out again; values are
 * still bound per execution. A statement still iterating a result (a streamed query) is never shared.
 */
function withStatementCache(sqlite: SQLite.Database): SqliteDatabase {
  const statements = new Map<string, SQLite.Statement>();
  return {
    prepare(text: string) {
      const cached = statements.get(text);
      if (cached !== undefined && !cached.busy) {
        setBounded(statements, text, cached, STATEMENT_CACHE_SIZE);
        return cached;
      }
      const statement = sqlite.prepare(text);
      if (cached === undefined) setBounded(statements, text, statement, STATEMENT_CACHE_SIZE);
      return statement;
    },
    close() {
      statements.clear();
      sqlite.close();
    },
  };
}

/** Runs `onDestroy` when Kysely destroys the driver (the store's close). */
function withOnDestroy(driver: Driver, onDestroy: () => void): Driver {
  const destroy = driver.destroy.bind(driver);
  driver.destroy = async () => {
    onDestroy();
    await destroy();
  };
  return driver;
}

/**
 * Opens `sqlite:<path>` (`sqlite::memory:` for a private in-memory database) or `postgres://…`.
 * `searchPath` puts PostgreSQL connections in one schema (the test suites use a schema each).
 */
export function connect(url: string, options: { searchPath?: string; poolSize?: number } = {}): Connection {
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length);
    if (path !== ":memory:" && path !== "") prepareSqliteFile(path);
    const sqlite = new SQLite(path);
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("synchronous = NORMAL");
    sqlite.pragma("busy_timeout = 5000");
    sqlite.pragma("foreign_keys = ON");
    sqlite.pragma(`cache_size = ${PAGE_CACHE_KIB}`);
    if (path === ":memory:" || path === "") {
      const database = withStatementCache(sqlite);
      const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
      preparedReads.set(db, kyselyReads(db));
      return { db, dialect: "sqlite" };
    }
    const { reads, close } = sqliteReads(path);
    const dialect = new (class extends SqliteDialect {
      override createDriver(): Driver {
        return withOnDestroy(super.createDriver(), close);
      }
    })({ database: withStatementCache(sqlite) });
    const db = new Kysely<Database>({ dialect });
    preparedReads.set(db, reads);
    return { db, dialect: "sqlite" };
  }
  const pool = new pg.Pool({
    Client: namedStatementClient(new StatementNames()),
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 5000,
    ...(options.searchPath ? { options: `-c search_path=${options.searchPath}` } : {}),
    // Times and ids are BIGINT: read them as numbers (they stay far below 2^53).
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === PG_INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client that loses its connection must not crash the process; the next query reports it.
  pool.on("error", () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  preparedReads.set(db, postgresReads(pool));
  return { db, dialect: "postgres" };
}
