/**
 * Signing up on the pages, when LATCHKEY_SIGNUP is on: /signup (an address and a password; a code is
 * mailed) and /signup/confirm (the code; the account is made and this browser signed in). The same
 * flows as POST /user/signup and /user/signup/confirm, with the same answers: an address that has
 * an account is answered exactly as a new one (its owner gets a notice by mail instead of a code).
 * While sign-up is off both paths answer the 404 page.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { confirmSignup, signupOpen, startSignup } from "../../core/flows/signup.js";
import { isSingleAddress } from "../../core/mail/single-address.js";
import type { Deps } from "../../deps.js";
import { requestMeta } from "../request-meta.js";
import {
  afterSignIn,
  formFields,
  noticeOf,
  type PageEnv,
  pageContext,
  refusal,
  renderPage,
  type Shown,
} from "./page.js";
import { clearPageCookie, cookiesOf, PAGE_COOKIES, setPageCookie, signedIn, storeTokens } from "./session.js";

/**
 * Field limits. The password may be longer than the rules allow, so that the page can name the rule
 * (as the API's schema does, up to 1024); beyond that the form itself is refused.
 */
const FIELD = { email: 256, password: 1024, code: 64 } as const;

/** A mailed code as typed: spaces dropped (mails and phones group the digits). */
function typedCode(value: string): string {
  return value.replace(/\s/g, "");
}

export function signupPages(deps: Deps, env: PageEnv): FastifyPluginAsync {
  const on = () => signupOpen(deps.flow.settings.signup);
  /** Sign-up off: these paths are as absent as any unknown one (the pages' 404). */
  const notFound = (request: FastifyRequest, reply: FastifyReply) =>
    renderPage(
      env,
      request,
      reply,
      "error",
      { title: "common.not-found-title", status: 404, csrf: false },
      { message: env.views.text(pageContext(env, request, reply).lang, "common.not-found"), link: "/login" },
    );
  const invalid = (request: FastifyRequest, reply: FastifyReply, key: string): Shown => ({
    status: 400,
    error: env.views.text(pageContext(env, request, reply).lang, key),
  });

  const signupPage = (request: FastifyRequest, reply: FastifyReply, email: string | undefined, shown?: Shown) =>
    renderPage(
      env,
      request,
      reply,
      "signup",
      { title: "signup.title", status: shown?.status ?? 200 },
      {
        email,
        error: shown?.error,
      },
    );

  const confirmPage = (request: FastifyRequest, reply: FastifyReply, email: string | undefined, shown?: Shown) =>
    renderPage(
      env,
      request,
      reply,
      "signup-confirm",
      { title: "signup.confirm-title", status: shown?.status ?? 200 },
      {
        email,
        error: shown?.error,
        notice: shown ? undefined : noticeOf(env, request, reply, { sent: "signup.code-sent" }),
      },
    );

  return async (app) => {
    app.get("/signup", async (request, reply) => {
      if (!on()) return notFound(request, reply);
      if (await signedIn(deps, request, reply)) return reply.redirect("/account", 303);
      return signupPage(request, reply, cookiesOf(request)[PAGE_COOKIES.signupEmail]);
    });

    app.post("/signup", async (request, reply) => {
      if (!on()) return notFound(request, reply);
      const form = formFields(request.body, { email: FIELD.email, password: FIELD.password });
      const email = form.email.trim();
      if (!isSingleAddress(email))
        return signupPage(request, reply, form.email, invalid(request, reply, "password.email-invalid"));
      const context = pageContext(env, request, reply);
      try {
        // The same work and the same answer whether or not the address has an account.
        await startSignup(
          deps.flow,
          { email, password: form.password },
          { origin: context.origin.name, language: context.lang },
        );
      } catch (error) {
        return signupPage(request, reply, form.email, refusal(env, request, reply, error));
      }
      // The address goes to the next page in an HttpOnly cookie, for as long as the code lives.
      setPageCookie(reply, PAGE_COOKIES.signupEmail, email, deps.config.codes.ttlSeconds);
      return reply.redirect("/signup/confirm?done=sent", 303);
    });

    app.get("/signup/confirm", async (request, reply) => {
      if (!on()) return notFound(request, reply);
      return confirmPage(request, reply, cookiesOf(request)[PAGE_COOKIES.signupEmail]);
    });

    app.post("/signup/confirm", async (request, reply) => {
      if (!on()) return notFound(request, reply);
      const form = formFields(request.body, { email: FIELD.email, code: FIELD.code });
      const email = form.email.trim();
      const code = typedCode(form.code);
      if (!isSingleAddress(email)) {
        return confirmPage(request, reply, form.email, invalid(request, reply, "password.email-invalid"));
      }
      if (!/^\d{6}$/.test(code))
        return confirmPage(request, reply, form.email, invalid(request, reply, "password.code-invalid"));
      try {
        storeTokens(deps, reply, await confirmSignup(deps.flow, { email, code }, requestMeta(request)));
      } catch (error) {
        return confirmPage(request, reply, form.email, refusal(env, request, reply, error));
      }
      clearPageCookie(reply, PAGE_COOKIES.signupEmail);
      const target = afterSignIn(env, cookiesOf(request)[PAGE_COOKIES.returnTo]);
      clearPageCookie(reply, PAGE_COOKIES.returnTo);
      return reply.redirect(target, 303);
    });
  };
}
