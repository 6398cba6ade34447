import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import {
  changePassword,
  resetPasswordWithCode,
  sendPasswordReset,
  validatePasswordReset,
} from "../../core/flows/password.js";
import type { Deps } from "../../deps.js";
import { authenticate } from "../plugins/tokens.js";
import { requestMeta } from "../request-meta.js";
import { errors, NoContent } from "../schemas/common.js";
import { EmailAddress, EmailBody, MailQuery, Otp } from "../schemas/mail.js";
import { SECURITY } from "../schemas/two-factor.js";

/** The password rules (§1) answer with a sentence naming the rule broken, so the schema only bounds the size. */
export const NewPassword = Type.String({
  maxLength: 1024,
  description: "8–256 characters with a lower-case letter, an upper-case letter and a digit; not a common password.",
});

const ValidateBody = Type.Object({ email: EmailAddress, otp: Otp }, { additionalProperties: false });
const ResetBody = Type.Object(
  { userEmail: EmailAddress, otp: Otp, newPassword: NewPassword },
  { additionalProperties: false },
);
const ChangeBody = Type.Object(
  { oldPassword: Type.String({ maxLength: 256 }), newPassword: NewPassword },
  { additionalProperties: false },
);

const tags = ["User"];

/** `/user/password/*`: routes pick the token and hand over to the flows. */
export function passwordRoutes(deps: Deps): FastifyPluginAsyncTypebox {
  const { flow, guard } = deps;
  return async (app) => {
    app.post(
      "/user/password/reset/send",
      {
        schema: {
          summary: "Send a password reset OTP",
          tags,
          querystring: MailQuery,
          body: EmailBody,
          response: { 204: NoContent, ...errors(400, 403, 429, 500) },
        },
      },
      async (request, reply) => {
        await sendPasswordReset(flow, request.body.email, request.query);
        return reply.code(204).send(null);
      },
    );

    app.post(
      "/user/password/reset/validate",
      {
        schema: {
          summary: "Check a password reset OTP",
          tags,
          body: ValidateBody,
          response: { 204: NoContent, ...errors(400, 401, 429) },
        },
      },
      async (request, reply) => {
        await validatePasswordReset(flow, request.body.email, request.body.otp);
        return reply.code(204).send(null);
      },
    );

    app.put(
      "/user/password/otp",
      {
        schema: {
          summary: "Update password via OTP",
          tags,
          body: ResetBody,
          response: { 204: NoContent, ...errors(400, 401, 429) },
        },
      },
      async (request, reply) => {
        await resetPasswordWithCode(flow, request.body, requestMeta(request));
        return reply.code(204).send(null);
      },
    );

    app.put(
      "/user/password/old-password",
      {
        schema: {
          summary: "Update password via sudo token",
          tags,
          security: SECURITY.sudoOrAccessIf2faOff,
          body: ChangeBody,
          response: { 204: NoContent, ...errors(400, 401, 403, 429, 500) },
        },
      },
      async (request, reply) => {
        const principal = await authenticate(guard, request, "sudoOrAccessIf2faOff");
        await changePassword(flow, principal, request.body);
        return reply.code(204).send(null);
      },
    );
  };
}
