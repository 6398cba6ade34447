import type { AuditEventRecord } from "./admin.js";
import type { NewSession } from "./sessions.js";

/**
 * Passkeys (WebAuthn credentials) and the challenges of their ceremonies. A passkey is a second-factor
 * method: adding the first one and removing the last one change "2FA on" under the user lock, as the
 * other methods do (two-factor.ts).
 */

export type WebAuthnPurpose = "registration" | "second_factor" | "sign_in";

export interface WebAuthnChallenge {
  /** base64url, as the client data carries it back. */
  challenge: string;
  purpose: WebAuthnPurpose;
  /** The user it was made for; null for a sign-in without a username. */
  userId: number | null;
  expiresAt: number;
}

export interface PasskeyRecord {
  credentialId: string;
  userId: number;
  /** COSE public key, base64url. */
  publicKey: string;
  counter: number;
  transports: string[];
  name: string;
  backedUp: boolean;
  deviceType: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface NewPasskey {
  passkey: Omit<PasskeyRecord, "lastUsedAt">;
  /** At most this many passkeys per user. */
  limit: number;
  now: number;
  /** Stored with it when it is the first second-factor method of the user. */
  recoveryCodeHashes: string[];
}

export type AddPasskeyResult =
  | { outcome: "added"; recoveryCodesCreated: boolean }
  | { outcome: "limit" | "exists" | "no_user" };

/** A verified assertion moves the counter on, once: concurrent or older assertions lose. */
export interface PasskeyUse {
  credentialId: string;
  userId: number;
  counter: number;
  now: number;
}

export interface PasskeySignIn {
  use: PasskeyUse;
  session: NewSession;
  refreshJti: string;
  event: AuditEventRecord;
}

export type PasskeySignInResult = "signed_in" | "lost" | "disabled";

export interface PasskeyStore {
  /** Keeps a challenge; challenges expired before `now` are dropped on the way. */
  saveWebAuthnChallenge(challenge: WebAuthnChallenge, now: number): Promise<void>;
  /**
   * Takes a challenge: one `DELETE … WHERE challenge = ? RETURNING`, so of concurrent takers exactly
   * one gets it, whatever the ceremony's outcome. Undefined when unknown or already taken (an
   * expired one is returned; the caller checks `expiresAt`).
   */
  takeWebAuthnChallenge(challenge: string): Promise<WebAuthnChallenge | undefined>;
  listPasskeys(userId: number): Promise<PasskeyRecord[]>;
  findPasskey(credentialId: string): Promise<PasskeyRecord | undefined>;
  /**
   * Adds a passkey under the user lock: refused at the limit and for a credential id already stored.
   * The first second-factor method of the user stores the recovery codes with it (as activateTotp).
   */
  addPasskey(input: NewPasskey): Promise<AddPasskeyResult>;
  /**
   * Records a second-factor use: one conditional UPDATE of counter and last use
   * `… WHERE id = ? AND user_id = ? AND (counter < :counter OR (counter = 0 AND :counter = 0))`.
   * True only for the caller whose UPDATE changed the row.
   */
  usePasskey(use: PasskeyUse): Promise<boolean>;
  /** usePasskey, and the new session with its first refresh token and the audit event, in one transaction. */
  signInWithPasskey(signIn: PasskeySignIn): Promise<PasskeySignInResult>;
  renamePasskey(userId: number, credentialId: string, name: string): Promise<boolean>;
  /**
   * Removes one of the user's passkeys under the user lock; when no method stays active the recovery
   * codes go too. The removed record, or undefined when the user has no such passkey.
   */
  deletePasskey(userId: number, credentialId: string): Promise<PasskeyRecord | undefined>;
}
