import type { AuthMethod, NewSession } from "../../storage/store.js";
import { AppError } from "../errors.js";
import type { SecurityEvent } from "../events.js";
import type { RequestMeta } from "../request-meta.js";
import type { GuessKind } from "../throttle/guess-throttle.js";
import type { Principal } from "../tokens/token-guard.js";
import type { IssuedToken } from "../tokens/tokens.js";
import { audit } from "./audit.js";
import type { FlowContext } from "./context.js";

/** A full login's token set (§2). */
export interface SessionTokens {
  refresh: IssuedToken;
  access: IssuedToken;
  sudo: IssuedToken;
}

export type SessionRefreshToken = IssuedToken & { sessionId: string };

/** A new session's row and the id of its first refresh token. The refresh lifetime is absolute (§2). */
export function newSession(
  flow: FlowContext,
  userId: number,
  meta: RequestMeta,
  methods: readonly AuthMethod[],
): { session: NewSession; refreshJti: string } {
  const now = flow.clock.now();
  const expiresAt = now + flow.settings.tokens.refreshTtlSeconds * 1000;
  return {
    session: {
      id: flow.random.uuid(),
      userId,
      createdAt: now,
      expiresAt,
      ip: meta.ip,
      userAgent: meta.userAgent,
      methods,
    },
    refreshJti: flow.tokens.newJti(),
  };
}

/** The session's first refresh token, signed once its row exists. */
export async function firstRefreshToken(
  flow: FlowContext,
  session: NewSession,
  jti: string,
): Promise<SessionRefreshToken> {
  const refresh = await flow.tokens.issue(
    "refresh",
    { userId: session.userId, sessionId: session.id },
    session.expiresAt,
    jti,
  );
  return { ...refresh, sessionId: session.id };
}

/**
 * A partial token's second factor passed: the token is spent and the session opened in one
 * transaction, only while no revocation of the user's sessions came after the token (§2). Exactly
 * one of concurrent completions gets the session; the others, and a revoked token, TOKEN_REVOKED.
 */
export async function startSessionFromPartial(
  flow: FlowContext,
  partial: Principal,
  meta: RequestMeta,
  secondFactor: AuthMethod,
): Promise<SessionRefreshToken> {
  const { session, refreshJti } = newSession(flow, partial.userId, meta, ["password", secondFactor]);
  const opened = await flow.store.openSessionFromPartial({
    partial: {
      jti: partial.claims.jti,
      userId: partial.userId,
      expiresAt: partial.claims.exp * 1000,
      tokenGeneration: partial.claims.gen ?? 0,
    },
    session,
    refreshJti,
  });
  if (!opened) throw new AppError("TOKEN_REVOKED");
  return firstRefreshToken(flow, session, refreshJti);
}

/**
 * After a correct password: clears the password throttle of `throttleSubject` and, unless a second
 * factor is on, opens the session and records `login.succeeded`, all in one transaction. Undefined
 * when a second factor is on (the caller goes on to the partial token; no refresh token is signed).
 */
export async function startSessionAfterPassword(
  flow: FlowContext,
  userId: number,
  throttleSubject: string,
  meta: RequestMeta,
): Promise<SessionRefreshToken | undefined> {
  const { session, refreshJti } = newSession(flow, userId, meta, ["password"]);
  const event: SecurityEvent = { type: "login.succeeded", userId, ip: meta.ip, userAgent: meta.userAgent };
  const opened = await flow.store.openSessionAfterPassword({
    throttle: { subject: throttleSubject, kind: "password" satisfies GuessKind },
    session,
    refreshJti,
    event: { ...event, userId, at: session.createdAt },
  });
  if (!opened) return undefined;
  flow.events.written(event);
  return firstRefreshToken(flow, session, refreshJti);
}

export async function issueAccessAndSudo(
  flow: FlowContext,
  userId: number,
  sessionId: string,
): Promise<Omit<SessionTokens, "refresh">> {
  const now = flow.clock.now();
  const [access, sudo] = await Promise.all([
    flow.tokens.issue("access", { userId, sessionId }, now + flow.settings.tokens.accessTtlSeconds * 1000),
    flow.tokens.issue("sudo", { userId, sessionId }, now + flow.settings.tokens.sudoTtlSeconds * 1000),
  ]);
  return { access, sudo };
}

/**
 * An access token issued moves its session's last use on only when that is this old or more (§6):
 * a client asking for access tokens in a loop does not write on every request, and the list is
 * still exact to the minute.
 */
const LAST_USE_STEP_MS = 60_000;

interface LiveRefreshToken {
  userId: number;
  sessionId: string;
  expiresAt: number;
  /** When it was rotated (within the grace), or null. */
  usedAt: number | null;
}

/**
 * Checks a verified refresh token against its row: the session must be live, and a token already
 * rotated is accepted only within the grace period. Past the grace it is reuse: the whole session
 * is revoked (§2, OAuth 2.0 Security BCP §4.14). `use` (an access token about to be issued) also
 * moves the session's last use on, a minute at a time, in the statement that reads the row (§6); a
 * check alone never writes.
 */
async function liveRefreshToken(
  flow: FlowContext,
  principal: Principal,
  purpose: "use" | "check",
): Promise<LiveRefreshToken> {
  const claims = principal.claims;
  const now = flow.clock.now();
  const status =
    purpose === "use"
      ? await flow.store.refreshTokenStatusAndTouch(claims.jti, { at: now, ifLastUsedBy: now - LAST_USE_STEP_MS })
      : await flow.store.refreshTokenStatus(claims.jti);
  if (!status) throw new AppError("TOKEN_REVOKED");
  if (status.sessionId !== claims.sid || status.userId !== claims.sub) throw new AppError("INVALID_TOKEN");
  if (status.revokedAt !== null) throw new AppError("TOKEN_REVOKED");
  if (status.userDisabled) throw new AppError("ACCOUNT_DISABLED");
  if (status.usedAt !== null && now - status.usedAt > flow.settings.tokens.refreshGraceSeconds * 1000) {
    await flow.store.revokeSession(status.sessionId, now);
    await audit(flow, "refresh_token.reused", status.userId, principal.meta, { sessionId: status.sessionId });
    throw new AppError("REFRESH_TOKEN_REUSED");
  }
  return { userId: status.userId, sessionId: status.sessionId, expiresAt: status.expiresAt, usedAt: status.usedAt };
}

/**
 * `GET /auth/refreshtoken`: rotation. The first rotation of a token decides its successor; a copy
 * presented within the grace, or a concurrent caller, gets that same successor, signed again from
 * its row (same jti and issue time, so the same token under the same key): a session keeps one live
 * chain, and a copied token cannot start a second one (§2). The rotation moves the session's last
 * use on (§6).
 */
export async function rotateRefreshToken(flow: FlowContext, principal: Principal): Promise<IssuedToken> {
  const live = await liveRefreshToken(flow, principal, "check");
  const jti = principal.claims.jti;
  const successor =
    live.usedAt === null
      ? await flow.store.rotateRefreshToken({
          jti,
          newJti: flow.tokens.newJti(),
          sessionId: live.sessionId,
          now: flow.clock.now(),
        })
      : await flow.store.refreshTokenSuccessor(jti);
  // A token used with no recorded successor (rotated before successors were recorded) has none to give.
  if (successor === undefined) throw new AppError("TOKEN_REVOKED");
  const subject = { userId: live.userId, sessionId: live.sessionId };
  return flow.tokens.issue("refresh", subject, live.expiresAt, successor.jti, successor.issuedAt);
}

/** `GET /auth/accesstoken`: the session's last use moves on (§6). */
export async function accessTokenFor(flow: FlowContext, principal: Principal): Promise<IssuedToken> {
  const live = await liveRefreshToken(flow, principal, "use");
  const expiresAt = flow.clock.now() + flow.settings.tokens.accessTtlSeconds * 1000;
  return flow.tokens.issue("access", { userId: live.userId, sessionId: live.sessionId }, expiresAt);
}

/** `GET /auth/refreshtoken/validate`. */
export async function validateRefreshToken(flow: FlowContext, principal: Principal): Promise<number> {
  return (await liveRefreshToken(flow, principal, "check")).userId;
}

/** `POST /auth/logout`: ends the session; every token of it stops working at once. */
export async function logout(flow: FlowContext, principal: Principal): Promise<void> {
  const live = await liveRefreshToken(flow, principal, "check");
  const ended = await flow.store.revokeSession(live.sessionId, flow.clock.now());
  if (!ended) throw new AppError("TOKEN_REVOKED");
  await audit(flow, "session.revoked", live.userId, principal.meta, { reason: "logout", sessionId: live.sessionId });
}
