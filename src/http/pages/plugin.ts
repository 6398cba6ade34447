/**
 * The hosted pages: server-rendered forms on the same flows as the JSON routes, in their own
 * encapsulated part of the app (form bodies, CSRF checks, strict security headers and an error
 * handler that answers with a page). Every page works without JavaScript.
 */
import csrf from "@fastify/csrf-protection";
import formbody from "@fastify/formbody";
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../../core/errors.js";
import type { Deps } from "../../deps.js";
import { loadMailCatalog } from "../../mail/catalog.js";
import { DEFAULT_MAIL_DIR, DEFAULT_ORIGIN } from "../../mail/index.js";
import { accountPages } from "./account.js";
import { invitationPages } from "./invitation.js";
import { loginPages } from "./login.js";
import {
  describeError,
  FormFieldError,
  localPath,
  type PageEnv,
  type PageOrigin,
  pageContext,
  renderPage,
} from "./page.js";
import { passkeyPages } from "./passkeys.js";
import { passwordPages } from "./password.js";
import { cookiesOf, PAGE_COOKIE_ATTRIBUTES, PAGE_COOKIES, ReauthNeeded, SignInNeeded, signedIn } from "./session.js";
import { sessionPages } from "./sessions.js";
import { signupPages } from "./signup.js";
import { twoFactorPages } from "./two-factor.js";
import { loadPageViews } from "./view.js";

/** The page routes anyone can call without a session: the per-address limit stands in front of them. */
export const UNAUTHENTICATED_PAGE_ROUTES = [
  "POST /login",
  "POST /login/second-factor",
  "POST /login/second-factor/send",
  "POST /login/second-factor/passkey/options",
  "POST /login/passkey/options",
  "POST /login/passkey",
  "POST /password/forgot",
  "POST /password/reset",
  "POST /invitation",
  "POST /signup",
  "POST /signup/confirm",
] as const;

const ASSET_TYPES: Record<string, string> = {
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  svg: "image/svg+xml",
};

/** Loads the pages' views and the origins' looks once, at startup; throws naming a bad file. */
export function createPageEnv(deps: Deps): PageEnv {
  const catalog = loadMailCatalog(deps.config.mail.dir ?? DEFAULT_MAIL_DIR);
  const origins = new Map<string, PageOrigin>();
  for (const [name, loaded] of catalog.origins) {
    origins.set(name, { name, brand: loaded.config.brand, defaultLanguage: loaded.config.defaultLanguage });
  }
  const fallback = origins.get(DEFAULT_ORIGIN) ?? origins.values().next().value;
  if (fallback === undefined) throw new Error("The mail directory has no origin for the hosted pages");
  return {
    views: loadPageViews(),
    origins: { get: (name) => origins.get(name), fallback },
    returnUrls: new Set(deps.config.pages.returnUrls),
    passkeyOrigins: deps.flow.settings.passkeys?.origins.join(" ") ?? "",
  };
}

/** The policy of every page: no inline script or style, no framing, forms only to here (and the return URLs). */
export function contentSecurityPolicy(env: PageEnv, deps: Deps): string {
  const logos = new Set<string>();
  for (const name of loadMailCatalog(deps.config.mail.dir ?? DEFAULT_MAIL_DIR).origins.keys()) {
    const logo = env.origins.get(name)?.brand.logoUrl;
    if (logo) logos.add(new URL(logo).origin);
  }
  // A redirect after a form is checked against form-action, so the return URLs' origins are listed.
  const returns = new Set([...env.returnUrls].map((url) => new URL(url).origin));
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: ${[...logos].join(" ")}`.trim(),
    "connect-src 'self'",
    `form-action 'self' ${[...returns].join(" ")}`.trim(),
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
}

/** The headers of every page (the assets then allow caching for themselves). */
export function pageSecurityHeaders(policy: string): Record<string, string> {
  return {
    "content-security-policy": policy,
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
  };
}

function securityHeaders(reply: FastifyReply, policy: string): void {
  reply.headers(pageSecurityHeaders(policy));
}

/** A refusal or fault as a page in the reader's language: never a stack trace, never JSON. */
function pageErrorHandler(env: PageEnv, deps: Deps) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof SignInNeeded) {
      if (request.method === "GET") return reply.redirect("/login", 303);
      return errorPage(env, request, reply, 401, "errors.session-expired", { link: "/login" });
    }
    if (error instanceof ReauthNeeded) {
      const referer = request.headers.referer ? new URL(request.headers.referer, "http://x.invalid") : undefined;
      const back = request.method === "GET" ? request.url : `${referer?.pathname ?? ""}${referer?.search ?? ""}`;
      return reply.redirect(`/reauth?next=${encodeURIComponent(localPath(back, "/account"))}`, 303);
    }
    if (error instanceof FormFieldError) return errorPage(env, request, reply, 400, "errors.form-invalid");
    if (error.code === "FST_CSRF_MISSING_SECRET" || error.code === "FST_CSRF_INVALID_TOKEN") {
      return errorPage(env, request, reply, 403, "errors.csrf");
    }
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE")
      return errorPage(env, request, reply, 413, "errors.form-too-large");
    if (error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE")
      return errorPage(env, request, reply, 415, "errors.form-invalid");
    if (error instanceof AppError) {
      if (error.status === 429 && error.code !== "TOO_MANY_REQUESTS") {
        deps.metrics.throttleRefusals.inc({ kind: error.code });
      }
      if (error.retryAfterSeconds !== undefined) reply.header("retry-after", String(error.retryAfterSeconds));
      if (error.status >= 500) request.log.error({ err: error.cause ?? error, code: error.code }, "page failed");
      const { lang } = pageContext(env, request, reply);
      return errorPage(env, request, reply, error.status, undefined, { message: describeError(env, lang, error) });
    }
    if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) {
      request.log.info({ code: error.code }, "page request refused");
      return errorPage(env, request, reply, 400, "errors.form-invalid");
    }
    request.log.error({ err: error }, "unexpected fault on a page");
    return errorPage(env, request, reply, 500, "errors.INTERNAL_SERVER_ERROR");
  };
}

/** The error page: a heading by status, the message, and a way on. */
export function errorPage(
  env: PageEnv,
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  messageKey: string | undefined,
  data: { message?: string; link?: string } = {},
): FastifyReply {
  const { lang } = pageContext(env, request, reply);
  const message = data.message ?? (messageKey ? env.views.text(lang, messageKey) : "");
  const title = status === 404 ? "common.not-found-title" : status >= 500 ? "common.fault-title" : "common.error-title";
  return renderPage(
    env,
    request,
    reply,
    "error",
    { title, status, csrf: false },
    {
      message,
      link: data.link ?? "/login",
    },
  );
}

/** Registers the pages. Returns the 404 page for the app's not-found handler (for browsers). */
export async function registerPages(
  app: FastifyInstance,
  deps: Deps,
  /** More pages in the same scope (the OpenID provider's interactions), given the views and the policy. */
  more?: (scope: FastifyInstance, env: PageEnv, policy: string) => Promise<void>,
): Promise<(request: FastifyRequest, reply: FastifyReply) => FastifyReply> {
  const env = createPageEnv(deps);
  const policy = contentSecurityPolicy(env, deps);
  // The CSRF secret lives in its own cookie; each form carries a token made from it.
  await app.register(csrf, {
    cookieKey: PAGE_COOKIES.csrf,
    cookieOpts: { ...PAGE_COOKIE_ATTRIBUTES },
    getToken: (request) => (request.body as Record<string, unknown> | undefined)?._csrf as string | undefined,
  });
  const pages: FastifyPluginAsync = async (scope) => {
    // Pages are for browsers, not part of the API: the OpenAPI document (and the client's types
    // made from it) leaves them out.
    scope.addHook("onRoute", (route) => {
      route.schema = { ...route.schema, hide: true };
    });
    await scope.register(formbody, { bodyLimit: 16 * 1024 });
    // The app parses cookies only on demand; the CSRF check reads them from request.cookies.
    scope.addHook("onRequest", async (request, reply) => {
      request.cookies = cookiesOf(request) as Record<string, string>;
      securityHeaders(reply, policy);
    });
    // Every form is checked: a POST without the token of this browser's secret is refused.
    scope.addHook("preHandler", (request, reply, done) => {
      if (request.method !== "POST") return done();
      scope.csrfProtection(request, reply, done);
    });
    scope.setErrorHandler(pageErrorHandler(env, deps));

    scope.get("/pages/assets/:name", async (request, reply) => {
      const { name } = request.params as { name: string };
      const asset = env.views.assets.get(name);
      if (asset === undefined) return errorPage(env, request, reply, 404, "common.not-found");
      const type = ASSET_TYPES[name.split(".").pop() ?? ""] ?? "application/octet-stream";
      return reply.header("cache-control", "public, max-age=3600").type(type).send(asset);
    });
    // Each origin's colours, as custom properties the stylesheet uses.
    scope.get("/pages/brand/:file", async (request, reply) => {
      const { file } = request.params as { file: string };
      const origin = file.endsWith(".css") ? env.origins.get(file.slice(0, -4)) : undefined;
      if (origin === undefined) return errorPage(env, request, reply, 404, "common.not-found");
      const css = `:root{--accent:${origin.brand.accentColor};--background:${origin.brand.backgroundColor}}\n`;
      return reply.header("cache-control", "public, max-age=3600").type("text/css; charset=utf-8").send(css);
    });
    scope.get("/", async (request, reply) =>
      reply.redirect((await signedIn(deps, request, reply)) ? "/account" : "/login", 303),
    );

    await scope.register(loginPages(deps, env));
    await scope.register(passwordPages(deps, env));
    await scope.register(accountPages(deps, env));
    await scope.register(twoFactorPages(deps, env));
    await scope.register(passkeyPages(deps, env));
    await scope.register(sessionPages(deps, env));
    await scope.register(invitationPages(deps, env));
    await scope.register(signupPages(deps, env));
    await more?.(scope, env, policy);
  };
  await app.register(pages);
  return (request, reply) => {
    securityHeaders(reply, policy);
    return errorPage(env, request, reply, 404, "common.not-found", { link: "/" });
  };
}
