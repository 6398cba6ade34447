/**
 * The provider's interactions on the hosted pages. The provider sends the browser here when it needs
 * a sign-in or a consent:
 * - sign-in: the browser's page session is the sign-in (its user, when it began, what proved it).
 *   Without one, or when the application asked for a new one (`prompt=login`, `max_age`), the browser
 *   goes to /login, with its second factor as usual, and comes back here;
 * - consent: first-party clients get it without asking; other clients get a page that asks.
 * Each ends on a short page that sends the browser on to the provider (a refresh and a link, no
 * script), so that no form submission is ever redirected to the application's address.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { errors, type InteractionResults } from "oidc-provider";
import type { Deps } from "../deps.js";
import { formFields, type PageEnv, pageContext, renderPage } from "../http/pages/page.js";
import { errorPage } from "../http/pages/plugin.js";
import { clearPageCookie, cookiesOf, PAGE_COOKIES, setPageCookie, signedIn } from "../http/pages/session.js";
import { acrOf, amrOf } from "./claims.js";
import { FIRST_PARTY_METADATA, INTERACTION_PREFIX, interactionPath } from "./provider.js";
import type { OidcService } from "./service.js";

type Interaction = Awaited<ReturnType<OidcService["provider"]["interactionDetails"]>>;

/** Why the provider asks for a sign-in that a page session already there does not answer. */
const FRESH_SIGN_IN_REASONS = new Set(["login_prompt", "max_age", "id_token_hint", "claims_id_token_sub_value"]);

/** The scopes a consent page describes, in this order. */
const DESCRIBED_SCOPES = ["openid", "email", "profile", "offline_access"];

/** The cookie naming the page session a new sign-in must replace (prompt=login, max_age). */
const STALE_SESSION_COOKIE = PAGE_COOKIES.oidcStale;

export function oidcPages(deps: Deps, env: PageEnv, oidc: OidcService): FastifyPluginAsync {
  /** The interaction of this browser at `uid`, or undefined when there is none (expired, used, another browser's). */
  async function interactionOf(request: FastifyRequest, reply: FastifyReply): Promise<Interaction | undefined> {
    const { uid } = request.params as { uid: string };
    await oidc.ready();
    try {
      const details = await oidc.provider.interactionDetails(request.raw, reply.raw);
      return details.uid === uid ? details : undefined;
    } catch (error) {
      if (error instanceof errors.SessionNotFound) return undefined;
      throw error;
    }
  }

  const expired = (request: FastifyRequest, reply: FastifyReply) =>
    errorPage(env, request, reply, 400, "oidc.expired", { link: "/account" });

  /** Records the result; the browser goes on to the provider, which answers the application. */
  async function finish(
    request: FastifyRequest,
    reply: FastifyReply,
    details: Interaction,
    result: InteractionResults,
  ): Promise<FastifyReply> {
    const next = await oidc.provider.interactionResult(request.raw, reply.raw, result, {
      mergeWithLastSubmission: false,
    });
    const client = await oidc.provider.Client.find(String(details.params.client_id));
    return renderPage(
      env,
      request,
      reply,
      "oidc-continue",
      { title: "oidc.continue-title", csrf: false },
      { next, refreshTo: next, client: client?.clientName ?? client?.clientId ?? "" },
    );
  }

  async function signIn(request: FastifyRequest, reply: FastifyReply, details: Interaction): Promise<FastifyReply> {
    const fresh = details.prompt.reasons.some((reason) => FRESH_SIGN_IN_REASONS.has(reason));
    const principal = await signedIn(deps, request, reply);
    // A new sign-in asked for: only a page session begun after this interaction sent the browser to
    // /login answers it. The cookie names the interaction and the session there was then (if any).
    const marked = `${details.uid}:${principal?.sessionId ?? ""}`;
    const stale = cookiesOf(request)[STALE_SESSION_COOKIE];
    const staleSession = stale?.startsWith(`${details.uid}:`) ? stale.slice(details.uid.length + 1) : undefined;
    const usable = fresh ? staleSession !== undefined && principal?.sessionId !== staleSession : true;
    const session =
      usable && principal?.sessionId !== undefined
        ? await deps.store.sessionAuthentication(principal.sessionId, deps.clock.now())
        : undefined;
    if (session) {
      if (stale !== undefined) clearPageCookie(reply, STALE_SESSION_COOKIE);
      return finish(request, reply, details, {
        login: {
          accountId: String(session.userId),
          ts: Math.floor(session.createdAt / 1000),
          amr: amrOf(session.methods),
          acr: acrOf(session.methods),
          remember: false,
        },
      });
    }
    if (fresh) setPageCookie(reply, STALE_SESSION_COOKIE, marked, 600);
    const back = encodeURIComponent(interactionPath(details.uid));
    return reply.redirect(`/login?return_to=${back}${fresh ? "&reauth=1" : ""}`, 303);
  }

  return async (app) => {
    app.get(`${INTERACTION_PREFIX}/:uid`, async (request, reply) => {
      const details = await interactionOf(request, reply);
      if (!details) return expired(request, reply);
      if (details.prompt.name === "login") return signIn(request, reply, details);
      if (details.prompt.name !== "consent") return expired(request, reply);
      const client = await oidc.provider.Client.find(String(details.params.client_id));
      const accountId = details.session?.accountId;
      if (!client || accountId === undefined) return expired(request, reply);
      if (client.metadata()[FIRST_PARTY_METADATA] === true) {
        return finish(request, reply, details, { consent: { grantId: await grantAll(details, accountId) } });
      }
      const user = await deps.store.findUserById(Number(accountId));
      const { lang } = pageContext(env, request, reply);
      const asked = new Set(String(details.params.scope ?? "").split(" "));
      return renderPage(
        env,
        request,
        reply,
        "oidc-consent",
        { title: "oidc.consent-title" },
        {
          client: client.clientName ?? client.clientId,
          email: user?.email ?? "",
          scopes: DESCRIBED_SCOPES.filter((scope) => asked.has(scope)).map((scope) =>
            env.views.text(lang, `oidc.scope-${scope}`),
          ),
          action: `${interactionPath(details.uid)}/consent`,
        },
      );
    });

    app.post(`${INTERACTION_PREFIX}/:uid/consent`, async (request, reply) => {
      const form = formFields(request.body, { decision: 10 });
      const details = await interactionOf(request, reply);
      const accountId = details?.session?.accountId;
      if (details?.prompt.name !== "consent" || accountId === undefined) return expired(request, reply);
      if (form.decision !== "allow") {
        return finish(request, reply, details, {
          error: "access_denied",
          error_description: "the person declined to allow access",
        });
      }
      return finish(request, reply, details, { consent: { grantId: await grantAll(details, accountId) } });
    });
  };

  /** A grant of everything the interaction asks that is missing: the scopes and claims of the request. */
  async function grantAll(details: Interaction, accountId: string): Promise<string> {
    const { Grant } = oidc.provider;
    const clientId = String(details.params.client_id);
    const grant =
      (details.grantId ? await Grant.find(details.grantId) : undefined) ?? new Grant({ accountId, clientId });
    const missing = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(" "));
    }
    return grant.save();
  }
}
