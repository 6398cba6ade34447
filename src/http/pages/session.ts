/**
 * The page session: the tokens of a sign-in on the hosted pages, each in its own HttpOnly, Secure,
 * SameSite=Lax cookie that only this server reads. The session cookie holds the refresh token (the
 * session itself, 14 days); the access token (5 minutes) is a cache renewed from it; the sudo token
 * (5 minutes) is there after a second factor was just checked; the partial token while the second
 * factor of a sign-in is pending. Every read checks the token as the API does, so a session ended
 * anywhere (logout, password change, the sessions page, an admin) ends the page session at once.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../../core/errors.js";
import { accessTokenFor } from "../../core/flows/sessions.js";
import type { Principal } from "../../core/tokens/token-guard.js";
import type { IssuedToken } from "../../core/tokens/tokens.js";
import type { Deps } from "../../deps.js";
import { requestMeta } from "../request-meta.js";

export const PAGE_COOKIES = {
  session: "latchkey_session",
  access: "latchkey_access",
  sudo: "latchkey_sudo",
  partial: "latchkey_partial",
  returnTo: "latchkey_return",
  /** The address a reset code was asked for, to fill in the reset form (never in a URL). */
  resetEmail: "latchkey_reset_email",
  /** The address a sign-up's code went to, to fill in the confirmation form (never in a URL). */
  signupEmail: "latchkey_signup_email",
  /** The page session an application asked to replace by a new sign-in (OpenID prompt=login, max_age). */
  oidcStale: "latchkey_oidc_stale",
  language: "latchkey_lang",
  origin: "latchkey_origin",
  csrf: "latchkey_csrf",
} as const;

type PageCookie = (typeof PAGE_COOKIES)[keyof typeof PAGE_COOKIES];

export const PAGE_COOKIE_ATTRIBUTES = { httpOnly: true, secure: true, sameSite: "lax", path: "/" } as const;

/** A page asks for a sign-in that is not there (or is over): GET goes to /login, a form gets a page. */
export class SignInNeeded extends Error {
  constructor() {
    super("sign-in needed");
    this.name = "SignInNeeded";
  }
}

/** A change that needs a second factor just checked: the browser goes to /reauth first. */
export class ReauthNeeded extends Error {
  constructor() {
    super("re-authentication needed");
    this.name = "ReauthNeeded";
  }
}

const parsed = new WeakMap<FastifyRequest, Record<string, string | undefined>>();

/** The request's cookies, parsed once (the app parses cookies only where a route asks). */
export function cookiesOf(request: FastifyRequest): Record<string, string | undefined> {
  let cookies = parsed.get(request);
  if (cookies === undefined) {
    const header = request.headers.cookie;
    cookies = header === undefined ? {} : request.server.parseCookie(header);
    parsed.set(request, cookies);
  }
  return cookies;
}

export function setPageCookie(reply: FastifyReply, name: PageCookie, value: string, maxAgeSeconds: number): void {
  reply.setCookie(name, value, { ...PAGE_COOKIE_ATTRIBUTES, maxAge: Math.max(0, Math.floor(maxAgeSeconds)) });
  // Later reads within this request see the new value.
  cookiesOf(reply.request)[name] = value;
}

export function clearPageCookie(reply: FastifyReply, name: PageCookie): void {
  reply.clearCookie(name, PAGE_COOKIE_ATTRIBUTES);
  cookiesOf(reply.request)[name] = undefined;
}

function setTokenCookie(reply: FastifyReply, name: PageCookie, token: IssuedToken, nowMs: number): void {
  setPageCookie(reply, name, token.token, (token.expiresAt - nowMs) / 1000);
}

/** The tokens a finished sign-in (or a second factor checked again) gives. */
export interface PageTokens {
  refresh?: IssuedToken;
  access?: IssuedToken;
  sudo?: IssuedToken;
}

export function storeTokens(deps: Deps, reply: FastifyReply, tokens: PageTokens): void {
  const now = deps.clock.now();
  if (tokens.refresh) setTokenCookie(reply, PAGE_COOKIES.session, tokens.refresh, now);
  if (tokens.access) setTokenCookie(reply, PAGE_COOKIES.access, tokens.access, now);
  if (tokens.sudo) setTokenCookie(reply, PAGE_COOKIES.sudo, tokens.sudo, now);
  clearPageCookie(reply, PAGE_COOKIES.partial);
}

export function storePartial(deps: Deps, reply: FastifyReply, partial: IssuedToken): void {
  setTokenCookie(reply, PAGE_COOKIES.partial, partial, deps.clock.now());
}

/** Forgets every token of the page session (the other cookies, language and origin, stay). */
export function clearSession(reply: FastifyReply): void {
  for (const name of [PAGE_COOKIES.session, PAGE_COOKIES.access, PAGE_COOKIES.sudo, PAGE_COOKIES.partial]) {
    clearPageCookie(reply, name);
  }
}

/** Token faults that mean "not signed in any more", as opposed to a fault of the service. */
function isTokenRefusal(error: unknown): boolean {
  return error instanceof AppError && error.status === 401;
}

async function principalOf(
  deps: Deps,
  request: FastifyRequest,
  token: string | undefined,
  requirement: "access" | "sudo" | "refresh" | "accessOrPartial",
): Promise<Principal | undefined> {
  if (!token) return undefined;
  try {
    const principal = await deps.guard.authenticate(token, requirement);
    return { ...principal, meta: requestMeta(request) };
  } catch (error) {
    if (isTokenRefusal(error) || (error instanceof AppError && error.code === "SUDO_TOKEN_REQUIRED")) return undefined;
    throw error;
  }
}

/** The signed-in user of this browser (an access principal), or undefined; renews the access cookie. */
export async function signedIn(
  deps: Deps,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<Principal | undefined> {
  const cookies = cookiesOf(request);
  const access = await principalOf(deps, request, cookies[PAGE_COOKIES.access], "access");
  if (access) return access;
  const refresh = await principalOf(deps, request, cookies[PAGE_COOKIES.session], "refresh");
  if (!refresh) {
    if (cookies[PAGE_COOKIES.session] || cookies[PAGE_COOKIES.access]) clearSession(reply);
    return undefined;
  }
  let token: IssuedToken;
  try {
    token = await accessTokenFor(deps.flow, refresh);
  } catch (error) {
    if (!isTokenRefusal(error)) throw error;
    clearSession(reply);
    return undefined;
  }
  setTokenCookie(reply, PAGE_COOKIES.access, token, deps.clock.now());
  return principalOf(deps, request, token.token, "access");
}

/** The signed-in user, or SignInNeeded. */
export async function requireSignedIn(deps: Deps, request: FastifyRequest, reply: FastifyReply): Promise<Principal> {
  const principal = await signedIn(deps, request, reply);
  if (!principal) throw new SignInNeeded();
  return principal;
}

/** The sudo token of this browser's session, if a second factor was checked in the last minutes. */
export async function sudoPrincipal(
  deps: Deps,
  request: FastifyRequest,
  signedInAs: Principal,
): Promise<Principal | undefined> {
  const sudo = await principalOf(deps, request, cookiesOf(request)[PAGE_COOKIES.sudo], "sudo");
  return sudo && sudo.sessionId === signedInAs.sessionId ? sudo : undefined;
}

/**
 * What a change needs, as the API's endpoint would: `sudo` always wants the sudo token;
 * `sudoOrAccessIf2faOff` takes the access token while the account has no second factor. Without it:
 * ReauthNeeded.
 */
export async function principalFor(
  deps: Deps,
  request: FastifyRequest,
  reply: FastifyReply,
  requirement: "access" | "sudo" | "sudoOrAccessIf2faOff",
): Promise<Principal> {
  const access = await requireSignedIn(deps, request, reply);
  if (requirement === "access") return access;
  const sudo = await sudoPrincipal(deps, request, access);
  if (sudo) return sudo;
  if (requirement === "sudoOrAccessIf2faOff") {
    const token = cookiesOf(request)[PAGE_COOKIES.access];
    try {
      const principal = await deps.guard.authenticate(token, "sudoOrAccessIf2faOff");
      return { ...principal, meta: requestMeta(request) };
    } catch (error) {
      if (!(error instanceof AppError && error.code === "SUDO_TOKEN_REQUIRED")) throw error;
    }
  }
  throw new ReauthNeeded();
}

/** The partial token of a sign-in waiting for its second factor, or undefined. */
export function partialPrincipal(deps: Deps, request: FastifyRequest): Promise<Principal | undefined> {
  return principalOf(deps, request, cookiesOf(request)[PAGE_COOKIES.partial], "accessOrPartial").then((p) =>
    p?.kind === "partial" ? p : undefined,
  );
}
