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

export function createArgon2Hasher(params: Argon2Params): PasswordHasher {
  const options = {
    algorithm: ARGON2ID,
    memoryCost: params.memoryKib,
    timeCost: params.iterations,
    parallelism: params.parallelism,
  };
  return {
    hash: (password) => hash(password, options),
    async verify(phc, password) {
      try {
        return await verify(phc, password);
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
