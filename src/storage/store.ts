import type { AdminStore } from "./admin.js";
import type { ClientStore } from "./clients.js";
import type { LoginStore } from "./logins.js";
import type { MailCodeStore } from "./mail-codes.js";
import type { OidcPayloadStore } from "./oidc.js";
import type { PasskeyStore } from "./passkeys.js";
import type { SessionStore } from "./sessions.js";
import type { SigningKeyStore } from "./signing-keys.js";
import type { ThrottleStore } from "./throttles.js";
import type { TwoFactorStore } from "./two-factor.js";
import type { UserStore } from "./users.js";

/**
 * The Store: every read and write the domain needs, and nothing of the rules, declared by area in
 * the files beside this one (users, logins, sessions, throttles, two-factor, mail codes, admin, OAuth
 * clients, signing keys, the OpenID provider's artifacts). Methods that consume or rotate a
 * single-use secret say how they stay atomic; all of them hold on SQLite and PostgreSQL, with one
 * process or many sharing the database. The domain imports its storage types from here.
 */
export type * from "./admin.js";
export type * from "./clients.js";
export type * from "./logins.js";
export type * from "./mail-codes.js";
export type * from "./oidc.js";
export type * from "./passkeys.js";
export type * from "./sessions.js";
export type * from "./signing-keys.js";
export type * from "./throttles.js";
export type * from "./two-factor.js";
export * from "./users.js";

export type Dialect = "sqlite" | "postgres";

export interface Store
  extends UserStore,
    LoginStore,
    SessionStore,
    ThrottleStore,
    TwoFactorStore,
    PasskeyStore,
    MailCodeStore,
    AdminStore,
    ClientStore,
    SigningKeyStore,
    OidcPayloadStore {
  readonly dialect: Dialect;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Brings a database's schema to the latest version; apart from the Store, which the domain uses. */
export interface Migrations {
  /** Applies the migrations not applied yet, in order; returns their names. */
  migrate(): Promise<string[]>;
}
