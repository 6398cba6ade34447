import type { ManualClock } from "../../../src/platform/clock.js";
import { serveApp } from "../../../test/support/browser.js";
import { createTestApp, type TestApp } from "../../../test/support/harness.js";

/** The issuer the test service signs with (createTestApp's LATCHKEY_ISSUER). */
export const ISSUER = "http://latchkey.test";

export interface Service {
  t: TestApp;
  /** Where the real service listens (127.0.0.1, a free port). */
  url: string;
  close(): Promise<void>;
}

/** The real Latchkey on SQLite, listening on 127.0.0.1. */
export async function startService(clock?: ManualClock): Promise<Service> {
  const t = await createTestApp({ name: "sqlite", url: "sqlite::memory:" }, clock ? { clock } : {});
  const url = await serveApp(t);
  return { t, url, close: () => t.close() };
}

/** A fetch that counts the key set requests it passes on. */
export function countingFetch(): { fetch: typeof fetch; jwksFetches: () => number; urls: string[] } {
  const urls: string[] = [];
  return {
    urls,
    jwksFetches: () => urls.filter((u) => u.endsWith("/.well-known/jwks.json")).length,
    fetch: (input, init) => {
      urls.push(input instanceof Request ? input.url : String(input));
      return fetch(input, init);
    },
  };
}

/** Header and claims of a JWT, read without verifying. */
export function decode(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [header = "", claims = ""] = token.split(".");
  return {
    header: JSON.parse(Buffer.from(header, "base64url").toString("utf8")),
    claims: JSON.parse(Buffer.from(claims, "base64url").toString("utf8")),
  };
}
