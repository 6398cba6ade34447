/** Administration: the audit trail, disabling accounts, and what an operator's commands read and reset. */

export interface AuditEventRecord {
  type: string;
  /** The user the event concerns; null for an event of an OAuth client alone. */
  userId: number | null;
  /** The OAuth client the event concerns (clients.ts); absent or null for a user's event. */
  clientId?: string | null | undefined;
  at: number;
  ip: string | null;
  userAgent: string | null;
  details?: Record<string, string | number | boolean | null> | undefined;
}

export interface AuditQuery {
  userId: number;
  offset: number;
  limit: number;
}

export interface ClientAuditQuery {
  clientId: string;
  offset: number;
  limit: number;
}

export interface AuditPage {
  events: AuditEventRecord[];
  total: number;
}

/** A user's sealed TOTP secrets, active and pending. */
export interface SealedTotpSecret {
  userId: number;
  secretEnc: string | null;
  pendingSecretEnc: string | null;
}

/** One sealed TOTP secret (the pending one, or the active one), from the value read to its replacement. */
export interface SealedTotpSecretSwap {
  userId: number;
  pending: boolean;
  from: string;
  to: string;
}

export interface AdminStore {
  recordAuditEvent(event: AuditEventRecord): Promise<void>;
  /** The user's events, newest first. */
  listAuditEvents(query: AuditQuery): Promise<AuditPage>;
  /** The OAuth client's events, newest first. */
  listClientAuditEvents(query: ClientAuditQuery): Promise<AuditPage>;
  /** Sets or clears users.disabled_at; false when the user does not exist. */
  setUserDisabled(userId: number, disabledAt: number | null): Promise<boolean>;
  /** Sessions neither revoked nor past their absolute end. */
  countLiveSessions(userId: number, now: number): Promise<number>;
  /** Turns every 2FA method off and drops pending setups and recovery codes, under the user lock. */
  resetTwoFactor(userId: number): Promise<boolean>;
  /** Every sealed TOTP secret (active or pending), for re-encryption under a new key. */
  listSealedTotpSecrets(): Promise<SealedTotpSecret[]>;
  /** Replaces one sealed secret if it is still `from` (a conditional UPDATE); true when replaced. */
  swapSealedTotpSecret(swap: SealedTotpSecretSwap): Promise<boolean>;
}
