/**
 * The user's sessions, /account/sessions: each live session with its device (read from the user agent
 * it signed in with), address, start and last use, this browser's marked; a form to end each, and one
 * to end every other. The same flows as GET /user/sessions, DELETE /user/sessions/{id} and POST
 * /user/sessions/revoke-others, with the same requirement (an access token). Ending this browser's
 * own session is signing out.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { UAParser } from "ua-parser-js";
import { AppError } from "../../core/errors.js";
import { endOtherUserSessions, endUserSession, listUserSessions } from "../../core/flows/user-sessions.js";
import type { Principal } from "../../core/tokens/token-guard.js";
import type { Deps } from "../../deps.js";
import { doneNotice } from "./account.js";
import { describeError, formatTime, formFields, type PageEnv, pageContext, renderPage } from "./page.js";
import { clearSession, principalFor } from "./session.js";
import type { PageLanguage } from "./view.js";

const FIELD = { session: 100 } as const;

/** Browser names as people know them ("Mobile Safari" is Safari). */
const BROWSER_NAMES: Readonly<Record<string, string>> = {
  "Mobile Safari": "Safari",
  "Mobile Firefox": "Firefox",
  "Chrome WebView": "Chrome",
};

const OS_NAMES: Readonly<Record<string, string>> = { "Mac OS": "macOS", "Chromium OS": "ChromeOS" };

/** Browsers whose version is the system's: their number says nothing more. */
const VERSIONLESS = new Set(["Safari"]);

/**
 * The device of a stored user agent in words: "Chrome 156 on Linux", "Safari on iPhone", or "Unknown
 * device" in the reader's language when the agent names neither a browser nor a system.
 */
export function describeDevice(env: PageEnv, lang: PageLanguage, userAgent: string | null): string {
  const unknown = env.views.text(lang, "sessions.unknown-device");
  if (!userAgent) return unknown;
  const { browser, os, device } = new UAParser(userAgent).getResult();
  const name = browser.name ? (BROWSER_NAMES[browser.name] ?? browser.name) : undefined;
  const major = name && !VERSIONLESS.has(name) ? browser.major : undefined;
  const browserText = name ? [name, major].filter(Boolean).join(" ") : undefined;
  // Apple's phones and tablets are known by their names; other systems by the system's.
  const platform =
    device.vendor === "Apple" && (device.model === "iPhone" || device.model === "iPad")
      ? device.model
      : os.name
        ? (OS_NAMES[os.name] ?? os.name)
        : undefined;
  if (browserText && platform) return env.views.text(lang, "sessions.device", { browser: browserText, platform });
  return browserText ?? platform ?? unknown;
}

export function sessionPages(deps: Deps, env: PageEnv): FastifyPluginAsync {
  const renderSessions = async (
    request: FastifyRequest,
    reply: FastifyReply,
    principal: Principal,
    shown: { error?: string; status?: number } = {},
  ): Promise<FastifyReply> => {
    const { lang } = pageContext(env, request, reply);
    const { sessions } = await listUserSessions(deps.flow, principal);
    // This browser's session first, then the others, newest first.
    const ordered = [...sessions.filter((s) => s.current), ...sessions.filter((s) => !s.current)];
    const rows = ordered.map((session, index) => ({
      id: session.sessionId,
      headingId: `session-${index + 1}`,
      device: describeDevice(env, lang, session.userAgent),
      ip: session.ip ?? env.views.text(lang, "sessions.unknown-address"),
      created: formatTime(lang, Date.parse(session.createdAt)),
      lastUsed: formatTime(lang, Date.parse(session.lastUsedAt)),
      current: session.current,
    }));
    return renderPage(
      env,
      request,
      reply,
      "sessions",
      { title: "sessions.title", status: shown.status ?? 200, signedIn: true },
      {
        sessions: rows,
        hasOthers: rows.some((row) => !row.current),
        notice: shown.error ? undefined : doneNotice(env, request, reply),
        error: shown.error,
      },
    );
  };

  return async (app) => {
    app.get("/account/sessions", async (request, reply) =>
      renderSessions(request, reply, await principalFor(deps, request, reply, "access")),
    );

    app.post("/account/sessions/end", async (request, reply) => {
      const form = formFields(request.body, FIELD);
      const principal = await principalFor(deps, request, reply, "access");
      const own = form.session === principal.sessionId;
      try {
        await endUserSession(deps.flow, principal, form.session);
      } catch (error) {
        if (!(error instanceof AppError) || error.status >= 500) throw error;
        // This browser's own session, ended a moment ago some other way, is signed out all the same.
        if (!own) {
          const { lang } = pageContext(env, request, reply);
          const message =
            error.code === "SESSION_NOT_FOUND"
              ? env.views.text(lang, "sessions.not-found")
              : describeError(env, lang, error);
          return renderSessions(request, reply, principal, { status: error.status, error: message });
        }
      }
      if (own) {
        clearSession(reply);
        return reply.redirect("/login?done=signed-out", 303);
      }
      return reply.redirect("/account/sessions?done=session-ended", 303);
    });

    app.post("/account/sessions/end-others", async (request, reply) => {
      const principal = await principalFor(deps, request, reply, "access");
      await endOtherUserSessions(deps.flow, principal);
      return reply.redirect("/account/sessions?done=others-signed-out", 303);
    });
  };
}
