/**
 * What core logs through: the fields first, then the message, the way pino takes them, so the
 * service's logger fits as it is and core needs no logging library. No secret, code or token goes
 * in either.
 */
export interface Logger {
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}
