import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { login } from "../../core/flows/login.js";
import { accessTokenFor, logout, rotateRefreshToken, validateRefreshToken } from "../../core/flows/sessions.js";
import type { Deps } from "../../deps.js";
import { authenticate, clearTokenCookies, setTokenCookie } from "../plugins/tokens.js";
import { requestMeta } from "../request-meta.js";
import { CookieQuery, errors, NoContent, TokenText, UserIdResponse } from "../schemas/common.js";

const LoginBody = Type.Object(
  {
    username: Type.String({ maxLength: 256, description: "The account's email address." }),
    password: Type.String({ maxLength: 256 }),
  },
  { additionalProperties: false },
);

const TEXT = "text/plain; charset=utf-8";
const tags = ["Authentication"];

/** The Authentication table of §3. Routes pick the token and hand over to the flows. */
export function authRoutes(deps: Deps): FastifyPluginAsyncTypebox {
  const { flow, guard, clock } = deps;
  return async (app) => {
    app.post(
      "/auth/login",
      {
        schema: {
          summary: "Get a new refresh token by providing user credentials",
          tags,
          body: LoginBody,
          querystring: CookieQuery,
          response: { 200: TokenText, ...errors(400, 401, 429, 500) },
        },
      },
      async (request, reply) => {
        const result = await login(flow, request.body, requestMeta(request));
        if (request.query.cookie) {
          setTokenCookie(reply, result.kind === "refresh" ? "refreshToken" : "partialToken", result.token, clock.now());
        }
        return reply.type(TEXT).send(result.token.token);
      },
    );

    app.get(
      "/auth/accesstoken",
      {
        schema: {
          summary: "Get a new access token",
          tags,
          querystring: CookieQuery,
          security: [{ refreshToken: [] }],
          response: { 200: TokenText, ...errors(400, 401) },
        },
      },
      async (request, reply) => {
        const principal = await authenticate(guard, request, "refresh");
        const token = await accessTokenFor(flow, principal);
        if (request.query.cookie) setTokenCookie(reply, "accessToken", token, clock.now());
        return reply.type(TEXT).send(token.token);
      },
    );

    app.get(
      "/auth/refreshtoken",
      {
        schema: {
          summary: "Get a new refresh token by providing a refresh token",
          tags,
          querystring: CookieQuery,
          security: [{ refreshToken: [] }],
          response: { 200: TokenText, ...errors(400, 401) },
        },
      },
      async (request, reply) => {
        const principal = await authenticate(guard, request, "refresh");
        const token = await rotateRefreshToken(flow, principal);
        if (request.query.cookie) setTokenCookie(reply, "refreshToken", token, clock.now());
        return reply.type(TEXT).send(token.token);
      },
    );

    app.post(
      "/auth/logout",
      {
        schema: {
          summary: "Invalidate a refresh token",
          tags,
          security: [{ refreshToken: [] }],
          response: { 204: NoContent, ...errors(400, 401) },
        },
      },
      async (request, reply) => {
        const principal = await authenticate(guard, request, "refresh");
        await logout(flow, principal);
        clearTokenCookies(reply);
        return reply.code(204).send(null);
      },
    );

    app.get(
      "/auth/accesstoken/validate",
      {
        schema: {
          summary: "Validate an access token",
          tags,
          security: [{ accessToken: [] }],
          response: { 200: UserIdResponse, ...errors(401) },
        },
      },
      async (request) => {
        const principal = await authenticate(guard, request, "access");
        return { userId: principal.userId };
      },
    );

    app.get(
      "/auth/refreshtoken/validate",
      {
        schema: {
          summary: "Validate a refresh token",
          tags,
          security: [{ refreshToken: [] }],
          response: { 200: UserIdResponse, ...errors(401) },
        },
      },
      async (request) => {
        const principal = await authenticate(guard, request, "refresh");
        return { userId: await validateRefreshToken(flow, principal) };
      },
    );
  };
}
