import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import {
  authenticateEmailOtp,
  challengeEmailOtp,
  deactivateEmailOtp,
  emailOtpNextEmail,
  enableEmailOtp,
  setupEmailOtp,
} from "../../../core/flows/two-factor/email-otp.js";
import type { Deps } from "../../../deps.js";
import { authenticate } from "../../plugins/tokens.js";
import { requestMeta } from "../../request-meta.js";
import { errors, NoContent } from "../../schemas/common.js";
import { EmailBody, MailQuery, OtpBody, throwValidationError } from "../../schemas/mail.js";
import {
  DurationResponse,
  EmptyBody,
  RecoveryCodesResponse,
  SECURITY,
  SessionTokensResponse,
} from "../../schemas/two-factor.js";
import { tokensBody } from "./totp.js";

const tags = ["User"];

/** `/user/2fa/email-otp/*`: routes pick the token and hand over to the flows. */
export function emailOtpRoutes(deps: Deps): FastifyPluginAsyncTypebox {
  const { flow, guard } = deps;
  return async (app) => {
    app.post(
      "/user/2fa/email-otp/setup",
      {
        attachValidation: true,
        schema: {
          summary: "Set or reset email OTP",
          tags,
          security: SECURITY.sudoOrAccessIf2faOff,
          querystring: MailQuery,
          body: EmailBody,
          response: { 204: NoContent, ...errors(400, 401, 403, 429, 500) },
        },
      },
      async (request, reply) => {
        throwValidationError(request);
        const principal = await authenticate(guard, request, "sudoOrAccessIf2faOff");
        await setupEmailOtp(flow, principal, request.body.email, request.query);
        return reply.code(204).send(null);
      },
    );

    app.post(
      "/user/2fa/email-otp/enable",
      {
        schema: {
          summary: "Activate email OTP",
          tags,
          security: SECURITY.access,
          body: OtpBody,
          response: { 200: RecoveryCodesResponse, ...errors(400, 401, 409, 429) },
        },
      },
      async (request) => {
        const principal = await authenticate(guard, request, "access");
        return { recoveryCodes: await enableEmailOtp(flow, principal, request.body.otp) };
      },
    );

    app.post(
      "/user/2fa/email-otp/challenge",
      {
        schema: {
          summary: "Initiate email OTP challenge",
          tags,
          security: SECURITY.accessOrPartial,
          querystring: MailQuery,
          body: EmptyBody,
          response: { 204: NoContent, ...errors(400, 401, 409, 429, 500) },
        },
      },
      async (request, reply) => {
        const principal = await authenticate(guard, request, "accessOrPartial");
        await challengeEmailOtp(flow, principal, request.query);
        return reply.code(204).send(null);
      },
    );

    app.post(
      "/user/2fa/email-otp/authenticate",
      {
        schema: {
          summary: "Complete email OTP challenge",
          tags,
          security: SECURITY.accessOrPartial,
          body: OtpBody,
          response: { 200: SessionTokensResponse, ...errors(400, 401, 409, 429) },
        },
      },
      async (request) => {
        const principal = await authenticate(guard, request, "accessOrPartial");
        return tokensBody(await authenticateEmailOtp(flow, principal, request.body.otp, requestMeta(request)));
      },
    );

    app.get(
      "/user/2fa/email-otp/next-email",
      {
        schema: {
          summary: "Time until the next email OTP may be generated",
          tags,
          security: SECURITY.accessOrPartial,
          response: { 200: DurationResponse, ...errors(401, 409) },
        },
      },
      async (request) => {
        const principal = await authenticate(guard, request, "accessOrPartial");
        return { duration: await emailOtpNextEmail(flow, principal) };
      },
    );

    app.delete(
      "/user/2fa/email-otp",
      {
        schema: {
          summary: "Deactivate email OTP",
          tags,
          security: SECURITY.sudo,
          response: { 204: NoContent, ...errors(401, 403, 409) },
        },
      },
      async (request, reply) => {
        await deactivateEmailOtp(flow, await authenticate(guard, request, "sudo"));
        return reply.code(204).send(null);
      },
    );
  };
}
