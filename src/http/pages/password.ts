/**
 * Passwords and the sign-in address on the pages: /password/forgot and /password/reset (a code by
 * mail, then a new password), /account/password (change it, knowing the current one) and
 * /account/email with /account/email/confirm (a code to the new address, then the change). The same
 * flows as /user/password/* and /user/email*, with the same throttles, requirements and answers: an
 * unknown address is answered exactly as a known one.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { AppError, BadRequestError, type ErrorCode } from "../../core/errors.js";
import { completeEmailTransfer, initiateEmailTransfer } from "../../core/flows/email.js";
import type { MailOptions } from "../../core/flows/mail-codes.js";
import { changePassword, resetPasswordWithCode, sendPasswordReset } from "../../core/flows/password.js";
import { isSingleAddress } from "../../core/mail/single-address.js";
import type { Deps } from "../../deps.js";
import { requestMeta } from "../request-meta.js";
import {
  formFields,
  noticeOf,
  type PageEnv,
  pageContext,
  type RenderOptions,
  refusal,
  renderPage,
  type Shown,
} from "./page.js";
import {
  clearPageCookie,
  clearSession,
  cookiesOf,
  PAGE_COOKIES,
  principalFor,
  requireSignedIn,
  setPageCookie,
} from "./session.js";

/**
 * Field limits. A new password may be longer than the rules allow, so that the page can name the
 * rule (as the API's schema does, up to 1024); beyond that the form itself is refused.
 */
const FIELD = { email: 256, code: 64, password: 256, newPassword: 1024 } as const;

/** The change endpoints' requirement (PUT /user/password/old-password, POST /user/email/initiate). */
const CHANGE_REQUIREMENT = "sudoOrAccessIf2faOff";

/** A mailed code as typed: spaces dropped (mails and phones group the digits). */
function typedCode(value: string): string {
  return value.replace(/\s/g, "");
}

export function passwordPages(deps: Deps, env: PageEnv): FastifyPluginAsync {
  const langOf = (request: FastifyRequest, reply: FastifyReply) => pageContext(env, request, reply).lang;
  const text = (request: FastifyRequest, reply: FastifyReply, key: string, values?: Record<string, unknown>) =>
    env.views.text(langOf(request, reply), key, values);

  /** The mail options of this reader: the page's origin and language. */
  const mailOptions = (request: FastifyRequest, reply: FastifyReply): MailOptions => {
    const context = pageContext(env, request, reply);
    return { origin: context.origin.name, language: context.lang };
  };

  /** A refusal of the flow in the reader's words (see `refusal`). */
  const refused = (
    request: FastifyRequest,
    reply: FastifyReply,
    error: unknown,
    words: Partial<Record<ErrorCode, string>> = {},
    shownAsRefusal: readonly ErrorCode[] = [],
  ): Shown => refusal(env, request, reply, error, { words, shownAsRefusal });

  /** A form's own check (before any flow): a 400 with the form again, nothing done. */
  const invalid = (request: FastifyRequest, reply: FastifyReply, key: string): Shown => ({
    status: 400,
    error: text(request, reply, key),
  });

  const page = (
    request: FastifyRequest,
    reply: FastifyReply,
    view: string,
    options: RenderOptions,
    data: Record<string, unknown>,
    shown?: Shown,
  ) =>
    renderPage(
      env,
      request,
      reply,
      view,
      { ...options, status: shown?.status ?? options.status ?? 200 },
      { ...data, error: shown?.error },
    );

  return async (app) => {
    // Forgotten password, step 1: an address, and a code mailed to it if an account has it.
    const forgotPage = (request: FastifyRequest, reply: FastifyReply, email: string | undefined, shown?: Shown) =>
      page(request, reply, "password-forgot", { title: "password.forgot-title" }, { email }, shown);

    app.get("/password/forgot", async (request, reply) =>
      forgotPage(request, reply, cookiesOf(request)[PAGE_COOKIES.resetEmail]),
    );

    app.post("/password/forgot", async (request, reply) => {
      const form = formFields(request.body, { email: FIELD.email });
      const email = form.email.trim();
      if (!isSingleAddress(email))
        return forgotPage(request, reply, form.email, invalid(request, reply, "password.email-invalid"));
      try {
        // The flow does the same work for an address no account has, and the page answers the same:
        // the same redirect, the same cookie, the same notice.
        await sendPasswordReset(deps.flow, email, mailOptions(request, reply));
      } catch (error) {
        return forgotPage(request, reply, form.email, refused(request, reply, error));
      }
      // The address goes to the next page in an HttpOnly cookie, for as long as the code lives.
      setPageCookie(reply, PAGE_COOKIES.resetEmail, email, deps.config.codes.ttlSeconds);
      return reply.redirect("/password/reset?done=sent", 303);
    });

    // Forgotten password, step 2: the mailed code and a new password.
    const resetPage = (
      request: FastifyRequest,
      reply: FastifyReply,
      values: { email?: string | undefined; code?: string | undefined },
      shown?: Shown,
    ) =>
      page(
        request,
        reply,
        "password-reset",
        { title: "password.reset-title" },
        { ...values, notice: shown ? undefined : noticeOf(env, request, reply, { sent: "password.code-sent" }) },
        shown,
      );

    app.get("/password/reset", async (request, reply) =>
      resetPage(request, reply, { email: cookiesOf(request)[PAGE_COOKIES.resetEmail] }),
    );

    app.post("/password/reset", async (request, reply) => {
      const form = formFields(request.body, { email: FIELD.email, code: FIELD.code, password: FIELD.newPassword });
      const email = form.email.trim();
      const code = typedCode(form.code);
      if (!isSingleAddress(email)) {
        return resetPage(request, reply, { email: form.email }, invalid(request, reply, "password.email-invalid"));
      }
      if (code.length !== 6) {
        return resetPage(request, reply, { email: form.email }, invalid(request, reply, "password.code-invalid"));
      }
      try {
        await resetPasswordWithCode(
          deps.flow,
          { userEmail: email, otp: code, newPassword: form.password },
          requestMeta(request),
        );
      } catch (error) {
        const shown = refused(request, reply, error);
        // The password rules are checked before the code, which then stays good: keep it in the form.
        const keepCode =
          error instanceof BadRequestError || (error instanceof AppError && error.code === "PASSWORD_TOO_COMMON");
        return resetPage(request, reply, { email: form.email, code: keepCode ? code : undefined }, shown);
      }
      // The flow ended every session of the account; this browser forgets its own too.
      clearSession(reply);
      clearPageCookie(reply, PAGE_COOKIES.resetEmail);
      return reply.redirect("/login?done=password-reset", 303);
    });

    // Changing the password, knowing the current one. The session of this browser stays.
    const changePage = (request: FastifyRequest, reply: FastifyReply, shown?: Shown) =>
      page(request, reply, "password-change", { title: "password.change-title", signedIn: true }, {}, shown);

    app.get("/account/password", async (request, reply) => {
      await principalFor(deps, request, reply, CHANGE_REQUIREMENT);
      return changePage(request, reply);
    });

    app.post("/account/password", async (request, reply) => {
      const form = formFields(request.body, { current: FIELD.password, password: FIELD.newPassword });
      const principal = await principalFor(deps, request, reply, CHANGE_REQUIREMENT);
      try {
        await changePassword(deps.flow, principal, { oldPassword: form.current, newPassword: form.password });
      } catch (error) {
        return changePage(
          request,
          reply,
          refused(request, reply, error, { PASSWORD_INCORRECT: "password.current-incorrect" }, ["NO_PASSWORD_INFO"]),
        );
      }
      // The flow kept this session (its refresh, access and sudo tokens) and ended the others.
      return reply.redirect("/account?done=password-changed", 303);
    });

    // Changing the sign-in address: a code to the new address, then the change.
    const emailPage = async (
      request: FastifyRequest,
      reply: FastifyReply,
      userId: number,
      email?: string,
      shown?: Shown,
    ) => {
      const user = await deps.store.findUserById(userId);
      return page(
        request,
        reply,
        "email-change",
        { title: "password.email-title", signedIn: true },
        { current: user?.email, email },
        shown,
      );
    };

    app.get("/account/email", async (request, reply) => {
      const principal = await principalFor(deps, request, reply, CHANGE_REQUIREMENT);
      return emailPage(request, reply, principal.userId);
    });

    app.post("/account/email", async (request, reply) => {
      const form = formFields(request.body, { email: FIELD.email });
      const principal = await principalFor(deps, request, reply, CHANGE_REQUIREMENT);
      const email = form.email.trim();
      if (!isSingleAddress(email)) {
        return emailPage(
          request,
          reply,
          principal.userId,
          form.email,
          invalid(request, reply, "password.email-invalid"),
        );
      }
      try {
        await initiateEmailTransfer(deps.flow, principal, email, mailOptions(request, reply));
      } catch (error) {
        return emailPage(request, reply, principal.userId, form.email, refused(request, reply, error));
      }
      return reply.redirect("/account/email/confirm?done=sent", 303);
    });

    const confirmPage = (request: FastifyRequest, reply: FastifyReply, shown?: Shown) =>
      page(
        request,
        reply,
        "email-confirm",
        { title: "password.confirm-title", signedIn: true },
        { notice: shown ? undefined : noticeOf(env, request, reply, { sent: "password.transfer-sent" }) },
        shown,
      );

    app.get("/account/email/confirm", async (request, reply) => {
      await requireSignedIn(deps, request, reply);
      return confirmPage(request, reply);
    });

    app.post("/account/email/confirm", async (request, reply) => {
      const form = formFields(request.body, { code: FIELD.code });
      // Completing needs the access token only, as PUT /user/email does.
      const principal = await requireSignedIn(deps, request, reply);
      const code = typedCode(form.code);
      if (code.length !== 6) return confirmPage(request, reply, invalid(request, reply, "password.code-invalid"));
      try {
        await completeEmailTransfer(deps.flow, principal, code);
      } catch (error) {
        return confirmPage(request, reply, refused(request, reply, error));
      }
      return reply.redirect("/account?done=email-changed", 303);
    });
  };
}
