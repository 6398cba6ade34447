import type { LightMyRequestResponse } from "fastify";
import { expect } from "vitest";
import type { TestApp } from "./harness.js";

/** The password `TestApp.createUser` gives a user unless told otherwise. */
export const PASSWORD = "Correct7Horse";
/** A second password that meets the rules, for changes and resets. */
export const NEW_PASSWORD = "Fresh9Lantern";

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** One request through the app, the token (if any) as a Bearer header, the payload (if any) as JSON. */
export function call(t: TestApp, method: Method, url: string, token?: string, payload?: object) {
  return t.app.inject({
    method,
    url,
    headers: token === undefined ? {} : bearer(token),
    ...(payload ? { payload } : {}),
  });
}

export const get = (t: TestApp, url: string, token?: string) => call(t, "GET", url, token);
export const post = (t: TestApp, url: string, token?: string, payload?: object) => call(t, "POST", url, token, payload);
export const put = (t: TestApp, url: string, token?: string, payload?: object) => call(t, "PUT", url, token, payload);
export const del = (t: TestApp, url: string, token?: string) => call(t, "DELETE", url, token);

/** `POST /auth/login` as it is answered, whatever the answer. */
export function attemptLogin(t: TestApp, username: string, password = PASSWORD) {
  return post(t, "/auth/login", undefined, { username, password });
}

/** `POST /auth/login` that must succeed: the bare token (refresh, or partial when 2FA is on). */
export async function login(t: TestApp, email: string, password = PASSWORD): Promise<string> {
  const res = await attemptLogin(t, email, password);
  expect(res.statusCode, res.body).toBe(200);
  return res.body;
}

/** `GET /auth/accesstoken` that must succeed. */
export async function accessFor(t: TestApp, refresh: string): Promise<string> {
  const res = await get(t, "/auth/accesstoken", refresh);
  expect(res.statusCode, res.body).toBe(200);
  return res.body;
}

/** A password login while 2FA is off: the refresh token and an access token of that session. */
export async function signIn(t: TestApp, email: string, password = PASSWORD) {
  const refresh = await login(t, email, password);
  return { refresh, access: await accessFor(t, refresh) };
}

/** The message code of an error answer. */
export function message(res: LightMyRequestResponse): string {
  return res.json().message;
}

/**
 * The `error` string of each status, as the contract spells them (§1), plus Latchkey's 503: spelled
 * out here rather than read from the registry, so a test catches a registry that drifts.
 */
export const ENVELOPE_ERRORS: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  429: "Too many requests",
  500: "Internal server error",
  503: "Service unavailable",
};

/** The whole error envelope, and the Retry-After header when the answer is throttled. */
export function expectError(res: LightMyRequestResponse, status: number, message: string, retryAfter?: number) {
  const body: Record<string, unknown> = { statusCode: status, error: ENVELOPE_ERRORS[status], message };
  if (retryAfter !== undefined) body.retryAfter = retryAfter;
  expect(res.statusCode).toBe(status);
  expect(res.json()).toEqual(body);
  if (retryAfter !== undefined) expect(res.headers["retry-after"]).toBe(String(retryAfter));
}

export function expectNoContent(res: LightMyRequestResponse) {
  expect(res.statusCode, res.body).toBe(204);
  expect(res.body).toBe("");
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  sudoToken: string;
}

/** The three tokens a successful authenticate call answers, and nothing else. */
export function tokensOf(res: LightMyRequestResponse): IssuedTokens {
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json();
  expect(Object.keys(body).sort()).toEqual(["accessToken", "refreshToken", "sudoToken"]);
  return body;
}

function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"));
}

/** The `sid` claim, read without verifying (the server verified it). */
export function sessionIdOf(token: string): string {
  return claims(token).sid as string;
}

/** The `kid` of a token's header, read without verifying. */
export function kidOf(token: string): string {
  return JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString("utf8")).kid;
}
