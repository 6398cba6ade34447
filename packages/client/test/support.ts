import { serveApp } from "../../../test/support/browser.js";
import { createTestApp, type TestApp } from "../../../test/support/harness.js";
import { PASSWORD } from "../../../test/support/http.js";
import { type SmtpSink, startSmtpSink } from "../../../test/support/smtp.js";
import { LatchkeyClient, type LatchkeyClientOptions } from "../src/index.js";

export { PASSWORD };

/** The real service on SQLite, listening on 127.0.0.1, mail going to a real SMTP server. */
export interface Service {
  t: TestApp;
  url: string;
  smtp: SmtpSink;
  close(): Promise<void>;
}

export async function startService(env: Record<string, string> = {}): Promise<Service> {
  const smtp = await startSmtpSink();
  const t = await createTestApp(
    { name: "sqlite", url: "sqlite::memory:" },
    { env: { LATCHKEY_SMTP_URL: smtp.url, ...env } },
  );
  const url = await serveApp(t);
  return {
    t,
    url,
    smtp,
    async close() {
      await t.close();
      await smtp.stop();
    },
  };
}

/** A fetch that counts the requests per "METHOD /path" before passing them on. */
export function countingFetch(): { fetch: typeof fetch; hits: Map<string, number>; count(key: string): number } {
  const hits = new Map<string, number>();
  return {
    hits,
    count: (key) => hits.get(key) ?? 0,
    fetch: (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const key = `${init?.method ?? "GET"} ${url.pathname}`;
      hits.set(key, (hits.get(key) ?? 0) + 1);
      return fetch(input, init);
    },
  };
}

/** A client of `service` on its ManualClock. */
export function clientOf(service: Service, options: Partial<LatchkeyClientOptions> = {}): LatchkeyClient {
  return new LatchkeyClient({ baseUrl: service.url, clock: service.t.clock, ...options });
}
