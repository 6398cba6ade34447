import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { twoFactorState } from "../../../core/flows/two-factor/state.js";
import type { Deps } from "../../../deps.js";
import { authenticate } from "../../plugins/tokens.js";
import { errors } from "../../schemas/common.js";
import { SECURITY, TwoFactorStateResponse } from "../../schemas/two-factor.js";

/** `GET /user/2fa`. */
export function twoFactorStateRoutes(deps: Deps): FastifyPluginAsyncTypebox {
  const { flow, guard } = deps;
  return async (app) => {
    app.get(
      "/user/2fa",
      {
        schema: {
          summary: "Get active 2FA methods",
          tags: ["User"],
          security: SECURITY.accessOrPartial,
          response: { 200: TwoFactorStateResponse, ...errors(401) },
        },
      },
      async (request) => {
        const principal = await authenticate(guard, request, "accessOrPartial");
        return twoFactorState(flow, principal.userId);
      },
    );
  };
}
