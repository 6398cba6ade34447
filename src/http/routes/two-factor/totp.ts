import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { SessionTokens } from "../../../core/flows/sessions.js";
import {
  authenticateTotp,
  disableTotp,
  enableTotp,
  setupTotp,
  totpNextGuess,
} from "../../../core/flows/two-factor/totp.js";
import type { Deps } from "../../../deps.js";
import { authenticate } from "../../plugins/tokens.js";
import { requestMeta } from "../../request-meta.js";
import { errors, NoContent } from "../../schemas/common.js";
import {
  DurationResponse,
  EmptyBody,
  RecoveryCodesResponse,
  SECURITY,
  SessionTokensResponse,
  TotpBody,
  TotpSetupResponse,
} from "../../schemas/two-factor.js";

const tags = ["User"];

/** The JSON answer of every authenticate endpoint (§2). */
export function tokensBody(tokens: SessionTokens) {
  return { accessToken: tokens.access.token, refreshToken: tokens.refresh.token, sudoToken: tokens.sudo.token };
}

/** `/user/2fa/totp/*`: routes pick the token and hand over to the flows. */
export function totpRoutes(deps: Deps): FastifyPluginAsyncTypebox {
  const { flow, guard } = deps;
  return async (app) => {
    app.post(
      "/user/2fa/totp/setup",
      {
        schema: {
          summary: "Set or reset TOTP",
          tags,
          security: SECURITY.sudoOrAccessIf2faOff,
          body: EmptyBody,
          response: { 200: TotpSetupResponse, ...errors(400, 401, 403) },
        },
      },
      async (request) => setupTotp(flow, await authenticate(guard, request, "sudoOrAccessIf2faOff")),
    );

    app.post(
      "/user/2fa/totp/enable",
      {
        schema: {
          summary: "Activate TOTP",
          tags,
          security: SECURITY.access,
          body: TotpBody,
          response: { 200: RecoveryCodesResponse, ...errors(400, 401, 409, 429, 500) },
        },
      },
      async (request) => {
        const principal = await authenticate(guard, request, "access");
        return { recoveryCodes: await enableTotp(flow, principal, request.body.totp) };
      },
    );

    app.post(
      "/user/2fa/totp/authenticate",
      {
        schema: {
          summary: "Verify TOTP code",
          tags,
          security: SECURITY.accessOrPartial,
          body: TotpBody,
          response: { 200: SessionTokensResponse, ...errors(400, 401, 409, 429, 500) },
        },
      },
      async (request) => {
        const principal = await authenticate(guard, request, "accessOrPartial");
        return tokensBody(await authenticateTotp(flow, principal, request.body.totp, requestMeta(request)));
      },
    );

    app.get(
      "/user/2fa/totp/next-guess",
      {
        schema: {
          summary: "Time until the next TOTP guess",
          tags,
          security: SECURITY.accessOrPartial,
          response: { 200: DurationResponse, ...errors(401, 409) },
        },
      },
      async (request) => {
        const principal = await authenticate(guard, request, "accessOrPartial");
        return { duration: await totpNextGuess(flow, principal) };
      },
    );

    app.delete(
      "/user/2fa/totp",
      {
        schema: {
          summary: "Deactivate TOTP",
          tags,
          security: SECURITY.sudo,
          response: { 204: NoContent, ...errors(401, 403, 409) },
        },
      },
      async (request, reply) => {
        await disableTotp(flow, await authenticate(guard, request, "sudo"));
        return reply.code(204).send(null);
      },
    );
  };
}
