import { Counter, collectDefaultMetrics, Registry } from "prom-client";
import type { AuditEventType } from "../core/events.js";
import type { Mailer } from "../core/mail/port.js";
import { RequestTally } from "./request-tally.js";

/** The Prometheus metrics of one node. A registry per app, so several apps in one process stay apart. */
export class Metrics {
  readonly registry = new Registry();

  /** `latchkey_http_requests_total` and `latchkey_http_request_duration_seconds`, by route, method and status. */
  readonly requests = new RequestTally(
    "latchkey_http",
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  );

  readonly logins = new Counter({
    name: "latchkey_logins_total",
    help: "Password logins by outcome (succeeded, partial, failed, throttled).",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });

  readonly secondFactorChecks = new Counter({
    name: "latchkey_second_factor_checks_total",
    help: "Second-factor checks by method (totp, email_otp, recovery_code, passkey) and outcome.",
    labelNames: ["method", "outcome"] as const,
    registers: [this.registry],
  });

  readonly throttleRefusals = new Counter({
    name: "latchkey_throttle_refusals_total",
    help: "Requests refused by a throttle, by kind (the 429 message code).",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });

  readonly mails = new Counter({
    name: "latchkey_mails_total",
    help: "Mails by template and outcome (sent, failed).",
    labelNames: ["template", "outcome"] as const,
    registers: [this.registry],
  });

  readonly auditEvents = new Counter({
    name: "latchkey_audit_events_total",
    help: "Security events recorded in the audit trail, by type.",
    labelNames: ["type"] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    this.requests.register(this.registry);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: "latchkey_" });
  }

  /** Counts what an audit event says about logins and second factors. */
  countEvent(type: AuditEventType, details: Record<string, unknown> | undefined): void {
    this.auditEvents.inc({ type });
    if (type === "login.succeeded") this.logins.inc({ outcome: "succeeded" });
    if (type === "login.partial") this.logins.inc({ outcome: "partial" });
    if (type === "login.failed") this.logins.inc({ outcome: "failed" });
    if (type === "second_factor.succeeded" || type === "second_factor.failed") {
      const method = typeof details?.method === "string" ? details.method : "unknown";
      this.secondFactorChecks.inc({ method, outcome: type === "second_factor.succeeded" ? "succeeded" : "failed" });
    }
  }
}

/** Counts every mail handed to the transport, by template and outcome. */
export function countingMailer(mailer: Mailer, metrics: Metrics): Mailer {
  return {
    render: (request) => mailer.render(request),
    totpIssuer: (origin) => mailer.totpIssuer(origin),
    close: () => mailer.close(),
    probe: (request) => mailer.probe(request),
    async send(request) {
      try {
        await mailer.send(request);
        metrics.mails.inc({ template: request.template, outcome: "sent" });
      } catch (error) {
        metrics.mails.inc({ template: request.template, outcome: "failed" });
        throw error;
      }
    },
  };
}
