import type { Kysely } from "kysely";
import type { Migrations, Store } from "../store.js";
import { adminStore } from "./admin.js";
import { clientStore } from "./clients.js";
import { type Connection, type ConnectOptions, connect } from "./connect.js";
import { loginStore } from "./logins.js";
import { mailCodeStore } from "./mail-codes.js";
import { migrateToLatest, pingDatabase } from "./migrations.js";
import { oidcPayloadStore } from "./oidc.js";
import { passkeyStore } from "./passkeys.js";
import type { SessionCacheView } from "./reads/sql.js";
import type { Database } from "./schema.js";
import { sessionStore } from "./sessions.js";
import { signingKeyStore } from "./signing-keys.js";
import { throttleStore } from "./throttles.js";
import { twoFactorStore } from "./two-factor.js";
import { userStore } from "./users.js";

/**
 * The Store over Kysely as it is opened: what the composition root and the command line hold. The
 * domain gets it as a Store; the migrations and the Kysely handle stay with whoever opened it.
 */
export interface KyselyStore extends Store, Migrations {
  /** For the tools and tests that read or change tables directly; the domain never sees it. */
  readonly db: Kysely<Database>;
  /** The session statuses kept on revocation notices (PostgreSQL with LATCHKEY_SESSION_CACHE). */
  readonly sessionCache?: SessionCacheView;
}

/** One Store for SQLite and PostgreSQL: each area's statements over the connection, with its reads. */
export function kyselyStore({ db, dialect, reads }: Connection): KyselyStore {
  const store: KyselyStore = {
    dialect,
    db,
    ...(reads.sessionCache ? { sessionCache: reads.sessionCache } : {}),
    ...userStore(db),
    ...loginStore(db, dialect),
    ...sessionStore(db, reads, dialect),
    ...throttleStore(db),
    ...twoFactorStore(db, reads),
    ...passkeyStore(db),
    ...mailCodeStore(db),
    ...adminStore(db),
    ...clientStore(db),
    ...signingKeyStore(db, dialect),
    ...oidcPayloadStore(db),
    migrate: () => migrateToLatest(db as Kysely<unknown>, dialect),
    ping: () => pingDatabase(db as Kysely<unknown>),
    async close() {
      // The reads first: on SQLite the writer, closed last, then checkpoints the WAL and removes the
      // -wal and -shm files (as SQLite's last connection to a database does).
      reads.close();
      await db.destroy();
    },
  };
  return reads.sessionsChanged ? withLocalRevocations(store, reads.sessionsChanged) : store;
}

/** The writes that may end a session's validity: a revocation, a disabled or deleted user. */
const REVOKING = [
  "revokeSession",
  "revokeUserSession",
  "revokeUserSessions",
  "changePassword",
  "resetPasswordWithMailCode",
  "setUserDisabled",
  "deleteUser",
] as const satisfies readonly (keyof Store)[];

/**
 * Where session statuses are kept, this node's own revoking writes drop them as soon as they are
 * done (committed or not), without waiting for the database's notice to come round.
 */
function withLocalRevocations(store: KyselyStore, changed: () => void): KyselyStore {
  const wrapped: KyselyStore = { ...store };
  for (const name of REVOKING) {
    const write = store[name] as (...args: unknown[]) => Promise<unknown>;
    (wrapped as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      try {
        return await write(...args);
      } finally {
        changed();
      }
    };
  }
  return wrapped;
}

/** Opens `url` (see connect) and builds the store over it. */
export function openKyselyStore(url: string, options: ConnectOptions = {}): KyselyStore {
  return kyselyStore(connect(url, options));
}
