import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { AppError } from "../../core/errors.js";
import { confirmSignup, signupOpen, startSignup } from "../../core/flows/signup.js";
import type { Deps } from "../../deps.js";
import { requestMeta } from "../request-meta.js";
import { errors, NoContent } from "../schemas/common.js";
import { EmailAddress, MailQuery, Otp } from "../schemas/mail.js";
import { SessionTokensResponse } from "../schemas/two-factor.js";
import { tokensBody } from "./two-factor/totp.js";

/** The password rules answer with a sentence naming the rule broken, so the schema only bounds the size. */
const SignupBody = Type.Object(
  {
    email: EmailAddress,
    password: Type.String({
      maxLength: 1024,
      description:
        "8–256 characters with a lower-case letter, an upper-case letter and a digit; not a common password.",
    }),
  },
  { additionalProperties: false },
);
const ConfirmBody = Type.Object({ email: EmailAddress, code: Otp }, { additionalProperties: false });

const tags = ["User"];
const OFF = "Answers 404 ROUTE_NOT_FOUND, before looking at the request, while sign-up is off (LATCHKEY_SIGNUP).";

/** `/user/signup*` (ours): routes hand over to the flows. */
export function signupRoutes(deps: Deps): FastifyPluginAsyncTypebox {
  const { flow } = deps;
  // Off: the endpoints do not exist for callers, whatever they send.
  const whenOn = async () => {
    if (!signupOpen(flow.settings.signup)) throw new AppError("ROUTE_NOT_FOUND");
  };
  return async (app) => {
    app.post(
      "/user/signup",
      {
        onRequest: whenOn,
        schema: {
          summary: "Sign up: mail a code to confirm the address",
          description: `Answers 204 alike for an address an account has (that address gets a notice, not a code). ${OFF}`,
          tags,
          querystring: MailQuery,
          body: SignupBody,
          response: { 204: NoContent, ...errors(400, 403, 404, 429, 500) },
        },
      },
      async (request, reply) => {
        await startSignup(flow, request.body, request.query);
        return reply.code(204).send(null);
      },
    );

    app.post(
      "/user/signup/confirm",
      {
        onRequest: whenOn,
        schema: {
          summary: "Confirm a sign-up with the mailed code: the account is made and signed in",
          description: OFF,
          tags,
          body: ConfirmBody,
          response: { 200: SessionTokensResponse, ...errors(400, 401, 404, 409, 429) },
        },
      },
      async (request) => tokensBody(await confirmSignup(flow, request.body, requestMeta(request))),
    );
  };
}
