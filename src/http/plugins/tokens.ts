import type { FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../../core/errors.js";
import { COOKIES_FOR, type Principal, type Requirement, type TokenGuard } from "../../core/tokens/token-guard.js";
import type { IssuedToken } from "../../core/tokens/tokens.js";
import { requestMeta } from "../request-meta.js";

export type TokenCookie = "refreshToken" | "accessToken" | "partialToken";

/** The bearer token, or — when no Authorization header is sent — the cookie of the kind accepted (§1). */
export function presentedToken(request: FastifyRequest, requirement: Requirement): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
    if (!match) throw new AppError("INVALID_TOKEN");
    return match[1];
  }
  const cookieHeader = request.headers.cookie;
  if (cookieHeader === undefined) return undefined;
  const cookies = request.server.parseCookie(cookieHeader);
  for (const name of COOKIES_FOR[requirement]) {
    const value = cookies[name];
    if (value) return value;
  }
  return undefined;
}

export async function authenticate(
  guard: TokenGuard,
  request: FastifyRequest,
  requirement: Requirement,
): Promise<Principal> {
  const principal = await guard.authenticate(presentedToken(request, requirement), requirement);
  return { ...principal, meta: requestMeta(request) };
}

/**
 * Where each cookie travels: the refresh token only to /auth (the endpoints that take it); partial and
 * access tokens are read by /user/* too.
 */
const COOKIE_PATHS: Record<TokenCookie, string> = { refreshToken: "/auth", accessToken: "/", partialToken: "/" };
const COOKIE_ATTRIBUTES = { httpOnly: true, secure: true, sameSite: "strict" } as const;

/** `?cookie=true`: the token also travels as an HttpOnly, Secure, SameSite=Strict cookie. */
export function setTokenCookie(reply: FastifyReply, name: TokenCookie, token: IssuedToken, nowMs: number): void {
  reply.setCookie(name, token.token, {
    ...COOKIE_ATTRIBUTES,
    path: COOKIE_PATHS[name],
    maxAge: Math.max(0, Math.floor((token.expiresAt - nowMs) / 1000)),
  });
}

/**
 * Logout expires every token cookie (Max-Age=0). Also the refresh cookie that earlier versions set at
 * Path=/: a browser keeps cookies of different paths apart, so clearing /auth alone would leave it.
 */
export function clearTokenCookies(reply: FastifyReply): void {
  for (const [name, path] of Object.entries(COOKIE_PATHS)) reply.clearCookie(name, { ...COOKIE_ATTRIBUTES, path });
  reply.clearCookie("refreshToken", { ...COOKIE_ATTRIBUTES, path: "/" });
}
