/**
 * Security events: what the audit trail keeps and what the metrics count. Flows emit them; the
 * composition root decides where they go (database, Prometheus counters).
 */
export const AUDIT_EVENT_TYPES = [
  "login.succeeded",
  "login.failed",
  "login.partial",
  "second_factor.succeeded",
  "second_factor.failed",
  "2fa.enabled",
  "2fa.disabled",
  "recovery_code.used",
  "recovery_codes.reset",
  "password.changed",
  "password.reset",
  "email.transferred",
  "session.revoked",
  "refresh_token.reused",
  "user.created",
  "user.disabled",
  "user.enabled",
  "invitation.sent",
  "invitation.accepted",
  "passkey.counter_invalid",
  "client.created",
  "client.updated",
  "client.secret_rotated",
  "client.deleted",
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

export type EventDetails = Record<string, string | number | boolean | null>;

export interface SecurityEvent {
  type: AuditEventType;
  /** Null when the event concerns no known account (a failed login for an unknown username). */
  userId: number | null;
  /** The OAuth client the event concerns (an operator's change to the client registry). */
  clientId?: string | null;
  ip: string | null;
  userAgent: string | null;
  /** Never a secret: method names, reasons, counts. */
  details?: EventDetails;
}

export interface EventSink {
  emit(event: SecurityEvent): Promise<void>;
  /** An event its flow wrote to the audit trail itself, in the transaction of its change: only counted. */
  written(event: SecurityEvent): void;
}

/** A sink that drops everything (tools that run flows outside a server). */
export const NO_EVENTS: EventSink = { emit: async () => {}, written: () => {} };
