/**
 * /invitation: the invited person's page. The mail's link (the origin's `inviteUrl`) brings the
 * address and the code in its query, which only fill the form in (the page then asks browsers to
 * send no Referer, so the code does not travel on); the form posts them with the chosen password to
 * the flow of POST /user/invitation/accept, which signs the person in: the tokens go into the page
 * session and the browser on to /account. Every refusal is the API's, in the reader's words.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { AppError, BadRequestError } from "../../core/errors.js";
import { acceptInvitation } from "../../core/flows/invitations.js";
import { isSingleAddress } from "../../core/mail/single-address.js";
import type { Deps } from "../../deps.js";
import { requestMeta } from "../request-meta.js";
import { formFields, type PageEnv, pageContext, refusal, renderPage, type Shown } from "./page.js";
import { storeTokens } from "./session.js";

/** Field limits; a password may be longer than the rules allow, so that the page can name the rule. */
const FIELD = { email: 256, code: 64, password: 1024 } as const;

/** A mailed code as typed: spaces dropped (mails and phones group the digits). */
function typedCode(value: string): string {
  return value.replace(/\s/g, "");
}

/** A value of the link's query, kept only when it is what the form would accept. */
function fromLink(query: unknown, name: "email" | "code"): string | undefined {
  const value = (query as Record<string, unknown> | undefined)?.[name];
  if (typeof value !== "string") return undefined;
  if (name === "email") return value.length <= FIELD.email && isSingleAddress(value) ? value : undefined;
  return /^\d{6}$/.test(value) ? value : undefined;
}

export function invitationPages(deps: Deps, env: PageEnv): FastifyPluginAsync {
  const page = (
    request: FastifyRequest,
    reply: FastifyReply,
    values: { email?: string | undefined; code?: string | undefined },
    shown?: Shown,
  ) =>
    renderPage(
      env,
      request,
      reply,
      "invitation",
      { title: "invitation.title", status: shown?.status ?? 200 },
      { ...values, error: shown?.error },
    );

  const invalid = (request: FastifyRequest, reply: FastifyReply, key: string): Shown => ({
    status: 400,
    error: env.views.text(pageContext(env, request, reply).lang, key),
  });

  return async (app) => {
    app.get("/invitation", async (request, reply) => {
      const email = fromLink(request.query, "email");
      const code = fromLink(request.query, "code");
      // Opened from the mail's link: the code is in this page's address; no Referer may carry it on.
      if (request.url.includes("?")) reply.header("referrer-policy", "no-referrer");
      return page(request, reply, { email, code });
    });

    app.post("/invitation", async (request, reply) => {
      const form = formFields(request.body, FIELD);
      const email = form.email.trim();
      const code = typedCode(form.code);
      if (!isSingleAddress(email)) {
        return page(request, reply, { email: form.email }, invalid(request, reply, "password.email-invalid"));
      }
      if (!/^\d{6}$/.test(code)) {
        return page(request, reply, { email: form.email }, invalid(request, reply, "password.code-invalid"));
      }
      try {
        const tokens = await acceptInvitation(
          deps.flow,
          { email, code, password: form.password },
          requestMeta(request),
        );
        storeTokens(deps, reply, tokens);
      } catch (error) {
        const shown = refusal(env, request, reply, error);
        // The password rules are checked before the code, which then stays good: keep it in the form.
        const keepCode =
          error instanceof BadRequestError || (error instanceof AppError && error.code === "PASSWORD_TOO_COMMON");
        return page(request, reply, { email: form.email, code: keepCode ? code : undefined }, shown);
      }
      return reply.redirect("/account", 303);
    });
  };
}
