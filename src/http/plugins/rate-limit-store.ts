import type { FastifyBaseLogger } from "fastify";
import type { Redis } from "ioredis";
import { RecentMap } from "../../core/recent-map.js";
import type { Clock } from "../../platform/clock.js";

/** What @fastify/rate-limit asks of a store: the count of this window so far, and what is left of it. */
interface WindowCount {
  current: number;
  ttl: number;
}
type Callback = (error: Error | null, result?: WindowCount) => void;

/** Client addresses one node counts while it counts alone. */
const LOCAL_ADDRESSES = 10_000;

/** One Redis round trip: the window's count, and the window's end set by its first request. */
const INCREMENT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}`;

/** Fixed windows counted in this process. */
class LocalWindows {
  readonly #windows = new RecentMap<string, { count: number; endsAt: number }>(LOCAL_ADDRESSES);
  constructor(private readonly clock: Clock) {}

  increment(key: string, windowMs: number): WindowCount {
    const now = this.clock.now();
    const live = this.#windows.get(key);
    const window = live !== undefined && live.endsAt > now ? live : { count: 0, endsAt: now + windowMs };
    window.count++;
    this.#windows.set(key, window);
    return { current: window.count, ttl: window.endsAt - now };
  }
}

/**
 * The per-address limit's counters: in Redis when one is configured, so that every node counts the
 * same windows; in the node's memory otherwise, and also while Redis does not answer — then each node
 * counts alone (the limit a client meets is at most the setting times the nodes), one warning is
 * logged when that starts and a line when Redis is back. A request never waits on a Redis that is
 * down, and never passes unlimited.
 */
export function rateLimitStore(redis: Redis | undefined, clock: Clock, log: FastifyBaseLogger) {
  const local = new LocalWindows(clock);
  let alone = false;
  const countAlone = (key: string, windowMs: number, error: unknown): WindowCount => {
    if (!alone) {
      alone = true;
      log.warn({ err: error }, "redis is not answering: each node counts the per-address limit alone until it is back");
    }
    return local.increment(key, windowMs);
  };
  return class RateLimitStore {
    // The plugin passes the window (and the limit, unused here), though its types name only two arguments.
    incr(key: string, callback: Callback, windowMs = 60_000): void {
      if (redis === undefined) {
        callback(null, local.increment(key, windowMs));
        return;
      }
      redis.eval(INCREMENT, 1, `latchkey-rate-limit:${key}`, windowMs).then(
        (reply) => {
          const [current, ttl] = reply as [number, number];
          if (alone) {
            alone = false;
            log.info("redis answers again: the per-address limit is shared by every node");
          }
          callback(null, { current, ttl: ttl > 0 ? ttl : windowMs });
        },
        (error: unknown) => callback(null, countAlone(key, windowMs, error)),
      );
    }

    /** Every limited route shares the one limit: a route gets the same counters. */
    child(): RateLimitStore {
      return this;
    }
  };
}
