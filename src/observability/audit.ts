import type { Logger } from "pino";
import type { EventSink, SecurityEvent } from "../core/events.js";
import type { Clock } from "../platform/clock.js";
import type { Store } from "../storage/store.js";
import type { Metrics } from "./metrics.js";

/**
 * Records security events in the audit trail (a database table) and counts them. A failed audit
 * write is logged as an error but does not fail the user's request: the action itself already
 * happened, and refusing to answer would not undo it.
 */
export class AuditTrail implements EventSink {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  async emit(event: SecurityEvent): Promise<void> {
    this.metrics.countEvent(event.type, event.details);
    // An event about no known account and no client (a failed login for an unknown username) is only counted.
    if (event.userId === null && (event.clientId ?? null) === null) return;
    try {
      await this.store.recordAuditEvent({ ...event, at: this.clock.now() });
    } catch (error) {
      const subject = { userId: event.userId, ...(event.clientId ? { clientId: event.clientId } : {}) };
      this.logger.error({ err: error, type: event.type, ...subject }, "audit event not recorded");
    }
  }

  written(event: SecurityEvent): void {
    this.metrics.countEvent(event.type, event.details);
  }
}
