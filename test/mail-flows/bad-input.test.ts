import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestApp, testDialects } from "../support/harness.js";
import { call, signIn } from "../support/http.js";
import type { SmtpSink } from "../support/smtp.js";
import { snapshot } from "../support/snapshot.js";
import { type MailApp, startMailApp } from "./fixture.js";

/** The mail-sending endpoints, each with a body that would otherwise send a mail. */
const ENDPOINTS = [
  { url: "/user/password/reset/send", body: (email: string) => ({ email }), auth: false },
  { url: "/user/email/initiate", body: (email: string) => ({ email }), auth: true },
  { url: "/user/2fa/email-otp/setup", body: (email: string) => ({ email }), auth: true },
] as const;

const BAD_QUERIES: [string, string][] = [
  ["a CR/LF in origin", `origin=${encodeURIComponent("default\r\nBcc: x@evil.example")}`],
  ["a CR/LF in language", `language=${encodeURIComponent("en\r\n")}`],
  ["a LF after the language", `language=${encodeURIComponent("en\n")}`],
  ["a three-letter language", "language=eng"],
  ["a one-letter language", "language=e"],
  ["a language with a dot", "language=..%2F"],
  ["an origin with ../", `origin=${encodeURIComponent("../etc")}`],
  ["an origin with ..", "origin=default..x"],
  ["an origin with a slash", `origin=${encodeURIComponent("default/en")}`],
  ["an origin starting with a dot", "origin=.hidden"],
  ["an origin over 256 characters", `origin=${"a".repeat(257)}`],
  ["an unknown query parameter", "lang=en"],
];

const BAD_ADDRESSES: [string, string][] = [
  ["a CR/LF in the address", "alice@example.com\r\nBcc: x@evil.example"],
  ["a malformed address", "alice.example.com"],
  ["two addresses", "alice@example.com, bob@example.com"],
  ["a display name", "Alice <alice@example.com>"],
  ["an address over 256 characters", `${"a".repeat(250)}@example.com`],
];

describe.each(testDialects())("bad input to the mail endpoints on $name", (dialect) => {
  let m: MailApp | undefined;
  let t: TestApp;
  let smtp: SmtpSink;
  let access: string;

  beforeAll(async () => {
    m = await startMailApp(dialect);
    ({ t, smtp } = m);
    await t.createUser("alice@example.com");
    ({ access } = await signIn(t, "alice@example.com"));
  });
  afterAll(async () => {
    await m?.close();
  });

  for (const endpoint of ENDPOINTS) {
    const post = (query: string, payload: object) =>
      call(t, "POST", `${endpoint.url}${query}`, endpoint.auth ? access : undefined, payload);

    it(`${endpoint.url}: a bad mail query is 400, with no mail and nothing changed`, async () => {
      const before = await snapshot(t);
      for (const [what, query] of BAD_QUERIES) {
        const res = await post(`?${query}`, endpoint.body("new@example.org"));
        expect(res.statusCode, what).toBe(400);
        expect(res.json().error, what).toBe("Bad Request");
        expect(res.json().message, what).toMatch(/^querystring/);
      }
      expect(await snapshot(t)).toBe(before);
      expect(smtp.received).toEqual([]);
    });

    it(`${endpoint.url}: a bad address is 400, with no mail and nothing changed`, async () => {
      const before = await snapshot(t);
      for (const [what, email] of BAD_ADDRESSES) {
        const res = await post("", endpoint.body(email));
        expect(res.statusCode, what).toBe(400);
        if (endpoint.url === "/user/2fa/email-otp/setup")
          expect(res.json().message, what).toBe("Invalid email address");
        else expect(res.json().message, what).toMatch(/^body\/email must/);
      }
      const extra = await post("", { ...endpoint.body("new@example.org"), admin: true });
      expect(extra.json().message).toBe("body must NOT have additional properties");
      expect(await snapshot(t)).toBe(before);
      expect(smtp.received).toEqual([]);
    });
  }

  it("codes must be exactly 6 characters", async () => {
    const before = await snapshot(t);
    for (const otp of ["12345", "1234567", ""]) {
      const res = await call(t, "POST", "/user/password/reset/validate", undefined, {
        email: "alice@example.com",
        otp,
      });
      expect(res.statusCode).toBe(400);
      const put = await call(t, "PUT", "/user/email", access, { otp });
      expect(put.statusCode).toBe(400);
    }
    expect(await snapshot(t)).toBe(before);
  });
});
