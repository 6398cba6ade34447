import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { acceptInvitation } from "../../core/flows/invitations.js";
import type { Deps } from "../../deps.js";
import { requestMeta } from "../request-meta.js";
import { errors } from "../schemas/common.js";
import { EmailAddress, Otp } from "../schemas/mail.js";
import { SessionTokensResponse } from "../schemas/two-factor.js";
import { NewPassword } from "./password.js";
import { tokensBody } from "./two-factor/totp.js";

const AcceptBody = Type.Object(
  {
    email: EmailAddress,
    code: Otp,
    password: NewPassword,
  },
  { additionalProperties: false },
);

const tags = ["User"];

/** `POST /user/invitation/accept` (ours): the invited person chooses a password and is signed in. */
export function invitationRoutes(deps: Deps): FastifyPluginAsyncTypebox {
  const { flow } = deps;
  return async (app) => {
    app.post(
      "/user/invitation/accept",
      {
        schema: {
          summary: "Accept an invitation: choose the first password and sign in",
          tags,
          body: AcceptBody,
          response: { 200: SessionTokensResponse, ...errors(400, 401, 429) },
        },
      },
      async (request) => tokensBody(await acceptInvitation(flow, request.body, requestMeta(request))),
    );
  };
}
