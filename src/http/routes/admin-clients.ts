import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { type TSchema, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { FastifyRequest } from "fastify";
import { BadRequestError } from "../../core/errors.js";
import {
  adminClientEvents,
  adminCreateClient,
  adminDeleteClient,
  adminGetClient,
  adminListClients,
  adminRotateClientSecret,
  adminUpdateClient,
} from "../../core/flows/clients.js";
import type { Deps } from "../../deps.js";
import { requestMeta } from "../request-meta.js";
import { AuditEvent, Paging } from "../schemas/admin.js";
import { errors, NoContent } from "../schemas/common.js";

const tags = ["Admin"];
const security = [{ adminToken: [] }];

const ClientParams = Type.Object({
  clientId: Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9_-]+$" }),
});
// The bounds here only cap the request's size; the registry's rules (and their codes) are the flow's.
const Uris = (description: string) => Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 100, description });
const RedirectUris = Uris(
  "1 to 10 absolute URLs: https, or http on 127.0.0.1, [::1] or localhost; no fragment, userinfo or *.",
);
const PostLogoutRedirectUris = Uris("0 to 10 URLs under the redirect URIs' rules.");
const Scopes = Type.Array(Type.String({ maxLength: 100 }), {
  maxItems: 20,
  description: "Among openid, profile, email, offline_access; must include openid.",
});
const Name = Type.String({ maxLength: 1000, description: "1 to 100 characters." });
const FirstParty = Type.Boolean({ description: "An application of the operator's own." });
const ClientType = Type.Union([Type.Literal("confidential"), Type.Literal("public")]);

const IdTokenSigningAlg = Type.Union([Type.Literal("RS256"), Type.Literal("EdDSA")], {
  description: "How the client's ID tokens are signed: RS256 (the default) or EdDSA.",
});
const clientFields = {
  clientId: Type.String(),
  name: Type.String(),
  type: ClientType,
  redirectUris: Type.Array(Type.String()),
  postLogoutRedirectUris: Type.Array(Type.String()),
  scopes: Type.Array(Type.String()),
  firstParty: Type.Boolean(),
  idTokenSigningAlg: IdTokenSigningAlg,
  createdAt: Type.String({ format: "date-time" }),
  updatedAt: Type.String({ format: "date-time" }),
};
const AdminClient = Type.Object(clientFields);
const CreatedClient = Type.Object({
  ...clientFields,
  clientSecret: Type.Optional(
    Type.String({ description: "A confidential client's secret: shown this once, stored only as its SHA-256." }),
  ),
});

/** Each request's body as it was sent, kept by `exactly` for its check. */
const sent = new WeakMap<FastifyRequest, unknown>();

/**
 * The app's validator coerces types (app.ts: a null becomes false, a string a one-item list), as
 * the query strings need. A client's registration is refused instead: after the schema's usual
 * check, the body as sent must fit the schema without any coercion.
 */
function exactly(schema: TSchema) {
  return {
    preValidation: async (request: FastifyRequest) => {
      sent.set(request, structuredClone(request.body));
    },
    preHandler: async (request: FastifyRequest) => {
      const error = Value.Errors(schema, sent.get(request)).First();
      if (error) throw new BadRequestError(`body${error.path} ${error.message.toLowerCase()}`);
    },
  };
}

const CreateBody = Type.Object(
  {
    name: Name,
    type: ClientType,
    redirectUris: RedirectUris,
    postLogoutRedirectUris: Type.Optional(PostLogoutRedirectUris),
    scopes: Type.Optional(Scopes),
    firstParty: Type.Optional(FirstParty),
    idTokenSigningAlg: Type.Optional(IdTokenSigningAlg),
  },
  { additionalProperties: false },
);

const UpdateBody = Type.Object(
  {
    name: Type.Optional(Name),
    redirectUris: Type.Optional(RedirectUris),
    postLogoutRedirectUris: Type.Optional(PostLogoutRedirectUris),
    scopes: Type.Optional(Scopes),
    firstParty: Type.Optional(FirstParty),
    idTokenSigningAlg: Type.Optional(IdTokenSigningAlg),
  },
  { additionalProperties: false },
);

/** The registry of OAuth clients (§5), inside the admin API's plugin and behind its token. */
export function adminClientRoutes(deps: Deps): FastifyPluginAsyncTypebox {
  const { flow } = deps;
  return async (app) => {
    app.post(
      "/admin/clients",
      {
        schema: {
          summary: "Register an OAuth client",
          tags,
          security,
          body: CreateBody,
          response: { 201: CreatedClient, ...errors(400, 401) },
        },
        ...exactly(CreateBody),
      },
      async (request, reply) => reply.code(201).send(await adminCreateClient(flow, request.body, requestMeta(request))),
    );

    app.get(
      "/admin/clients",
      {
        schema: {
          summary: "List OAuth clients, newest first",
          tags,
          security,
          querystring: Type.Object(Paging, { additionalProperties: false }),
          response: {
            200: Type.Object({ clients: Type.Array(AdminClient), total: Type.Integer() }),
            ...errors(400, 401),
          },
        },
      },
      async (request) => adminListClients(flow, request.query),
    );

    app.get(
      "/admin/clients/:clientId",
      {
        schema: {
          summary: "One OAuth client",
          tags,
          security,
          params: ClientParams,
          response: { 200: AdminClient, ...errors(400, 401, 404) },
        },
      },
      async (request) => adminGetClient(flow, request.params.clientId),
    );

    app.patch(
      "/admin/clients/:clientId",
      {
        schema: {
          summary: "Change an OAuth client's name, redirect URIs, scopes or first-party flag",
          tags,
          security,
          params: ClientParams,
          body: UpdateBody,
          response: { 200: AdminClient, ...errors(400, 401, 404) },
        },
        ...exactly(UpdateBody),
      },
      async (request) => adminUpdateClient(flow, request.params.clientId, request.body, requestMeta(request)),
    );

    app.post(
      "/admin/clients/:clientId/secret",
      {
        schema: {
          summary: "Give a confidential client a new secret (the old one stops working)",
          tags,
          security,
          params: ClientParams,
          response: {
            200: Type.Object({
              clientId: Type.String(),
              clientSecret: Type.String({ description: "Shown this once, stored only as its SHA-256." }),
            }),
            ...errors(400, 401, 404, 409),
          },
        },
      },
      async (request) => adminRotateClientSecret(flow, request.params.clientId, requestMeta(request)),
    );

    app.delete(
      "/admin/clients/:clientId",
      {
        schema: {
          summary: "Delete an OAuth client",
          tags,
          security,
          params: ClientParams,
          response: { 204: NoContent, ...errors(400, 401, 404) },
        },
      },
      async (request, reply) => {
        await adminDeleteClient(flow, request.params.clientId, requestMeta(request));
        return reply.code(204).send(null);
      },
    );

    app.get(
      "/admin/clients/:clientId/events",
      {
        schema: {
          summary: "The client's audit trail, newest first (kept after the client is deleted)",
          tags,
          security,
          params: ClientParams,
          querystring: Type.Object(Paging, { additionalProperties: false }),
          response: {
            200: Type.Object({ events: Type.Array(AuditEvent), total: Type.Integer() }),
            ...errors(400, 401, 404),
          },
        },
      },
      async (request) => adminClientEvents(flow, request.params.clientId, request.query),
    );
  };
}
