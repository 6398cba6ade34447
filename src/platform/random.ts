import { randomBytes, randomInt, randomUUID } from "node:crypto";

/** The randomness seam: every secret, id and code comes from here (a CSPRNG). */
export interface Random {
  bytes(length: number): Buffer;
  /** A uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
  uuid(): string;
}

export const secureRandom: Random = {
  bytes: (length) => randomBytes(length),
  int: (maxExclusive) => randomInt(maxExclusive),
  uuid: () => randomUUID(),
};
