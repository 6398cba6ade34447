import type { AuthMethod } from "../../../storage/store.js";
import { AppError } from "../../errors.js";
import type { RequestMeta } from "../../request-meta.js";
import type { Principal } from "../../tokens/token-guard.js";
import type { IssuedToken } from "../../tokens/tokens.js";
import type { FlowContext } from "../context.js";
import { issueAccessAndSudo, type SessionTokens, startSessionFromPartial } from "../sessions.js";

/**
 * What every `/user/2fa/<method>/authenticate` endpoint answers once its second factor has passed (§2):
 * - with a partial token, the pending login becomes a new session. The partial token is spent with
 *   it in one transaction (one INSERT decides), so one password check yields at most one session,
 *   and none once the user's sessions were revoked after the token was issued;
 * - with an access token (step-up), a new refresh token joins the access token's session, with the
 *   session's absolute end; the refresh token the client already holds stays valid.
 * Both come with a fresh access and sudo token of that session.
 */
export async function completeSecondFactor(
  flow: FlowContext,
  principal: Principal,
  meta: RequestMeta,
  method: AuthMethod,
): Promise<SessionTokens> {
  const { refresh, sessionId } =
    principal.kind === "partial"
      ? await sessionFromPartial(flow, principal, meta, method)
      : await stepUp(flow, principal);
  return { refresh, ...(await issueAccessAndSudo(flow, principal.userId, sessionId)) };
}

async function sessionFromPartial(
  flow: FlowContext,
  principal: Principal,
  meta: RequestMeta,
  method: AuthMethod,
): Promise<{ refresh: IssuedToken; sessionId: string }> {
  const refresh = await startSessionFromPartial(flow, principal, meta, method);
  return { refresh, sessionId: refresh.sessionId };
}

async function stepUp(flow: FlowContext, principal: Principal): Promise<{ refresh: IssuedToken; sessionId: string }> {
  const sessionId = principal.sessionId;
  // The guard has just checked the session; it may have ended since, and then the new token is dead too.
  const status = sessionId === undefined ? undefined : await flow.store.sessionStatus(sessionId);
  if (sessionId === undefined || !status || status.revokedAt !== null) throw new AppError("TOKEN_REVOKED");
  // An access token may outlive its session's absolute end by a few minutes; the session may not.
  if (status.expiresAt <= flow.clock.now()) throw new AppError("TOKEN_EXPIRED");
  const refresh = await flow.tokens.issue("refresh", { userId: principal.userId, sessionId }, status.expiresAt);
  await flow.store.addRefreshToken({ jti: refresh.jti, sessionId, issuedAt: flow.clock.now() });
  return { refresh, sessionId };
}
