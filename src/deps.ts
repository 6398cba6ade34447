import type { Config } from "./config/config.js";
import type { FlowContext } from "./core/flows/context.js";
import { createArgon2Hasher, type PasswordHasher } from "./core/password/hasher.js";
import { GuessThrottle } from "./core/throttle/guard.js";
import { TokenGuard } from "./core/tokens/guard.js";
import { SigningKeys } from "./core/tokens/signing-keys.js";
import { TokenService } from "./core/tokens/tokens.js";
import { type Clock, systemClock } from "./platform/clock.js";
import { type Random, secureRandom } from "./platform/random.js";
import { connect } from "./storage/kysely/connect.js";
import { KyselyStore } from "./storage/kysely/store.js";

/** The composition root: every long-lived part of a Latchkey node, built once. */
export interface Deps {
  config: Config;
  clock: Clock;
  random: Random;
  store: KyselyStore;
  hasher: PasswordHasher;
  keys: SigningKeys;
  tokens: TokenService;
  guard: TokenGuard;
  flow: FlowContext;
  close(): Promise<void>;
}

export interface DepsOverrides {
  clock?: Clock;
  random?: Random;
  hasher?: PasswordHasher;
  /** An already-open store (tests share one database between two app instances this way). */
  store?: KyselyStore;
  /** PostgreSQL schema for this node's connections. */
  searchPath?: string;
}

export function openStore(config: Config, searchPath?: string): KyselyStore {
  const connection = connect(config.databaseUrl, searchPath ? { searchPath } : {});
  return new KyselyStore(connection.db, connection.dialect);
}

/** Opens the database, applies migrations, loads (or creates) signing keys. */
export async function buildDeps(config: Config, overrides: DepsOverrides = {}): Promise<Deps> {
  const clock = overrides.clock ?? systemClock;
  const random = overrides.random ?? secureRandom;
  const ownsStore = overrides.store === undefined;
  const store = overrides.store ?? openStore(config, overrides.searchPath);
  try {
    await store.migrate();
    const hasher = overrides.hasher ?? createArgon2Hasher(config.argon2);
    const dummyHash = await hasher.hash(random.bytes(16).toString("base64url"));
    const keys = new SigningKeys(store, clock, random);
    await keys.init();
    const tokens = new TokenService(keys, config.issuer, clock, random);
    const throttle = new GuessThrottle(store, clock, config.throttle);
    const flow: FlowContext = { config, clock, random, store, hasher, dummyHash, tokens, throttle };
    return {
      config,
      clock,
      random,
      store,
      hasher,
      keys,
      tokens,
      guard: new TokenGuard(tokens, store),
      flow,
      close: async () => {
        if (ownsStore) await store.close();
      },
    };
  } catch (error) {
    if (ownsStore) await store.close();
    throw error;
  }
}
