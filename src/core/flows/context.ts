import type { Clock } from "../../platform/clock.js";
import type { Random } from "../../platform/random.js";
import type { Store } from "../../storage/store.js";
import type { EventSink } from "../events.js";
import type { Logger } from "../logger.js";
import type { DeliveryPacer } from "../mail/pacer.js";
import type { Mailer } from "../mail/port.js";
import type { PasswordHasher } from "../password/hasher.js";
import type { Keyring } from "../secrets/keyring.js";
import type { GuessThrottle } from "../throttle/guess-throttle.js";
import type { TokenService } from "../tokens/tokens.js";

/**
 * Who may make an account with `POST /user/signup` (LATCHKEY_SIGNUP): nobody (the endpoint answers
 * 404), anyone, or addresses of the listed domains only (lower-cased, matched exactly).
 */
export type SignupPolicy = { mode: "off" } | { mode: "open" } | { mode: "domains"; domains: readonly string[] };

/**
 * The settings flows decide with: lifetimes and limits. Only these, not the whole configuration, so
 * no flow can reach the admin token, the database URL or anything else about how the service runs.
 */
export interface FlowSettings {
  /** Token lifetimes (§2) and the refresh token's reuse grace, in seconds. */
  tokens: {
    refreshTtlSeconds: number;
    accessTtlSeconds: number;
    sudoTtlSeconds: number;
    partialTtlSeconds: number;
    refreshGraceSeconds: number;
  };
  /**
   * Mailed codes (§4): lifetime and wait between two sends in seconds, tries per code; an invitation's
   * code has a lifetime of its own.
   */
  codes: { ttlSeconds: number; maxTries: number; resendSeconds: number; invitationTtlSeconds: number };
  /** The service's issuer URL: the TOTP issuer's fallback is its host name. */
  issuer: string;
  /** The issuer authenticator apps show, when configured. */
  totpIssuer: string | undefined;
  /** Sign-up by the people themselves. */
  signup: SignupPolicy;
  /** The WebAuthn relying party; undefined → passkeys are off (no RP id could be derived). */
  passkeys: { rpId: string; rpName: string; origins: readonly string[] } | undefined;
}

/**
 * What the use-cases need; built once by the composition root (src/deps.ts). One name everywhere:
 * `deps.flow` there and in the routes, the first parameter `flow` of every flow.
 */
export interface FlowContext {
  settings: FlowSettings;
  clock: Clock;
  random: Random;
  store: Store;
  hasher: PasswordHasher;
  /** A hash of a random password with the current parameters: unknown users are checked against it. */
  dummyHash: string;
  tokens: TokenService;
  throttle: GuessThrottle;
  /** Encrypts TOTP secrets and keys the hashes of recovery and mailed codes. */
  keyring: Keyring;
  mailer: Mailer;
  logger: Logger;
  /** The audit trail and the metrics that count its events. */
  events: EventSink;
  /** How long deliveries take, to pace the answers that must not reveal a skipped one. */
  pacer: DeliveryPacer;
}
