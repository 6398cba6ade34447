import { join } from "node:path";
import pino, { type Logger } from "pino";
import type { Config } from "./config/config.js";
import type { FlowContext, FlowSettings } from "./core/flows/context.js";
import { DeliveryPacer } from "./core/mail/pacer.js";
import type { Mailer } from "./core/mail/port.js";
import { createArgon2Hasher, type PasswordHasher } from "./core/password/hasher.js";
import { type Keyring, parseKeyring } from "./core/secrets/keyring.js";
import { GuessThrottle } from "./core/throttle/guess-throttle.js";
import { SigningKeys } from "./core/tokens/signing-keys.js";
import { TokenGuard } from "./core/tokens/token-guard.js";
import { TokenService } from "./core/tokens/tokens.js";
import { createMailer, DEFAULT_MAIL_DIR } from "./mail/index.js";
import { AuditTrail } from "./observability/audit.js";
import { countingMailer, Metrics } from "./observability/metrics.js";
import { type Clock, systemClock } from "./platform/clock.js";
import { loadOrCreateKeyFile } from "./platform/keyfile.js";
import { type Random, secureRandom } from "./platform/random.js";
import { type Scheduler, systemScheduler } from "./platform/scheduler.js";
import { type KyselyStore, openKyselyStore } from "./storage/kysely/store.js";
import type { Store } from "./storage/store.js";

/** How often a node deletes the OpenID provider's expired artifacts. */
const OIDC_PURGE_INTERVAL_MS = 10 * 60_000;

/** The composition root: every long-lived part of a Latchkey node, built once. */
export interface Deps {
  config: Config;
  clock: Clock;
  random: Random;
  store: Store;
  hasher: PasswordHasher;
  keys: SigningKeys;
  tokens: TokenService;
  guard: TokenGuard;
  flow: FlowContext;
  keyring: Keyring;
  mailer: Mailer;
  logger: Logger;
  metrics: Metrics;
  close(): Promise<void>;
}

export interface DepsOverrides {
  clock?: Clock;
  random?: Random;
  /** Runs the periodic work (the signing keys' reload); tests fire it by hand. */
  scheduler?: Scheduler;
  hasher?: PasswordHasher;
  /** An already-open store (tests share one database between two app instances this way). */
  store?: KyselyStore;
  /** PostgreSQL schema for this node's connections. */
  searchPath?: string;
  logger?: Logger;
}

/** Fields that never reach a log line, wherever they appear. */
export const REDACTED_LOG_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'res.headers["set-cookie"]',
  "*.password",
  "*.oldPassword",
  "*.newPassword",
  "*.otp",
  "*.totp",
  "*.code",
  "*.recoveryCode",
  "*.token",
  "*.clientSecret",
  "*.secretHash",
];

/** JSON logs to stdout (the server) or another file descriptor (the CLI logs to stderr). */
export function createLogger(config: Config, fd = 1): Logger {
  return pino(
    { level: config.logLevel, redact: { paths: REDACTED_LOG_PATHS, censor: "[redacted]" } },
    pino.destination({ fd, sync: fd !== 1 }),
  );
}

/** The encryption keyring: from LATCHKEY_ENCRYPTION_KEYS, or a key file kept under the data directory. */
export function loadKeyring(config: Config, random: Random): Keyring {
  if (config.encryptionKeys !== undefined) return parseKeyring(config.encryptionKeys);
  const path = join(config.dataDir, "encryption.keys");
  const text = loadOrCreateKeyFile(path, random);
  try {
    return parseKeyring(text);
  } catch (error) {
    // The parser's messages never contain key material, so passing them on is safe.
    throw new Error(`key file ${path} is not a valid keyring: ${(error as Error).message}`);
  }
}

export function openStore(config: Config, searchPath?: string): KyselyStore {
  return openKyselyStore(config.databaseUrl, {
    ...(searchPath ? { searchPath } : {}),
    sessionCache: config.sessionCache,
  });
}

/** Opens the database, applies migrations, loads (or creates) signing keys. */
export async function buildDeps(config: Config, overrides: DepsOverrides = {}): Promise<Deps> {
  const clock = overrides.clock ?? systemClock;
  const random = overrides.random ?? secureRandom;
  const logger = overrides.logger ?? createLogger(config);
  const metrics = new Metrics();
  const keyring = loadKeyring(config, random);
  const ownsStore = overrides.store === undefined;
  const store = overrides.store ?? openStore(config, overrides.searchPath);
  try {
    await store.migrate();
    const hasher = overrides.hasher ?? createArgon2Hasher(config.argon2);
    const dummyHash = await hasher.hash(random.bytes(16).toString("base64url"));
    const keys = new SigningKeys(store, clock, random, keyring, logger);
    await keys.init();
    const tokens = new TokenService(keys, config.issuer, clock, random);
    const throttle = new GuessThrottle(store, clock, config.throttle);
    const mailer = countingMailer(
      createMailer({
        mailDir: config.mail.dir ?? DEFAULT_MAIL_DIR,
        ...(config.mail.smtpUrl ? { smtpUrl: config.mail.smtpUrl } : {}),
        outboxDir: config.mail.outboxDir,
        log: (msg, fields) => logger.info(fields ?? {}, msg),
        clock,
        random,
      }),
      metrics,
    );
    const events = new AuditTrail(store, clock, metrics, logger);
    const flow: FlowContext = {
      settings: flowSettings(config),
      clock,
      random,
      store,
      hasher,
      dummyHash,
      tokens,
      throttle,
      keyring,
      mailer,
      logger,
      events,
      pacer: new DeliveryPacer(),
    };
    const scheduler = overrides.scheduler ?? systemScheduler;
    // Every node reads the key table again on this timer: how a key rotated or pruned elsewhere reaches it.
    const reloading = scheduler.every(config.keyReloadSeconds * 1000, () => keys.refresh());
    // The OpenID provider's codes, tokens and sessions past their end are deleted (a minute after it,
    // beyond the provider's clock tolerance). Each node does it; the deletes are idempotent.
    const purging = scheduler.every(OIDC_PURGE_INTERVAL_MS, async () => {
      try {
        await store.purgeExpiredOidcPayloads(clock.now() - 60_000);
      } catch (error) {
        logger.warn(
          { reason: error instanceof Error ? error.message : String(error) },
          "expired OpenID artifacts could not be purged",
        );
      }
    });
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
      keyring,
      mailer,
      logger,
      metrics,
      close: async () => {
        reloading.stop();
        purging.stop();
        await mailer.close();
        if (ownsStore) await store.close();
      },
    };
  } catch (error) {
    if (ownsStore) await store.close();
    throw error;
  }
}

/** What flows may know of the configuration (lifetimes and limits), and nothing else. */
function flowSettings(config: Config): FlowSettings {
  return {
    tokens: config.tokens,
    codes: config.codes,
    issuer: config.issuer,
    totpIssuer: config.totpIssuer,
    signup: config.signup,
    passkeys: config.passkeys,
  };
}
