import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { endOtherUserSessions, endUserSession, listUserSessions } from "../../core/flows/user-sessions.js";
import type { Deps } from "../../deps.js";
import { authenticate } from "../plugins/tokens.js";
import { errors, NoContent } from "../schemas/common.js";
import { EmptyBody, SECURITY } from "../schemas/two-factor.js";

const tags = ["User"];
const NullableText = Type.Union([Type.String(), Type.Null()]);

const UserSession = Type.Object(
  {
    sessionId: Type.String(),
    createdAt: Type.String({ format: "date-time" }),
    lastUsedAt: Type.String({
      format: "date-time",
      description:
        "The login, then each refresh-token rotation, and each access token issued once a minute has passed (§6).",
    }),
    ip: NullableText,
    userAgent: NullableText,
    current: Type.Boolean({ description: "The session of the token presented." }),
  },
  { additionalProperties: false },
);

/** Any text: an id that names no live session of the caller's is 404 SESSION_NOT_FOUND, whatever its shape. */
const SessionParams = Type.Object({ sessionId: Type.String() });

/** `/user/sessions*` (§6): routes pick the token and hand over to the flows. */
export function sessionRoutes(deps: Deps): FastifyPluginAsyncTypebox {
  const { flow, guard } = deps;
  return async (app) => {
    app.get(
      "/user/sessions",
      {
        schema: {
          summary: "List the caller's live sessions",
          tags,
          security: SECURITY.access,
          response: { 200: Type.Object({ sessions: Type.Array(UserSession) }), ...errors(401) },
        },
      },
      async (request) => listUserSessions(flow, await authenticate(guard, request, "access")),
    );

    app.delete(
      "/user/sessions/:sessionId",
      {
        schema: {
          summary: "End one of the caller's sessions",
          tags,
          security: SECURITY.access,
          params: SessionParams,
          response: { 204: NoContent, ...errors(401, 404) },
        },
      },
      async (request, reply) => {
        const principal = await authenticate(guard, request, "access");
        await endUserSession(flow, principal, request.params.sessionId);
        return reply.code(204).send(null);
      },
    );

    app.post(
      "/user/sessions/revoke-others",
      {
        schema: {
          summary: "End every session of the caller but the current one",
          tags,
          security: SECURITY.access,
          body: EmptyBody,
          response: { 204: NoContent, ...errors(400, 401) },
        },
      },
      async (request, reply) => {
        await endOtherUserSessions(flow, await authenticate(guard, request, "access"));
        return reply.code(204).send(null);
      },
    );
  };
}
