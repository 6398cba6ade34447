import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import {
  adminCreateUser,
  adminDeleteUser,
  adminGetUser,
  adminListUsers,
  adminResetTwoFactor,
  adminRevokeSessions,
  adminSetDisabled,
  adminUserEvents,
} from "../../core/flows/admin.js";
import { sendInvitation } from "../../core/flows/invitations.js";
import type { Deps } from "../../deps.js";
import { requireAdminToken } from "../plugins/admin-auth.js";
import { requestMeta } from "../request-meta.js";
import { AuditEvent, Paging } from "../schemas/admin.js";
import { errors, NoContent } from "../schemas/common.js";
import { EmailAddress, MailQuery } from "../schemas/mail.js";
import { adminClientRoutes } from "./admin-clients.js";

const tags = ["Admin"];
const security = [{ adminToken: [] }];
const UserParams = Type.Object({ userId: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });
const AdminUser = Type.Object({
  userId: Type.Integer(),
  email: Type.String(),
  createdAt: Type.String({ format: "date-time" }),
  disabled: Type.Boolean(),
});
const AdminUserDetail = Type.Composite([
  AdminUser,
  Type.Object({
    twoFactor: Type.Object({
      enabled: Type.Boolean(),
      emailOtp: Type.Optional(Type.Object({ email: Type.String(), completedAt: Type.String() })),
      totp: Type.Optional(Type.Object({ completedAt: Type.String() })),
      recoveryCodes: Type.Optional(Type.Object({ completedAt: Type.String(), remaining: Type.Integer() })),
      passkeys: Type.Optional(Type.Object({ completedAt: Type.String(), count: Type.Integer() })),
    }),
    sessions: Type.Integer({ description: "Live sessions." }),
    invitation: Type.Optional(
      Type.Object(
        { pending: Type.Literal(true), expiresAt: Type.String({ format: "date-time" }) },
        { description: "Present while an invitation can still be accepted." },
      ),
    ),
  }),
]);
/** Where and in which language an invitation is mailed: the mail query of §1, as a JSON object. */
const InviteOptions = Type.Object(MailQuery.properties, {
  additionalProperties: false,
  description: "Mail an invitation (origin and language as the mail query of §1); needs no password.",
});

/** The admin API (§5), registered only when LATCHKEY_ADMIN_TOKEN is set: users, and OAuth clients (admin-clients.ts). */
export function adminRoutes(deps: Deps, adminToken: string): FastifyPluginAsyncTypebox {
  const { flow } = deps;
  return async (app) => {
    requireAdminToken(app, adminToken);
    // The OAuth client registry: a child of this plugin, so behind the same token.
    await app.register(adminClientRoutes(deps));

    app.post(
      "/admin/users",
      {
        schema: {
          summary: "Create a user",
          tags,
          security,
          body: Type.Object(
            {
              email: EmailAddress,
              password: Type.Optional(Type.String({ maxLength: 256 })),
              invite: Type.Optional(InviteOptions),
            },
            { additionalProperties: false },
          ),
          response: { 201: Type.Object({ userId: Type.Integer() }), ...errors(400, 401, 409, 500) },
        },
      },
      async (request, reply) => {
        const userId = await adminCreateUser(flow, request.body, requestMeta(request));
        return reply.code(201).send({ userId });
      },
    );

    app.get(
      "/admin/users",
      {
        schema: {
          summary: "List users, newest first",
          tags,
          security,
          querystring: Type.Object(
            { email: Type.Optional(Type.String({ maxLength: 256 })), ...Paging },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ users: Type.Array(AdminUser), total: Type.Integer() }), ...errors(400, 401) },
        },
      },
      async (request) => adminListUsers(flow, request.query),
    );

    app.get(
      "/admin/users/:userId",
      {
        schema: {
          summary: "One user with its 2FA state and session count",
          tags,
          security,
          params: UserParams,
          response: { 200: AdminUserDetail, ...errors(400, 401, 404) },
        },
      },
      async (request) => adminGetUser(flow, request.params.userId),
    );

    app.post(
      "/admin/users/:userId/invitation",
      {
        schema: {
          summary: "Mail the user a new invitation (the previous code stops working)",
          tags,
          security,
          params: UserParams,
          body: InviteOptions,
          response: { 204: NoContent, ...errors(400, 401, 404, 409, 500) },
        },
      },
      async (request, reply) => {
        await sendInvitation(flow, request.params.userId, request.body, requestMeta(request));
        return reply.code(204).send(null);
      },
    );

    app.delete(
      "/admin/users/:userId",
      {
        schema: {
          summary: "Delete the user and everything it owns",
          tags,
          security,
          params: UserParams,
          response: { 204: NoContent, ...errors(400, 401, 404) },
        },
      },
      async (request, reply) => {
        await adminDeleteUser(flow, request.params.userId);
        return reply.code(204).send(null);
      },
    );

    for (const action of ["disable", "enable"] as const) {
      app.post(
        `/admin/users/:userId/${action}`,
        {
          schema: {
            summary: action === "disable" ? "Disable a user" : "Enable a user",
            tags,
            security,
            params: UserParams,
            response: { 204: NoContent, ...errors(400, 401, 404) },
          },
        },
        async (request, reply) => {
          await adminSetDisabled(flow, request.params.userId, action === "disable", requestMeta(request));
          return reply.code(204).send(null);
        },
      );
    }

    app.post(
      "/admin/users/:userId/sessions/revoke",
      {
        schema: {
          summary: "End every session of a user",
          tags,
          security,
          params: UserParams,
          response: { 204: NoContent, ...errors(400, 401, 404) },
        },
      },
      async (request, reply) => {
        await adminRevokeSessions(flow, request.params.userId, requestMeta(request));
        return reply.code(204).send(null);
      },
    );

    app.post(
      "/admin/users/:userId/2fa/reset",
      {
        schema: {
          summary: "Turn every 2FA method off and drop the recovery codes",
          tags,
          security,
          params: UserParams,
          response: { 204: NoContent, ...errors(400, 401, 404) },
        },
      },
      async (request, reply) => {
        await adminResetTwoFactor(flow, request.params.userId, requestMeta(request));
        return reply.code(204).send(null);
      },
    );

    app.get(
      "/admin/users/:userId/events",
      {
        schema: {
          summary: "The user's audit trail, newest first",
          tags,
          security,
          params: UserParams,
          querystring: Type.Object(Paging, { additionalProperties: false }),
          response: {
            200: Type.Object({ events: Type.Array(AuditEvent), total: Type.Integer() }),
            ...errors(400, 401, 404),
          },
        },
      },
      async (request) => adminUserEvents(flow, request.params.userId, request.query),
    );
  };
}
