import SQLite from "better-sqlite3";
import { Kysely, PostgresDialect, type SqliteDatabase, SqliteDialect } from "kysely";
import pg from "pg";
import { RecentMap } from "../../core/recent-map.js";
import type { Dialect } from "../store.js";
import { namedStatementClient, StatementNames } from "./pg-statements.js";
import { postgresReads, SessionStatusCache } from "./reads/postgres.js";
import { RevocationFeed } from "./reads/revocation-feed.js";
import type { PreparedReads } from "./reads/sql.js";
import { sqliteFileReads, sqliteMemoryReads } from "./reads/sqlite.js";
import type { Database } from "./schema.js";
import { PAGE_CACHE_KIB, prepareSqliteFile } from "./sqlite-file.js";

/** An open database: Kysely over it, and the reads prepared for it (reads/), which the store is built with. */
export interface Connection {
  db: Kysely<Database>;
  dialect: Dialect;
  reads: PreparedReads;
}

export interface ConnectOptions {
  /** Puts PostgreSQL connections in one schema (the test suites use a schema each). */
  searchPath?: string;
  poolSize?: number;
  /**
   * PostgreSQL: keep the session statuses read, on a feed of the database's revocation notices
   * (LATCHKEY_SESSION_CACHE). SQLite reads in-process and keeps nothing.
   */
  sessionCache?: boolean;
  /** The first pause before the revocation feed connects again (100 ms, doubling up to 5 s). */
  revocationRetryMs?: number;
}

const PG_INT8_OID = 20;

/** Statements kept per SQLite connection; Kysely's SQL texts are few (one per query shape). */
const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely prepares every query it runs, and better-sqlite3 compiles the SQL text each time (tens of
 * microseconds, more than most of our indexed statements take to run). This keeps the prepared
 * statements by SQL text (those not used lately are forgotten beyond the bound) and hands them out again; values are
 * still bound per execution. A statement still iterating a result (a streamed query) is never shared.
 */
function withStatementCache(sqlite: SQLite.Database): SqliteDatabase {
  const statements = new RecentMap<string, SQLite.Statement>(STATEMENT_CACHE_SIZE);
  return {
    prepare(text: string) {
      const cached = statements.get(text);
      if (cached !== undefined && !cached.busy) return cached;
      const statement = sqlite.prepare(text);
      if (cached === undefined) statements.set(text, statement);
      return statement;
    },
    close() {
      statements.clear();
      sqlite.close();
    },
  };
}

function connectSqlite(path: string): Connection {
  const inMemory = path === ":memory:" || path === "";
  if (!inMemory) prepareSqliteFile(path);
  const sqlite = new SQLite(path);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma(`cache_size = ${PAGE_CACHE_KIB}`);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return { db, dialect: "sqlite", reads: inMemory ? sqliteMemoryReads(db) : sqliteFileReads(path) };
}

function connectPostgres(url: string, options: ConnectOptions): Connection {
  const settings = {
    connectionString: url,
    connectionTimeoutMillis: 5000,
    ...(options.searchPath ? { options: `-c search_path=${options.searchPath}` } : {}),
    // Times and ids are BIGINT: read them as numbers (they stay far below 2^53).
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === PG_INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  };
  const pool = new pg.Pool({
    ...settings,
    Client: namedStatementClient(new StatementNames()),
    max: options.poolSize ?? 10,
  });
  // An idle client that loses its connection must not crash the process; the next query reports it.
  pool.on("error", () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  if (!options.sessionCache) return { db, dialect: "postgres", reads: postgresReads(pool) };
  const cache = new SessionStatusCache();
  const feed = new RevocationFeed(
    () => new pg.Client({ ...settings, keepAlive: true }),
    {
      notice: (notice) => cache.notice(notice),
      reset: () => cache.clear(),
    },
    options.revocationRetryMs === undefined ? {} : { firstRetryMs: options.revocationRetryMs },
  );
  feed.start();
  return { db, dialect: "postgres", reads: postgresReads(pool, { feed, cache }) };
}

/** Opens `sqlite:<path>` (`sqlite::memory:` for a private in-memory database) or `postgres://…`. */
export function connect(url: string, options: ConnectOptions = {}): Connection {
  return url.startsWith("sqlite:") ? connectSqlite(url.slice("sqlite:".length)) : connectPostgres(url, options);
}
