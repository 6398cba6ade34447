import type pg from "pg";
import { RecentMap } from "../../../core/recent-map.js";
import type { SessionTouch } from "../../sessions.js";
import { ReadBatcher } from "./read-batcher.js";
import type { RevocationFeed, RevocationNotice } from "./revocation-feed.js";
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
 * The refresh-token status read that also moves the sessions' last use (an access token being
 * issued, §6): the read of many keys with, for each, the time to set and the last use at or before
 * which to set it. One statement per batch, so the write costs no round trip of its own and a busy
 * node commits once per batch, not once per request. A session row another transaction holds (a
 * revocation, a rotation, another batch's touch) is skipped, not waited for: the read never blocks
 * and batches cannot deadlock over rows taken in different orders, and the holder has either made
 * the last use current or ended the session.
 */
const REFRESH_TOKEN_STATUS_TOUCH_MANY = `with st as (${REFRESH_TOKEN_STATUS_SELECT} = any($1::text[])),
  due as (
    select s.id, k.at from sessions s
    inner join st on st.session_id = s.id
    inner join unnest($1::text[], $2::bigint[], $3::bigint[]) as k(jti, at, due) on k.jti = st.key
    where st.disabled_at is null and s.revoked_at is null and s.last_used_at <= k.due
    for update of s skip locked),
  touched as (update sessions s set last_used_at = due.at from due where s.id = due.id)
  select * from st`;

/**
 * refreshTokenStatusAndTouch, batched: each key's touch waits beside the batcher and goes with the
 * batch that takes the key (the latest one asked, when a key is asked again before its batch is sent).
 */
function touchingRead(pool: pg.Pool): NonNullable<PreparedReads["refreshTokenStatusAndTouch"]> {
  const touches = new Map<string, SessionTouch>();
  const batcher = new ReadBatcher<RefreshTokenStatusRow>(
    // The touches are taken before the first await: when the batch is sent, with its keys.
    async (keys) => {
      const at: (number | null)[] = [];
      const due: (number | null)[] = [];
      for (const key of keys) {
        const touch = touches.get(key);
        touches.delete(key);
        at.push(touch?.at ?? null);
        due.push(touch?.ifLastUsedBy ?? null);
      }
      const result = await pool.query<RefreshTokenStatusRow & { key: string }>({
        name: "latchkey_refresh_token_status_touch_many",
        text: REFRESH_TOKEN_STATUS_TOUCH_MANY,
        values: [keys, at, due],
      });
      return new Map(result.rows.map(({ key, ...row }) => [key, row]));
    },
    { maxInFlight: READ_BATCHES_IN_FLIGHT, maxBatch: READ_BATCH_SIZE },
  );
  return (jti, touch) => {
    const earlier = touches.get(jti);
    if (earlier === undefined || earlier.at < touch.at) touches.set(jti, touch);
    return batcher.load(jti);
  };
}

/** Sessions whose status a node keeps while its revocation feed listens. */
export const SESSION_CACHE_SIZE = 100_000;

/**
 * The session statuses a node has read, kept while its revocation feed listens (LATCHKEY_SESSION_CACHE):
 * a validation then costs no round trip. A notice of a session or a user drops what it concerns; a
 * reset (the feed reconnected, or this node revoked something) drops everything.
 */
export class SessionStatusCache {
  readonly #rows = new RecentMap<string, SessionStatusRow>(SESSION_CACHE_SIZE);

  get size(): number {
    return this.#rows.size;
  }

  get(sessionId: string): SessionStatusRow | undefined {
    return this.#rows.get(sessionId);
  }

  set(sessionId: string, row: SessionStatusRow): void {
    this.#rows.set(sessionId, row);
  }

  notice(notice: RevocationNotice): void {
    if (notice.kind === "session") {
      this.#rows.delete(notice.id);
      return;
    }
    for (const [sessionId, row] of this.#rows.entries()) if (row.user_id === notice.id) this.#rows.delete(sessionId);
  }

  clear(): void {
    this.#rows.clear();
  }
}

/**
 * Resolves on the next turn of the event loop, together with every other call of this turn (one
 * `setImmediate` a turn, not one a call).
 */
function turnGate(schedule: (callback: () => void) => void = setImmediate): () => Promise<void> {
  let waiting: Array<() => void> | undefined;
  return () =>
    new Promise<void>((resolve) => {
      if (waiting === undefined) {
        const these: Array<() => void> = [];
        waiting = these;
        schedule(() => {
          waiting = undefined;
          for (const release of these) release();
        });
      }
      waiting.push(resolve);
    });
}

/**
 * A session's status from the cache while the feed listens, else from the database. A row read is
 * kept only if no notice or reset came while it was read (the generation did not move): a read that
 * raced a revocation is answered, not remembered.
 *
 * Answers from memory are handed out together on the next turn of the event loop, as the SQLite
 * reads are: a busy node then writes the responses of one turn together, after reading every request
 * of that turn, instead of one in the middle of the reads. That cost the event loop ~18 % less per
 * validation than answering each at once (four interleaved pairs of runs, 2026-12-03).
 */
export function cachedSessionStatus(
  load: (sessionId: string) => Promise<SessionStatusRow | undefined>,
  feed: Pick<RevocationFeed, "trusted" | "generation">,
  cache: SessionStatusCache,
  schedule?: (callback: () => void) => void,
): (sessionId: string) => Promise<SessionStatusRow | undefined> {
  const nextTurn = turnGate(schedule);
  return async (sessionId) => {
    if (!feed.trusted) return load(sessionId);
    if (cache.get(sessionId) !== undefined) {
      await nextTurn();
      // Looked up again once the turn has come: a notice that arrived meanwhile is not overlooked.
      const cached = feed.trusted ? cache.get(sessionId) : undefined;
      if (cached !== undefined) return cached;
    }
    const generation = feed.generation;
    const row = await load(sessionId);
    if (row !== undefined && feed.trusted && feed.generation === generation) cache.set(sessionId, row);
    return row;
  };
}

/**
 * PostgreSQL: named statements (parsed and planned once per pooled connection), and concurrent
 * reads coalesced into one query per batch. Each batch is sent after the requests it answers
 * arrived, so it sees every commit made before them (see ReadBatcher).
 */
export function postgresReads(
  pool: pg.Pool,
  pushed?: { feed: RevocationFeed; cache: SessionStatusCache },
): PreparedReads {
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
  const load = (sessionId: string) => sessions.load(sessionId);
  return {
    sessionStatus: pushed ? cachedSessionStatus(load, pushed.feed, pushed.cache) : load,
    refreshTokenStatus: (jti) => refreshTokens.load(jti),
    refreshTokenStatusAndTouch: touchingRead(pool),
    twoFactorState: (userId) => twoFactorStates.load(String(userId)),
    ...(pushed
      ? {
          sessionsChanged: () => pushed.feed.bump(),
          sessionCache: { feed: pushed.feed, size: () => pushed.cache.size },
        }
      : {}),
    // The pool is the database's own: closing the database ends it; the feed has its own connection.
    close: () => void pushed?.feed.close(),
  };
}
