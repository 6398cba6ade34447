/**
 * Signing in on the pages: /login (email and password, or a passkey alone), /login/second-factor (a
 * passkey, a code from the authenticator app, by email, or a recovery code), /reauth (a second factor
 * checked again before a sensitive change: the sudo token), and POST /logout. The same flows as
 * /auth/login, /auth/passkey/* and the /user/2fa/* authenticate endpoints, with the same throttles
 * and the same answers for unknown accounts.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../../core/errors.js";
import { login } from "../../core/flows/login.js";
import { logout, type SessionTokens } from "../../core/flows/sessions.js";
import { signupOpen } from "../../core/flows/signup.js";
import { authenticateEmailOtp, challengeEmailOtp, emailOtpNextEmail } from "../../core/flows/two-factor/email-otp.js";
import {
  authenticatePasskey,
  passkeySecondFactorOptions,
  passkeySignInOptions,
  passkeysEnabled,
  signInWithPasskey,
} from "../../core/flows/two-factor/passkeys.js";
import { authenticateRecoveryCode, recoveryCodeNextGuess } from "../../core/flows/two-factor/recovery-codes.js";
import { twoFactorState } from "../../core/flows/two-factor/state.js";
import { authenticateTotp, totpNextGuess } from "../../core/flows/two-factor/totp.js";
import type { Principal } from "../../core/tokens/token-guard.js";
import type { Deps } from "../../deps.js";
import { requestMeta } from "../request-meta.js";
import {
  afterSignIn,
  formatWait,
  formFields,
  isReturnTarget,
  localPath,
  noticeOf,
  type PageEnv,
  pageContext,
  refusal,
  renderPage,
} from "./page.js";
import { assertionOf, CREDENTIAL_LIMIT, optionsReply, PASSKEY_BODY_LIMIT } from "./passkey-form.js";
import {
  clearPageCookie,
  clearSession,
  cookiesOf,
  PAGE_COOKIES,
  partialPrincipal,
  requireSignedIn,
  setPageCookie,
  signedIn,
  storePartial,
  storeTokens,
  sudoPrincipal,
} from "./session.js";

export type SecondFactorMethod = "passkey" | "totp" | "email" | "recovery";
const METHODS: readonly SecondFactorMethod[] = ["passkey", "totp", "email", "recovery"];

const FIELD = { email: 256, password: 256, code: 64, method: 16, next: 200 } as const;

/** Which methods the account has on, in the order they are offered: a passkey first, where there is one. */
async function methodsOf(deps: Deps, userId: number): Promise<SecondFactorMethod[]> {
  const state = await twoFactorState(deps.flow, userId);
  const methods: SecondFactorMethod[] = [];
  if (state.passkeys && passkeysEnabled(deps.flow)) methods.push("passkey");
  if (state.totp) methods.push("totp");
  if (state.emailOtp) methods.push("email");
  if (state.recoveryCodes && state.recoveryCodes.remaining > 0) methods.push("recovery");
  return methods;
}

function chosenMethod(value: unknown, available: readonly SecondFactorMethod[]): SecondFactorMethod | undefined {
  if (typeof value === "string" && (METHODS as readonly string[]).includes(value)) {
    const method = value as SecondFactorMethod;
    return available.includes(method) ? method : available[0];
  }
  return available[0];
}

/** Seconds before the chosen method takes a guess (or, by email, sends a new code). */
async function waitFor(deps: Deps, principal: Principal, method: SecondFactorMethod): Promise<number> {
  if (method === "passkey") return 0;
  if (method === "totp") return totpNextGuess(deps.flow, principal);
  if (method === "recovery") return recoveryCodeNextGuess(deps.flow, principal);
  return emailOtpNextEmail(deps.flow, principal);
}

/** The answer of a second-factor form: a code, or (method=passkey) the browser's credential JSON. */
function secondFactorForm(body: unknown): { method: string; answer: string } {
  const { method } = formFields(body, { method: FIELD.method });
  if (method === "passkey") {
    return { method, answer: formFields(body, { credential: CREDENTIAL_LIMIT.assertion }).credential };
  }
  return { method, answer: formFields(body, { code: FIELD.code }).code };
}

async function checkSecondFactor(
  deps: Deps,
  principal: Principal,
  method: SecondFactorMethod,
  code: string,
  request: FastifyRequest,
): Promise<SessionTokens> {
  const meta = requestMeta(request);
  if (method === "passkey") return authenticatePasskey(deps.flow, principal, assertionOf(code), meta);
  if (method === "totp") return authenticateTotp(deps.flow, principal, code.replace(/\s/g, ""), meta);
  if (method === "email") return authenticateEmailOtp(deps.flow, principal, code.replace(/\s/g, ""), meta);
  return authenticateRecoveryCode(deps.flow, principal, code.trim(), meta);
}

interface StepPage {
  /** "login" for the sign-in's second step, "reauth" for a check before a change. */
  step: "login" | "reauth";
  action: string;
  next?: string;
}

/** The second-factor form of a step, for one method, with the others offered as "try another way". */
async function renderSecondFactor(
  deps: Deps,
  env: PageEnv,
  request: FastifyRequest,
  reply: FastifyReply,
  principal: Principal,
  page: StepPage,
  shown: { method?: unknown; error?: string; notice?: string; status?: number },
): Promise<FastifyReply> {
  const { lang } = pageContext(env, request, reply);
  const available = await methodsOf(deps, principal.userId);
  const method = chosenMethod(shown.method, available);
  if (method === undefined) return reply.redirect(page.step === "login" ? "/login" : "/account", 303);
  const wait = await waitFor(deps, principal, method);
  const query = page.next ? `&next=${encodeURIComponent(page.next)}` : "";
  // A mailed code is on its way: just sent, or sent within the resend wait.
  const codeSent = method === "email" && (wait > 0 || (request.query as Record<string, unknown>).done === "code-sent");
  return renderPage(
    env,
    request,
    reply,
    "second-factor",
    {
      title: page.step === "login" ? "login.second-factor-title" : "login.reauth-title",
      status: shown.status ?? 200,
      signedIn: page.step === "reauth",
    },
    {
      step: page.step,
      action: page.action,
      next: page.next,
      method,
      isTotp: method === "totp",
      isEmail: method === "email",
      isRecovery: method === "recovery",
      isPasskey: method === "passkey",
      passkeyScript: method === "passkey",
      codeSent,
      // A refusal for the wait already says how long it is.
      waitText:
        wait > 0 && shown.status !== 429
          ? env.views.text(lang, method === "email" ? "login.email-wait" : "login.guess-wait", {
              wait: formatWait(lang, wait),
            })
          : undefined,
      others: available
        .filter((other) => other !== method)
        .map((other) => ({ href: `${page.action}?method=${other}${query}`, label: `login.use-${other}` })),
      error: shown.error,
      notice: shown.notice,
    },
  );
}

/** The notices of the sign-in pages after a redirect (`?done=`). */
const NOTICES: Readonly<Record<string, string>> = {
  "signed-out": "login.signed-out",
  "code-sent": "login.code-sent",
  "password-reset": "login.password-reset-done",
  expired: "errors.sign-in-expired",
};

/** The refusals of a sign-in with a passkey alone that read better in words of their own. */
const PASSKEY_SIGN_IN_WORDS: Readonly<Record<string, string>> = { PASSKEY_UNKNOWN: "login.passkey-unknown" };

export function loginPages(deps: Deps, env: PageEnv): FastifyPluginAsync {
  const refused = (request: FastifyRequest, reply: FastifyReply, error: unknown) => refusal(env, request, reply, error);
  const passkeysOn = passkeysEnabled(deps.flow);
  /** What the login page needs for "Sign in with a passkey": nothing while passkeys are off. */
  const passkeyLogin = () => (passkeysOn ? { passkeysOn: true, passkeyScript: true } : {});

  /** A finished sign-in: the tokens in the page session, then the return URL (once) or /account. */
  const signedInTo = (request: FastifyRequest, reply: FastifyReply, tokens: SessionTokens) => {
    storeTokens(deps, reply, tokens);
    const target = afterSignIn(env, cookiesOf(request)[PAGE_COOKIES.returnTo]);
    clearPageCookie(reply, PAGE_COOKIES.returnTo);
    return reply.redirect(target, 303);
  };

  return async (app) => {
    app.get("/login", async (request, reply) => {
      const returnTo = (request.query as Record<string, unknown>).return_to;
      if (returnTo !== undefined) {
        if (typeof returnTo !== "string" || !isReturnTarget(env, returnTo)) {
          const { lang } = pageContext(env, request, reply);
          return renderPage(
            env,
            request,
            reply,
            "error",
            { title: "common.error-title", status: 400 },
            {
              message: env.views.text(lang, "errors.return-url"),
              link: "/login",
            },
          );
        }
        setPageCookie(reply, PAGE_COOKIES.returnTo, returnTo, deps.config.tokens.partialTtlSeconds);
      }
      // `reauth`: a sign-in asked for again (an application's prompt=login or max_age), so the form
      // shows even to a browser that is signed in; the new sign-in replaces its session.
      const reauth = (request.query as Record<string, unknown>).reauth === "1";
      if (!reauth && (await signedIn(deps, request, reply))) {
        const target = afterSignIn(env, cookiesOf(request)[PAGE_COOKIES.returnTo]);
        clearPageCookie(reply, PAGE_COOKIES.returnTo);
        return reply.redirect(target, 303);
      }
      return renderPage(
        env,
        request,
        reply,
        "login",
        { title: "login.title" },
        {
          notice: noticeOf(env, request, reply, NOTICES),
          signupOn: signupOpen(deps.flow.settings.signup),
          ...passkeyLogin(),
        },
      );
    });

    app.post("/login", async (request, reply) => {
      const form = formFields(request.body, { email: FIELD.email, password: FIELD.password });
      let result: Awaited<ReturnType<typeof login>>;
      try {
        result = await login(deps.flow, { username: form.email.trim(), password: form.password }, requestMeta(request));
      } catch (error) {
        const shown = refused(request, reply, error);
        return renderPage(
          env,
          request,
          reply,
          "login",
          { title: "login.title", status: shown.status },
          {
            error: shown.error,
            email: form.email,
            signupOn: signupOpen(deps.flow.settings.signup),
            ...passkeyLogin(),
          },
        );
      }
      if (result.kind === "partial") {
        storePartial(deps, reply, result.token);
        return reply.redirect("/login/second-factor", 303);
      }
      storeTokens(deps, reply, { refresh: result.token });
      const target = afterSignIn(env, cookiesOf(request)[PAGE_COOKIES.returnTo]);
      clearPageCookie(reply, PAGE_COOKIES.returnTo);
      return reply.redirect(target, 303);
    });

    const loginStep: StepPage = { step: "login", action: "/login/second-factor" };

    app.get("/login/second-factor", async (request, reply) => {
      const partial = await partialPrincipal(deps, request);
      if (!partial) return reply.redirect("/login?done=expired", 303);
      const query = request.query as Record<string, unknown>;
      return renderSecondFactor(deps, env, request, reply, partial, loginStep, {
        method: query.method,
        notice: noticeOf(env, request, reply, NOTICES),
      });
    });

    app.post("/login/second-factor", { bodyLimit: PASSKEY_BODY_LIMIT }, async (request, reply) => {
      const form = secondFactorForm(request.body);
      const partial = await partialPrincipal(deps, request);
      if (!partial) return reply.redirect("/login?done=expired", 303);
      const method = chosenMethod(form.method, passkeysOn ? METHODS : METHODS.filter((m) => m !== "passkey"));
      let tokens: SessionTokens;
      try {
        tokens = await checkSecondFactor(deps, partial, method ?? "totp", form.answer, request);
      } catch (error) {
        const shown = refused(request, reply, error);
        return renderSecondFactor(deps, env, request, reply, partial, loginStep, { method, ...shown });
      }
      return signedInTo(request, reply, tokens);
    });

    app.post("/login/second-factor/send", async (request, reply) => {
      const partial = await partialPrincipal(deps, request);
      if (!partial) return reply.redirect("/login?done=expired", 303);
      const context = pageContext(env, request, reply);
      try {
        await challengeEmailOtp(deps.flow, partial, { origin: context.origin.name, language: context.lang });
      } catch (error) {
        const shown = refused(request, reply, error);
        return renderSecondFactor(deps, env, request, reply, partial, loginStep, { method: "email", ...shown });
      }
      return reply.redirect("/login/second-factor?method=email&done=code-sent", 303);
    });

    // Re-authentication: the signed-in user checks a second factor again and gets a sudo token.
    const reauthStep = (request: FastifyRequest): StepPage => ({
      step: "reauth",
      action: "/reauth",
      next: localPath(
        (request.query as Record<string, unknown>).next ?? (request.body as Record<string, unknown> | undefined)?.next,
        "/account",
      ),
    });

    app.get("/reauth", async (request, reply) => {
      const page = reauthStep(request);
      const access = await requireSignedIn(deps, request, reply);
      if ((await methodsOf(deps, access.userId)).length === 0 || (await sudoPrincipal(deps, request, access))) {
        return reply.redirect(page.next ?? "/account", 303);
      }
      const query = request.query as Record<string, unknown>;
      return renderSecondFactor(deps, env, request, reply, access, page, {
        method: query.method,
        notice: noticeOf(env, request, reply, NOTICES),
      });
    });

    app.post("/reauth", { bodyLimit: PASSKEY_BODY_LIMIT }, async (request, reply) => {
      // A session that ended meanwhile gets the "session ended" page before the form is looked at.
      const access = await requireSignedIn(deps, request, reply);
      const form = secondFactorForm(request.body);
      formFields(request.body, { next: FIELD.next }, ["next"]);
      const page = reauthStep(request);
      const method = chosenMethod(form.method, passkeysOn ? METHODS : METHODS.filter((m) => m !== "passkey"));
      try {
        storeTokens(deps, reply, await checkSecondFactor(deps, access, method ?? "totp", form.answer, request));
      } catch (error) {
        const shown = refused(request, reply, error);
        return renderSecondFactor(deps, env, request, reply, access, page, { method, ...shown });
      }
      return reply.redirect(page.next ?? "/account", 303);
    });

    app.post("/reauth/send", async (request, reply) => {
      const access = await requireSignedIn(deps, request, reply);
      const page = reauthStep(request);
      const context = pageContext(env, request, reply);
      try {
        await challengeEmailOtp(deps.flow, access, { origin: context.origin.name, language: context.lang });
      } catch (error) {
        const shown = refused(request, reply, error);
        return renderSecondFactor(deps, env, request, reply, access, page, { method: "email", ...shown });
      }
      return reply.redirect(
        `/reauth?method=email&done=code-sent&next=${encodeURIComponent(page.next ?? "/account")}`,
        303,
      );
    });

    if (passkeysOn) {
      // A sign-in with a passkey alone: options for any passkey of this site, then the browser's answer.
      app.post("/login/passkey/options", async (request, reply) =>
        optionsReply(env, request, reply, () => passkeySignInOptions(deps.flow)),
      );
      app.post("/login/passkey", { bodyLimit: PASSKEY_BODY_LIMIT }, async (request, reply) => {
        const form = formFields(request.body, { credential: CREDENTIAL_LIMIT.assertion });
        let tokens: SessionTokens;
        try {
          tokens = await signInWithPasskey(deps.flow, assertionOf(form.credential), requestMeta(request));
        } catch (error) {
          const shown = refusal(env, request, reply, error, { words: PASSKEY_SIGN_IN_WORDS });
          return renderPage(
            env,
            request,
            reply,
            "login",
            { title: "login.title", status: shown.status },
            { error: shown.error, signupOn: signupOpen(deps.flow.settings.signup), ...passkeyLogin() },
          );
        }
        return signedInTo(request, reply, tokens);
      });

      // A passkey as the second step of a password sign-in, and as the check before a change.
      app.post("/login/second-factor/passkey/options", async (request, reply) => {
        const partial = await partialPrincipal(deps, request);
        if (!partial) return reply.redirect("/login?done=expired", 303);
        return optionsReply(env, request, reply, () => passkeySecondFactorOptions(deps.flow, partial));
      });
      app.post("/reauth/passkey/options", async (request, reply) =>
        optionsReply(env, request, reply, async () =>
          passkeySecondFactorOptions(deps.flow, await requireSignedIn(deps, request, reply)),
        ),
      );
    }

    app.post("/logout", async (request, reply) => {
      const token = cookiesOf(request)[PAGE_COOKIES.session];
      if (token) {
        try {
          const refresh = await deps.guard.authenticate(token, "refresh");
          await logout(deps.flow, { ...refresh, meta: requestMeta(request) });
        } catch (error) {
          // A session already ended is signed out all the same.
          if (!(error instanceof AppError && error.status === 401)) throw error;
        }
      }
      clearSession(reply);
      return reply.redirect("/login?done=signed-out", 303);
    });
  };
}
