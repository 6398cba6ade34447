import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import {
  authenticateRecoveryCode,
  recoveryCodeNextGuess,
  resetRecoveryCodes,
} from "../../../core/flows/two-factor/recovery-codes.js";
import type { Deps } from "../../../deps.js";
import { authenticate } from "../../plugins/tokens.js";
import { requestMeta } from "../../request-meta.js";
import { errors } from "../../schemas/common.js";
import {
  DurationResponse,
  EmptyBody,
  RecoveryCodeBody,
  RecoveryCodesResponse,
  SECURITY,
  SessionTokensResponse,
} from "../../schemas/two-factor.js";
import { tokensBody } from "./totp.js";

const tags = ["User"];

/** `/user/2fa/recovery-code/*`. */
export function recoveryCodeRoutes(deps: Deps): FastifyPluginAsyncTypebox {
  const { flow, guard } = deps;
  return async (app) => {
    app.post(
      "/user/2fa/recovery-code/authenticate",
      {
        schema: {
          summary: "Verify a recovery code",
          tags,
          security: SECURITY.accessOrPartial,
          body: RecoveryCodeBody,
          response: { 200: SessionTokensResponse, ...errors(400, 401, 409, 429) },
        },
      },
      async (request) => {
        const principal = await authenticate(guard, request, "accessOrPartial");
        const meta = requestMeta(request);
        return tokensBody(await authenticateRecoveryCode(flow, principal, request.body.recoveryCode, meta));
      },
    );

    app.get(
      "/user/2fa/recovery-code/next-guess",
      {
        schema: {
          summary: "Time until the next recovery code guess",
          tags,
          security: SECURITY.accessOrPartial,
          response: { 200: DurationResponse, ...errors(401, 409) },
        },
      },
      async (request) => {
        const principal = await authenticate(guard, request, "accessOrPartial");
        return { duration: await recoveryCodeNextGuess(flow, principal) };
      },
    );

    app.post(
      "/user/2fa/recovery-code/reset",
      {
        schema: {
          summary: "Reset the recovery codes of a user",
          tags,
          security: SECURITY.sudo,
          body: EmptyBody,
          response: { 200: RecoveryCodesResponse, ...errors(400, 401, 403, 409) },
        },
      },
      async (request) => {
        const principal = await authenticate(guard, request, "sudo");
        return { recoveryCodes: await resetRecoveryCodes(flow, principal) };
      },
    );
  };
}
