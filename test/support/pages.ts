import type { LightMyRequestResponse } from "fastify";
import { expect } from "vitest";
import type { TestApp } from "./harness.js";

/**
 * A small stand-in for a browser over the app, for the hosted pages' form tests: it keeps the cookies
 * the pages set (honouring Max-Age=0), and sends each form with the CSRF token of the last page it
 * got, as a browser submitting that page's form would. The browser suites (test/browser) drive real
 * Chromium; this client is for the many refusals that are quicker to check without one.
 */
export class PageClient {
  readonly cookies = new Map<string, string>();
  /** The last HTML page received. */
  page = "";

  constructor(
    private readonly t: TestApp,
    private readonly headers: Record<string, string> = {},
  ) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }

  private remember(res: LightMyRequestResponse): LightMyRequestResponse {
    const setCookie = res.headers["set-cookie"];
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const [pair = "", ...attributes] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === "";
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    if (String(res.headers["content-type"] ?? "").startsWith("text/html")) this.page = res.body;
    return res;
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const res = await this.t.app.inject({
      method: "GET",
      url,
      headers: { accept: "text/html", ...this.headers, cookie: this.cookieHeader(), ...headers },
    });
    return this.remember(res);
  }

  /** The CSRF token in the last page's forms. */
  csrf(): string {
    const match = /name="_csrf" value="([^"]+)"/.exec(this.page);
    if (!match?.[1]) throw new Error("the last page has no form with a CSRF token");
    return match[1];
  }

  /** POSTs a form (urlencoded), with the last page's CSRF token unless `_csrf` is given. */
  async post(url: string, fields: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const body = new URLSearchParams({ _csrf: "_csrf" in fields ? "" : this.csrf(), ...fields });
    const res = await this.t.app.inject({
      method: "POST",
      url,
      headers: {
        accept: "text/html",
        "content-type": "application/x-www-form-urlencoded",
        ...this.headers,
        cookie: this.cookieHeader(),
      },
      payload: body.toString(),
    });
    return this.remember(res);
  }

  /** GETs `url`, then follows 303 redirects (as a browser does after a form). */
  async visit(url: string): Promise<LightMyRequestResponse> {
    let res = await this.get(url);
    for (let hops = 0; res.statusCode === 303 || res.statusCode === 302; hops++) {
      if (hops > 5) throw new Error("too many redirects");
      res = await this.get(String(res.headers.location));
    }
    return res;
  }

  /** POSTs a form and follows the redirect, if any. */
  async submit(url: string, fields: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const res = await this.post(url, fields);
    if (res.statusCode !== 303) return res;
    const location = String(res.headers.location);
    return location.startsWith("/") ? this.visit(location) : res;
  }
}

/** The visible text of a page: tags dropped, entities of the templates decoded, spaces folded. */
export function textOf(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/g, " ")
    .replace(/<[^>]+>/g, " ")
    .replace(/&#x27;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&#x3D;/g, "=")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ")
    .trim();
}

/** Asserts a page (not JSON, not a stack trace) with `status` whose text holds `expected`. */
export function expectPage(res: LightMyRequestResponse, status: number, expected: string | RegExp): void {
  expect(res.statusCode, res.body.slice(0, 500)).toBe(status);
  expect(String(res.headers["content-type"])).toMatch(/^text\/html/);
  const text = textOf(res.body);
  if (typeof expected === "string") expect(text).toContain(expected);
  else expect(text).toMatch(expected);
  expect(res.body).not.toMatch(/at \w+ \(|"statusCode"/);
}
