import type { AuditEventType, EventDetails } from "../events.js";
import type { RequestMeta } from "../request-meta.js";
import type { FlowContext } from "./context.js";

/** Records a security event for the audit trail and the metrics. */
export function audit(
  flow: FlowContext,
  type: AuditEventType,
  userId: number | null,
  meta: RequestMeta,
  details?: EventDetails,
): Promise<void> {
  return flow.events.emit({ type, userId, ip: meta.ip, userAgent: meta.userAgent, ...(details ? { details } : {}) });
}

/** Records an event of an OAuth client (an operator's change to the registry): no user, the client's id. */
export function auditClient(
  flow: FlowContext,
  type: AuditEventType,
  clientId: string,
  meta: RequestMeta,
  details?: EventDetails,
): Promise<void> {
  return flow.events.emit({
    type,
    userId: null,
    clientId,
    ip: meta.ip,
    userAgent: meta.userAgent,
    ...(details ? { details } : {}),
  });
}
