import { TOTP, URI } from "otpauth";
import { expect } from "vitest";
import type { TestApp } from "../support/harness.js";
import { accessFor, login, PASSWORD, post } from "../support/http.js";

/** The authenticator app: parses the setup URL, as a phone would. */
export function authenticatorFrom(url: string): TOTP {
  const parsed = URI.parse(url);
  if (!(parsed instanceof TOTP)) throw new Error("not a TOTP URL");
  return parsed;
}

export function codeAt(totp: TOTP, nowMs: number): string {
  return totp.generate({ timestamp: nowMs });
}

/** A 6-digit code that matches none of the steps the server accepts at `nowMs` (±1 step). */
export function wrongCodeAt(totp: TOTP, nowMs: number): string {
  const accepted = new Set([-30_000, 0, 30_000].map((offset) => codeAt(totp, nowMs + offset)));
  for (let n = 0; ; n++) {
    const candidate = String(n).padStart(6, "0");
    if (!accepted.has(candidate)) return candidate;
  }
}

export interface Enrolled {
  userId: number;
  totp: TOTP;
  url: string;
  recoveryCodes: string[];
  /** The session the user had while enrolling (a password login while 2FA was off). */
  refresh: string;
  access: string;
}

/** Creates a user and activates TOTP with its access token (2FA off, so no sudo needed), then lets a step pass. */
export async function enrolTotp(t: TestApp, email = "alice@example.com"): Promise<Enrolled> {
  const userId = await t.createUser(email, PASSWORD);
  const refresh = await login(t, email);
  const access = await accessFor(t, refresh);
  const setup = await post(t, "/user/2fa/totp/setup", access, {});
  expect(setup.statusCode).toBe(200);
  const url: string = setup.json().url;
  const totp = authenticatorFrom(url);
  const enable = await post(t, "/user/2fa/totp/enable", access, { totp: codeAt(totp, t.clock.now()) });
  expect(enable.statusCode).toBe(200);
  const recoveryCodes: string[] = enable.json().recoveryCodes;
  expect(recoveryCodes).toHaveLength(10);
  // The enabling code's step is spent; the next step gives a fresh code.
  t.clock.advanceSeconds(30);
  return { userId, totp, url, recoveryCodes, refresh, access };
}

export async function authenticateTotp(t: TestApp, token: string, code: string) {
  return post(t, "/user/2fa/totp/authenticate", token, { totp: code });
}
