import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import {
  authenticatePasskey,
  deletePasskey,
  listPasskeys,
  passkeyRegistrationOptions,
  passkeySecondFactorOptions,
  passkeySignInOptions,
  registerPasskey,
  renamePasskey,
  signInWithPasskey,
} from "../../../core/flows/two-factor/passkeys.js";
import type { Deps } from "../../../deps.js";
import { authenticate, setTokenCookie } from "../../plugins/tokens.js";
import { requestMeta } from "../../request-meta.js";
import { CookieQuery, errors, NoContent } from "../../schemas/common.js";
import { MailQuery } from "../../schemas/mail.js";
import {
  CreationOptions,
  Passkey,
  PasskeyAuthenticateBody,
  PasskeyEnableBody,
  PasskeyEnableResponse,
  PasskeyList,
  PasskeyParams,
  PasskeyRenameBody,
  RequestOptions,
} from "../../schemas/passkeys.js";
import { EmptyBody, SECURITY, SessionTokensResponse } from "../../schemas/two-factor.js";
import { tokensBody } from "./totp.js";

const tags = ["User"];

/**
 * Passkeys: registration, the list, a passkey as second factor, and the sign-in without a password.
 * Registered only while a relying party is configured (or derived from the issuer).
 */
export function passkeyRoutes(deps: Deps): FastifyPluginAsyncTypebox {
  const { flow, guard, clock } = deps;
  return async (app) => {
    app.post(
      "/user/2fa/passkey/setup",
      {
        schema: {
          summary: "Start registering a passkey",
          tags,
          security: SECURITY.sudoOrAccessIf2faOff,
          body: EmptyBody,
          response: { 200: CreationOptions, ...errors(400, 401, 403, 409) },
        },
      },
      async (request) => passkeyRegistrationOptions(flow, await authenticate(guard, request, "sudoOrAccessIf2faOff")),
    );

    app.post(
      "/user/2fa/passkey/enable",
      {
        schema: {
          summary: "Register a passkey",
          tags,
          security: SECURITY.sudoOrAccessIf2faOff,
          querystring: MailQuery,
          body: PasskeyEnableBody,
          response: { 200: PasskeyEnableResponse, ...errors(400, 401, 403, 409, 500) },
        },
      },
      async (request) => {
        const principal = await authenticate(guard, request, "sudoOrAccessIf2faOff");
        return registerPasskey(flow, principal, request.body, request.query);
      },
    );

    app.get(
      "/user/2fa/passkeys",
      {
        schema: {
          summary: "List the user's passkeys",
          tags,
          security: SECURITY.access,
          response: { 200: PasskeyList, ...errors(401) },
        },
      },
      async (request) => {
        const principal = await authenticate(guard, request, "access");
        return { passkeys: await listPasskeys(flow, principal.userId) };
      },
    );

    app.patch(
      "/user/2fa/passkeys/:passkeyId",
      {
        schema: {
          summary: "Rename a passkey",
          tags,
          security: SECURITY.access,
          params: PasskeyParams,
          body: PasskeyRenameBody,
          response: { 200: Passkey, ...errors(400, 401, 404) },
        },
      },
      async (request) => {
        const principal = await authenticate(guard, request, "access");
        return renamePasskey(flow, principal, request.params.passkeyId, request.body.name);
      },
    );

    app.delete(
      "/user/2fa/passkeys/:passkeyId",
      {
        schema: {
          summary: "Remove a passkey",
          tags,
          security: SECURITY.sudo,
          params: PasskeyParams,
          querystring: MailQuery,
          response: { 204: NoContent, ...errors(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        const principal = await authenticate(guard, request, "sudo");
        await deletePasskey(flow, principal, request.params.passkeyId, request.query);
        return reply.code(204).send(null);
      },
    );

    app.post(
      "/user/2fa/passkey/challenge",
      {
        schema: {
          summary: "Start a passkey check (second factor or step-up)",
          tags,
          security: SECURITY.accessOrPartial,
          body: EmptyBody,
          response: { 200: RequestOptions, ...errors(400, 401, 409) },
        },
      },
      async (request) => passkeySecondFactorOptions(flow, await authenticate(guard, request, "accessOrPartial")),
    );

    app.post(
      "/user/2fa/passkey/authenticate",
      {
        schema: {
          summary: "Verify a passkey",
          tags,
          security: SECURITY.accessOrPartial,
          body: PasskeyAuthenticateBody,
          response: { 200: SessionTokensResponse, ...errors(400, 401) },
        },
      },
      async (request) => {
        const principal = await authenticate(guard, request, "accessOrPartial");
        return tokensBody(await authenticatePasskey(flow, principal, request.body.credential, requestMeta(request)));
      },
    );

    app.post(
      "/auth/passkey/challenge",
      {
        schema: {
          summary: "Start a sign-in with a passkey",
          tags: ["Authentication"],
          body: EmptyBody,
          response: { 200: RequestOptions, ...errors(400, 429) },
        },
      },
      async () => passkeySignInOptions(flow),
    );

    app.post(
      "/auth/passkey/login",
      {
        schema: {
          summary: "Sign in with a passkey",
          tags: ["Authentication"],
          querystring: CookieQuery,
          body: PasskeyAuthenticateBody,
          response: { 200: SessionTokensResponse, ...errors(400, 401, 429) },
        },
      },
      async (request, reply) => {
        const tokens = await signInWithPasskey(flow, request.body.credential, requestMeta(request));
        if (request.query.cookie) {
          setTokenCookie(reply, "refreshToken", tokens.refresh, clock.now());
          setTokenCookie(reply, "accessToken", tokens.access, clock.now());
        }
        return tokensBody(tokens);
      },
    );
  };
}
