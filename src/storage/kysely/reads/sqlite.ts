import SQLite from "better-sqlite3";
import { CompiledQuery, type Kysely, sql } from "kysely";
import { RecentMap } from "../../../core/recent-map.js";
import type { Database } from "../schema.js";
import { PAGE_CACHE_KIB } from "../sqlite-file.js";
import { CommitWatch } from "./commit-watch.js";
import { ReadBatcher } from "./read-batcher.js";
import {
  type PreparedReads,
  REFRESH_TOKEN_STATUS_SELECT,
  type RefreshTokenStatusRow,
  SESSION_STATUS_SELECT,
  type SessionStatusRow,
  TWO_FACTOR_ONE,
  type TwoFactorStateRow,
} from "./sql.js";

/** Rows remembered per read while the SQLite file is unchanged; beyond this the oldest go. */
const UNCHANGED_ROWS_KEPT = 10_000;

/** Keys answered by one look at the wal-index, at most (the rest go in the next batch, at once). */
const READ_BATCH_SIZE = 1024;

/**
 * Rows read by key, kept only while the database has not changed. `version` is a CommitWatch's,
 * taken before the row: it changes whenever any connection commits (this process's writer, the CLI,
 * another process), and a new version forgets every row. A row read after
 * the version was taken is at least as new as that version, so a kept row is never older than the
 * last commit seen; and every lookup asks for the version first, so a revocation committed before a
 * request is seen by that request.
 */
export class RowsWhileUnchanged<Row> {
  readonly #rows: RecentMap<string, Row | null>;
  #version: number | undefined;

  constructor(readonly maxRows: number) {
    this.#rows = new RecentMap(maxRows);
  }

  /** The row of `key` at `version` (null: known to have none), reading it with `read` when not kept. */
  get(version: number, key: string, read: (key: string) => Row | undefined): Row | undefined {
    if (version !== this.#version) {
      this.#rows.clear();
      this.#version = version;
    }
    const kept = this.#rows.get(key);
    if (kept !== undefined) return kept ?? undefined;
    const row = read(key);
    this.#rows.set(key, row ?? null);
    return row;
  }
}

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
    { maxInFlight: 1, maxBatch: READ_BATCH_SIZE },
  );
}

/** The reader: a query-only connection to the file, its commit watch and its statements. */
interface Reader {
  db: SQLite.Database;
  commits: CommitWatch;
  sessionStatus: SQLite.Statement<[string], SessionStatusRow>;
  refreshTokenStatus: SQLite.Statement<[string], RefreshTokenStatusRow>;
  twoFactorState: SQLite.Statement<[number, number, number, number], TwoFactorStateRow>;
}

function openReader(path: string): Reader {
  const db = new SQLite(path, { fileMustExist: true });
  db.pragma("busy_timeout = 5000");
  db.pragma("query_only = ON");
  db.pragma(`cache_size = ${PAGE_CACHE_KIB}`);
  const dataVersion = db.prepare<[], number>("pragma data_version").pluck();
  // This first read maps the wal-index (the -shm file), which the connection holds until it closes.
  dataVersion.get();
  const wal = db.pragma("journal_mode", { simple: true }) === "wal";
  return {
    db,
    commits: new CommitWatch(wal ? `${path}-shm` : undefined, () => dataVersion.get() as number),
    sessionStatus: db.prepare(`${SESSION_STATUS_SELECT} = ?`),
    refreshTokenStatus: db.prepare(`${REFRESH_TOKEN_STATUS_SELECT} = ?`),
    twoFactorState: db.prepare(TWO_FACTOR_ONE),
  };
}

/**
 * SQLite in a file: a second, query-only connection to it. Kysely serialises everything on its one
 * connection (a transaction holds it across awaits); this one reads the last committed state (WAL)
 * without waiting for that, and keeps its statements prepared. While nobody commits, rows already
 * read are answered from memory after one look at the wal-index header (see CommitWatch and
 * RowsWhileUnchanged).
 */
export function sqliteFileReads(path: string): PreparedReads {
  let reader: Reader | undefined;
  // Opened on first use: by then migrations have created the tables the statements name.
  const open = () => {
    reader ??= openReader(path);
    return reader;
  };
  const version = () => open().commits.version();
  const sessions = turnBatched<SessionStatusRow>(version, new RowsWhileUnchanged(UNCHANGED_ROWS_KEPT), (id) =>
    open().sessionStatus.get(id),
  );
  const refreshTokens = turnBatched<RefreshTokenStatusRow>(
    version,
    new RowsWhileUnchanged(UNCHANGED_ROWS_KEPT),
    (jti) => open().refreshTokenStatus.get(jti),
  );
  return {
    sessionStatus: (sessionId) => sessions.load(sessionId),
    refreshTokenStatus: (jti) => refreshTokens.load(jti),
    // Read at once on the reader: the state is read far less often than sessions, so it is not kept.
    twoFactorState: async (userId) => open().twoFactorState.get(userId, userId, userId, userId),
    close() {
      reader?.commits.close();
      reader?.db.close();
      reader = undefined;
    },
  };
}

/**
 * In-memory SQLite: it cannot be shared between connections, so the reads go through Kysely on its
 * one connection (whose statement cache keeps them prepared, see connect.ts).
 */
export function sqliteMemoryReads(db: Kysely<Database>): PreparedReads {
  const first = async <Row>(select: string, key: string) =>
    (await sql<Row>`${sql.raw(select)} = ${key}`.execute(db)).rows[0];
  return {
    sessionStatus: (sessionId) => first<SessionStatusRow>(SESSION_STATUS_SELECT, sessionId),
    refreshTokenStatus: (jti) => first<RefreshTokenStatusRow>(REFRESH_TOKEN_STATUS_SELECT, jti),
    twoFactorState: async (userId) =>
      (await db.executeQuery<TwoFactorStateRow>(CompiledQuery.raw(TWO_FACTOR_ONE, [userId, userId, userId, userId])))
        .rows[0],
    close() {},
  };
}
