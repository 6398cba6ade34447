import type { SessionRecord } from "../../storage/store.js";
import { AppError } from "../errors.js";
import { iso } from "../iso-time.js";
import type { Principal } from "../tokens/token-guard.js";
import { audit } from "./audit.js";
import type { FlowContext } from "./context.js";

/** The user's own sessions (§6), for the holder of an access token. */

export interface UserSession {
  sessionId: string;
  createdAt: string;
  lastUsedAt: string;
  ip: string | null;
  userAgent: string | null;
  /** The session of the token presented. */
  current: boolean;
}

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The session of the caller's access token (the guard has checked that it is live). */
function currentSessionOf(principal: Principal): string {
  if (principal.sessionId === undefined) throw new AppError("INVALID_TOKEN");
  return principal.sessionId;
}

function shown(session: SessionRecord, current: string): UserSession {
  return {
    sessionId: session.id,
    createdAt: iso(session.createdAt),
    lastUsedAt: iso(session.lastUsedAt),
    ip: session.ip,
    userAgent: session.userAgent,
    current: session.id === current,
  };
}

/** `GET /user/sessions`: the caller's sessions neither revoked nor past their end, newest first. */
export async function listUserSessions(flow: FlowContext, principal: Principal): Promise<{ sessions: UserSession[] }> {
  const current = currentSessionOf(principal);
  const sessions = await flow.store.listLiveSessions(principal.userId, flow.clock.now());
  return { sessions: sessions.map((session) => shown(session, current)) };
}

/**
 * `DELETE /user/sessions/{sessionId}`: ends one of the caller's live sessions, the current one too (a
 * logout). Another user's session, an unknown or malformed id and a session already ended are all
 * the same SESSION_NOT_FOUND, so the answer tells nothing about sessions that are not the caller's.
 * One conditional UPDATE decides: of concurrent calls for one session exactly one ends it.
 */
export async function endUserSession(flow: FlowContext, principal: Principal, sessionId: string): Promise<void> {
  const current = currentSessionOf(principal);
  // Session ids are UUIDs: anything else names no session and is not worth a query (some text,
  // such as a NUL character, is not even storable in PostgreSQL).
  const ended =
    SESSION_ID.test(sessionId) && (await flow.store.revokeUserSession(principal.userId, sessionId, flow.clock.now()));
  if (!ended) throw new AppError("SESSION_NOT_FOUND");
  await audit(flow, "session.revoked", principal.userId, principal.meta, {
    reason: "user",
    sessionId,
    current: sessionId === current,
  });
}

/**
 * `POST /user/sessions/revoke-others`: ends every session of the caller but the current one, as a
 * password change does (§2): the user's token generation moves on too, so a login elsewhere still
 * waiting for its second factor (a partial token) cannot complete either. The current session, and
 * its access and sudo tokens, stay valid.
 */
export async function endOtherUserSessions(flow: FlowContext, principal: Principal): Promise<void> {
  const current = currentSessionOf(principal);
  const count = await flow.store.revokeUserSessions(principal.userId, flow.clock.now(), current);
  await audit(flow, "session.revoked", principal.userId, principal.meta, { reason: "revoke-others", count });
}
