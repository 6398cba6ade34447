import cookie from "@fastify/cookie";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import { AppError } from "./core/errors.js";
import type { Deps } from "./deps.js";
import { registerPages } from "./http/pages/plugin.js";
import { registerAccessLog } from "./http/plugins/access-log.js";
import { registerEdge } from "./http/plugins/edge.js";
import { answerFrameworkError, registerErrorHandling, registerNotFound } from "./http/plugins/errors.js";
import { registerRequestMetrics } from "./http/plugins/metrics.js";
import { refuseNulCharacters } from "./http/plugins/nul-guard.js";
import { registerOpenApi } from "./http/plugins/openapi.js";
import { lazyRequestLogger } from "./http/request-logger.js";
import { adminRoutes } from "./http/routes/admin.js";
import { authRoutes } from "./http/routes/auth.js";
import { emailRoutes } from "./http/routes/email.js";
import { healthRoutes } from "./http/routes/health.js";
import { invitationRoutes } from "./http/routes/invitations.js";
import { passwordRoutes } from "./http/routes/password.js";
import { sessionRoutes } from "./http/routes/sessions.js";
import { signupRoutes } from "./http/routes/signup.js";
import { emailOtpRoutes } from "./http/routes/two-factor/email-otp.js";
import { passkeyRoutes } from "./http/routes/two-factor/passkeys.js";
import { recoveryCodeRoutes } from "./http/routes/two-factor/recovery-codes.js";
import { twoFactorStateRoutes } from "./http/routes/two-factor/state.js";
import { totpRoutes } from "./http/routes/two-factor/totp.js";
import { wellKnownRoutes } from "./http/routes/well-known.js";
import { ErrorResponse } from "./http/schemas/common.js";

/** Builds the HTTP application on top of ready dependencies. Never reads process.env. */
export async function buildApp(deps: Deps): Promise<FastifyInstance> {
  const trust = deps.config.trustProxy;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    // A passkey's id (a path parameter) is up to 1023 bytes, 1364 characters of base64url.
    routerOptions: { maxParamLength: 1400 },
    // Fastify takes a bare number as "trust no hop"; a hop count trusts the peer and the entries the
    // proxies in front appended, so the address is the one the outermost proxy saw.
    trustProxy: typeof trust === "number" ? (_address: string, hop: number) => hop < trust : trust,
    genReqId: () => deps.random.uuid(),
    // Fastify's two lines a request are off; registerAccessLog writes what is asked for.
    logController: new LogController({ disableRequestLogging: true }),
    frameworkErrors: answerFrameworkError,
    childLoggerFactory: lazyRequestLogger,
    ajv: {
      // Unknown body properties are rejected (§1), not silently dropped.
      customOptions: { removeAdditional: false, coerceTypes: "array", useDefaults: true },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON only (§1): any other body type is refused with UNSUPPORTED_CONTENT_TYPE.
  app.removeContentTypeParser(["text/plain"]);
  app.addSchema(ErrorResponse);
  registerErrorHandling(app, (code) => deps.metrics.throttleRefusals.inc({ kind: code }));
  // Cookies are parsed only where a token may come from one (no Authorization header), not on
  // every request; `reply.setCookie` is unaffected.
  await app.register(cookie, { hook: false });
  await registerOpenApi(app, deps.config);
  await registerEdge(app, deps.config, deps.metrics, deps.clock);
  registerRequestMetrics(app, deps.metrics);
  registerAccessLog(app, deps.config);
  refuseNulCharacters(app);
  // Graceful stop: answers given while closing end their keep-alive connection, so the server can
  // close as soon as the in-flight requests are done.
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onSend", (_request, reply, payload, done) => {
    if (closing) reply.header("connection", "close");
    done(null, payload);
  });
  await app.register(healthRoutes(deps));
  await app.register(wellKnownRoutes(deps));
  await app.register(authRoutes(deps));
  await app.register(twoFactorStateRoutes(deps));
  await app.register(totpRoutes(deps));
  if (deps.flow.settings.passkeys) await app.register(passkeyRoutes(deps));
  await app.register(recoveryCodeRoutes(deps));
  await app.register(emailOtpRoutes(deps));
  await app.register(passwordRoutes(deps));
  await app.register(emailRoutes(deps));
  await app.register(invitationRoutes(deps));
  await app.register(sessionRoutes(deps));
  await app.register(signupRoutes(deps));
  // The admin API exists only when a token is configured (§5); otherwise /admin answers 404.
  if (deps.config.adminToken) await app.register(adminRoutes(deps, deps.config.adminToken));
  if (deps.config.pages.enabled) {
    // The OpenID provider signs people in on the hosted pages (its interactions are pages). Its
    // library is loaded only when it is on.
    const oidc = deps.config.oidc.enabled ? await import("./oidc/index.js") : undefined;
    const service = oidc ? new oidc.OidcService(deps, deps.store) : undefined;
    const notFoundPage = await registerPages(
      app,
      deps,
      oidc && service
        ? async (scope, env, policy) => {
            await scope.register(oidc.oidcPages(deps, env, service));
            service.attachPages(env, policy);
          }
        : undefined,
    );
    if (oidc && service) await oidc.registerOidcRoutes(app, service, deps.config.issuer);
    // A browser asking for a page that is not there gets the pages' 404; API clients the envelope.
    app.setNotFoundHandler((request, reply) => {
      if (request.method === "GET" && request.headers.accept?.includes("text/html"))
        return notFoundPage(request, reply);
      return reply.code(404).type("application/json; charset=utf-8").send(new AppError("ROUTE_NOT_FOUND").toBody());
    });
  } else {
    registerNotFound(app);
  }
  return app;
}
