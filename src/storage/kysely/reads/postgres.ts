import type pg from "pg";
import { ReadBatcher } from "./read-batcher.js";
import {
  type PreparedReads,
  REFRESH_TOKEN_STATUS_SELECT,
  type RefreshTokenStatusRow,
  SESSION_STATUS_SELECT,
  type SessionStatusRow,
  TWO_FACTOR_MANY,
  type TwoFactorStateRow,
} from "./sql.js";

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
export function postgresReads(pool: pg.Pool): PreparedReads {
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
    twoFactorState: (userId) => twoFactorStates.load(String(userId)),
    // The pool is the database's own: closing the database ends it.
    close() {},
  };
}
