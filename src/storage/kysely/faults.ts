/**
 * Whether an error says the database cannot be reached now (as opposed to a query it refused): the
 * connection was refused, reset or timed out, the server is shutting down or starting, or the pool
 * could not get a connection in time. Such a request is answered 503 with a time to retry.
 */
export function isDatabaseUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (NETWORK_CODES.has(code)) return true;
    // SQLSTATE class 08 (connection exception); 57P01–57P03: the server shuts down or is not ready.
    if (/^08[0-9A-Z]{3}$/.test(code) || code === "57P01" || code === "57P02" || code === "57P03") return true;
  }
  return DRIVER_MESSAGES.some((pattern) => pattern.test(error.message));
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH"]);

/** What node-postgres says, without a code, when a connection ends or cannot be had. */
const DRIVER_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  /^Client has encountered a connection error and is not queryable$/,
];
