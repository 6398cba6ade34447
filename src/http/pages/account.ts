/**
 * The account overview, /account: the account's email address, whether two-step verification is on
 * and with which methods, how many sessions are live, and the ways on to change each. Other pages
 * come back here after a change with `?done=<word>`, shown as a notice. Signed in with an access
 * token, as GET /user/2fa and GET /user/sessions want.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { passkeysEnabled } from "../../core/flows/two-factor/passkeys.js";
import { twoFactorState } from "../../core/flows/two-factor/state.js";
import { listUserSessions } from "../../core/flows/user-sessions.js";
import type { Deps } from "../../deps.js";
import { type PageEnv, pageContext, renderPage } from "./page.js";
import { principalFor, SignInNeeded } from "./session.js";

/** The notices other pages may ask for after their change, by the word in `?done=`. */
const NOTICES: Readonly<Record<string, string>> = {
  "password-changed": "account.done-password-changed",
  "email-changed": "account.done-email-changed",
  "two-factor-on": "account.done-two-factor-on",
  "two-factor-off": "account.done-two-factor-off",
  "session-ended": "account.done-session-ended",
  "others-signed-out": "account.done-others-signed-out",
};

/** The notice of `?done=` on this request, in the reader's language; an unknown word shows none. */
export function doneNotice(env: PageEnv, request: FastifyRequest, reply: FastifyReply): string | undefined {
  const done = (request.query as Record<string, unknown>).done;
  const key = typeof done === "string" && Object.hasOwn(NOTICES, done) ? NOTICES[done] : undefined;
  return key ? env.views.text(pageContext(env, request, reply).lang, key) : undefined;
}

export function accountPages(deps: Deps, env: PageEnv): FastifyPluginAsync {
  return async (app) => {
    app.get("/account", async (request, reply) => {
      const principal = await principalFor(deps, request, reply, "access");
      const user = await deps.store.findUserById(principal.userId);
      // The guard has just read the user's row; a user gone since is signed out.
      if (user === undefined) throw new SignInNeeded();
      const [state, { sessions }] = await Promise.all([
        twoFactorState(deps.flow, principal.userId),
        listUserSessions(deps.flow, principal),
      ]);
      const { lang } = pageContext(env, request, reply);
      const methods: string[] = [];
      if (state.totp) methods.push(env.views.text(lang, "account.method-totp"));
      if (state.emailOtp) methods.push(env.views.text(lang, "account.method-email", { email: state.emailOtp.email }));
      if (state.passkeys) {
        methods.push(env.views.text(lang, "account.method-passkeys", { count: String(state.passkeys.count) }));
      }
      if (state.recoveryCodes) {
        methods.push(
          env.views.text(lang, "account.method-recovery", { remaining: String(state.recoveryCodes.remaining) }),
        );
      }
      const count = sessions.length;
      return renderPage(
        env,
        request,
        reply,
        "account",
        { title: "account.title", signedIn: true },
        {
          notice: doneNotice(env, request, reply),
          // Split before each "@" and ".", where a long address may wrap.
          emailParts: user.email.split(/(?=[@.])/),
          twoFactorOn: state.enabled,
          methods,
          passkeysOn: passkeysEnabled(deps.flow),
          passkeyCount: state.passkeys?.count ?? 0,
          sessionsText: env.views.text(lang, count === 1 ? "account.sessions-one" : "account.sessions-many", {
            count: String(count),
          }),
        },
      );
    });
  };
}
