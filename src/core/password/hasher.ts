import { availableParallelism } from "node:os";
import { type Algorithm, hash, verify } from "@node-rs/argon2";

/** `Algorithm.Argon2id` of @node-rs/argon2 (an ambient const enum, which isolated modules cannot read). */
const ARGON2ID = 2 as Algorithm.Argon2id;

/** Argon2id cost parameters (§4: at least m = 19 MiB, t = 2, p = 1 — OWASP's minimum for argon2id). */
export interface Argon2Params {
  memoryKib: number;
  iterations: number;
  parallelism: number;
}

export const MIN_ARGON2_PARAMS: Argon2Params = { memoryKib: 19456, iterations: 2, parallelism: 1 };

export interface PasswordHasher {
  /** A PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). */
  hash(password: string): Promise<string>;
  /** False for a wrong password and for a hash that cannot be parsed; never throws. */
  verify(phc: string, password: string): Promise<boolean>;
  /** True when the stored hash was made with other parameters than the current ones. */
  needsRehash(phc: string): boolean;
}

const PHC_PARAMS = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/;

export function parsePhcParams(phc: string): Argon2Params | undefined {
  const match = PHC_PARAMS.exec(phc);
  if (!match) return undefined;
  return { memoryKib: Number(match[1]), iterations: Number(match[2]), parallelism: Number(match[3]) };
}

/**
 * Runs at most `limit` tasks at once; the others wait their turn in order of arrival.
 * Exported for its tests.
 */
export class ConcurrencyLimit {
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError("limit must be a whole number ≥ 1");
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#running += 1;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next in line, or is freed.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running -= 1;
    }
  }
}

/**
 * `maxConcurrent`: argon2id hashes handed to libuv's thread pool at once, at most; the rest wait in
 * line here (every guess is still verified in full, in order of arrival). Each computing hash holds
 * `memoryKib` of memory and a core, so more at once than there are cores adds memory and no
 * throughput. The default is one per core plus one: the pool (one thread per core under `npm
 * start`) computes one per core, and the extra one waits in the pool's own queue, so a thread that
 * finishes a hash starts the next without waiting for the event loop to hand it over.
 */
export function createArgon2Hasher(params: Argon2Params, maxConcurrent = availableParallelism() + 1): PasswordHasher {
  const options = {
    algorithm: ARGON2ID,
    memoryCost: params.memoryKib,
    timeCost: params.iterations,
    parallelism: params.parallelism,
  };
  const limit = new ConcurrencyLimit(maxConcurrent);
  return {
    hash: (password) => limit.run(() => hash(password, options)),
    async verify(phc, password) {
      try {
        return await limit.run(() => verify(phc, password));
      } catch {
        return false;
      }
    },
    needsRehash(phc) {
      const stored = parsePhcParams(phc);
      return (
        stored === undefined ||
        stored.memoryKib !== params.memoryKib ||
        stored.iterations !== params.iterations ||
        stored.parallelism !== params.parallelism
      );
    },
  };
}
