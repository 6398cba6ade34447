import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { completeEmailTransfer, initiateEmailTransfer } from "../../core/flows/email.js";
import type { Deps } from "../../deps.js";
import { authenticate } from "../plugins/tokens.js";
import { errors, NoContent } from "../schemas/common.js";
import { EmailBody, MailQuery, OtpBody } from "../schemas/mail.js";
import { SECURITY } from "../schemas/two-factor.js";

const tags = ["User"];

/** `/user/email*`: routes pick the token and hand over to the flows. */
export function emailRoutes(deps: Deps): FastifyPluginAsyncTypebox {
  const { flow, guard } = deps;
  return async (app) => {
    app.post(
      "/user/email/initiate",
      {
        schema: {
          summary: "Initiate an email address transfer",
          tags,
          security: SECURITY.sudoOrAccessIf2faOff,
          querystring: MailQuery,
          body: EmailBody,
          response: { 204: NoContent, ...errors(400, 401, 403, 409, 429, 500) },
        },
      },
      async (request, reply) => {
        const principal = await authenticate(guard, request, "sudoOrAccessIf2faOff");
        await initiateEmailTransfer(flow, principal, request.body.email, request.query);
        return reply.code(204).send(null);
      },
    );

    app.put(
      "/user/email",
      {
        schema: {
          summary: "Complete an email address transfer",
          tags,
          security: SECURITY.access,
          body: OtpBody,
          response: { 204: NoContent, ...errors(400, 401, 409, 429) },
        },
      },
      async (request, reply) => {
        await completeEmailTransfer(flow, await authenticate(guard, request, "access"), request.body.otp);
        return reply.code(204).send(null);
      },
    );
  };
}
