import { constantTimeEqual, sha256Hex } from "../../platform/crypto.js";
import type { IdTokenSigningAlg, OAuthClientChanges, OAuthClientRecord } from "../../storage/store.js";
import {
  clientName,
  clientScopes,
  DEFAULT_CLIENT_SCOPES,
  postLogoutRedirectUris,
  redirectUris,
} from "../clients/rules.js";
import { AppError } from "../errors.js";
import { iso } from "../iso-time.js";
import type { RequestMeta } from "../request-meta.js";
import { auditPage } from "./admin.js";
import { auditClient } from "./audit.js";
import type { FlowContext } from "./context.js";

/**
 * The registry of OAuth clients, the applications that sign in with Latchkey (the admin API and the
 * command line). A confidential client's secret is made here, shown once, and kept only as its
 * SHA-256; every change lands in the client's audit trail (no user, the client's id).
 */

const CLIENT_ID_BYTES = 16;
const CLIENT_SECRET_BYTES = 32;

export type ClientType = "confidential" | "public";

export interface AdminClient {
  clientId: string;
  name: string;
  type: ClientType;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  scopes: string[];
  firstParty: boolean;
  idTokenSigningAlg: IdTokenSigningAlg;
  createdAt: string;
  updatedAt: string;
}

/** A client as made or given a new secret: the secret, in clear, this once. */
export interface CreatedClient extends AdminClient {
  clientSecret?: string;
}

export interface NewClientInput {
  name: string;
  type: ClientType;
  redirectUris: string[];
  postLogoutRedirectUris?: string[] | undefined;
  scopes?: string[] | undefined;
  firstParty?: boolean | undefined;
  idTokenSigningAlg?: IdTokenSigningAlg | undefined;
}

export interface ClientUpdateInput {
  name?: string | undefined;
  redirectUris?: string[] | undefined;
  postLogoutRedirectUris?: string[] | undefined;
  scopes?: string[] | undefined;
  firstParty?: boolean | undefined;
  idTokenSigningAlg?: IdTokenSigningAlg | undefined;
}

function view(client: OAuthClientRecord): AdminClient {
  return {
    clientId: client.id,
    name: client.name,
    type: client.secretHash === null ? "public" : "confidential",
    redirectUris: client.redirectUris,
    postLogoutRedirectUris: client.postLogoutRedirectUris,
    scopes: client.scopes,
    firstParty: client.firstParty,
    idTokenSigningAlg: client.idTokenSigningAlg,
    createdAt: iso(client.createdAt),
    updatedAt: iso(client.updatedAt),
  };
}

function newSecret(flow: FlowContext): string {
  return flow.random.bytes(CLIENT_SECRET_BYTES).toString("base64url");
}

/** What is stored of a client secret. */
export function clientSecretHash(secret: string): string {
  return sha256Hex(secret);
}

/**
 * Whether `presented` is the client's secret: its SHA-256 against the stored one, in constant time.
 * False for a public client, which has none.
 */
export function verifyClientSecret(client: OAuthClientRecord, presented: string): boolean {
  if (client.secretHash === null) return false;
  return constantTimeEqual(clientSecretHash(presented), client.secretHash);
}

async function existing(flow: FlowContext, clientId: string): Promise<OAuthClientRecord> {
  const client = await flow.store.findClient(clientId);
  if (!client) throw new AppError("CLIENT_NOT_FOUND");
  return client;
}

export async function adminCreateClient(
  flow: FlowContext,
  input: NewClientInput,
  meta: RequestMeta,
): Promise<CreatedClient> {
  const name = clientName(input.name);
  const uris = redirectUris(input.redirectUris);
  const logoutUris = postLogoutRedirectUris(input.postLogoutRedirectUris ?? []);
  const scopes = clientScopes(input.scopes ?? DEFAULT_CLIENT_SCOPES);
  const now = flow.clock.now();
  const secret = input.type === "confidential" ? newSecret(flow) : undefined;
  const client: OAuthClientRecord = {
    id: flow.random.bytes(CLIENT_ID_BYTES).toString("base64url"),
    name,
    secretHash: secret === undefined ? null : clientSecretHash(secret),
    redirectUris: uris,
    postLogoutRedirectUris: logoutUris,
    scopes,
    firstParty: input.firstParty ?? false,
    idTokenSigningAlg: input.idTokenSigningAlg ?? "RS256",
    createdAt: now,
    updatedAt: now,
  };
  await flow.store.insertClient(client);
  await auditClient(flow, "client.created", client.id, meta, { name, type: input.type });
  const { clientId, ...rest } = view(client);
  return { clientId, ...(secret === undefined ? {} : { clientSecret: secret }), ...rest };
}

export async function adminGetClient(flow: FlowContext, clientId: string): Promise<AdminClient> {
  return view(await existing(flow, clientId));
}

export async function adminListClients(
  flow: FlowContext,
  page: { offset: number; limit: number },
): Promise<{ clients: AdminClient[]; total: number }> {
  const result = await flow.store.listClients(page);
  return { clients: result.clients.map(view), total: result.total };
}

/** Changes the fields given, each under its rule; at least one must be given. */
export async function adminUpdateClient(
  flow: FlowContext,
  clientId: string,
  input: ClientUpdateInput,
  meta: RequestMeta,
): Promise<AdminClient> {
  const changes: OAuthClientChanges = { updatedAt: flow.clock.now() };
  const changed: string[] = [];
  if (input.name !== undefined) {
    changes.name = clientName(input.name);
    changed.push("name");
  }
  if (input.redirectUris !== undefined) {
    changes.redirectUris = redirectUris(input.redirectUris);
    changed.push("redirectUris");
  }
  if (input.postLogoutRedirectUris !== undefined) {
    changes.postLogoutRedirectUris = postLogoutRedirectUris(input.postLogoutRedirectUris);
    changed.push("postLogoutRedirectUris");
  }
  if (input.scopes !== undefined) {
    changes.scopes = clientScopes(input.scopes);
    changed.push("scopes");
  }
  if (input.firstParty !== undefined) {
    changes.firstParty = input.firstParty;
    changed.push("firstParty");
  }
  if (input.idTokenSigningAlg !== undefined) {
    changes.idTokenSigningAlg = input.idTokenSigningAlg;
    changed.push("idTokenSigningAlg");
  }
  if (changed.length === 0) throw new AppError("CLIENT_UPDATE_EMPTY");
  const client = await flow.store.updateClient(clientId, changes);
  if (!client) throw new AppError("CLIENT_NOT_FOUND");
  await auditClient(flow, "client.updated", client.id, meta, { name: client.name, changed: changed.join(" ") });
  return view(client);
}

/** A new secret for a confidential client; the old one stops verifying at once. */
export async function adminRotateClientSecret(
  flow: FlowContext,
  clientId: string,
  meta: RequestMeta,
): Promise<{ clientId: string; clientSecret: string }> {
  const client = await existing(flow, clientId);
  if (client.secretHash === null) throw new AppError("CLIENT_IS_PUBLIC");
  const secret = newSecret(flow);
  // Conditional on the client still being confidential and there: a delete meanwhile is a 404.
  if (!(await flow.store.setClientSecretHash(clientId, clientSecretHash(secret), flow.clock.now()))) {
    throw new AppError("CLIENT_NOT_FOUND");
  }
  await auditClient(flow, "client.secret_rotated", clientId, meta, { name: client.name });
  return { clientId, clientSecret: secret };
}

export async function adminDeleteClient(flow: FlowContext, clientId: string, meta: RequestMeta): Promise<void> {
  const client = await existing(flow, clientId);
  if (!(await flow.store.deleteClient(clientId))) throw new AppError("CLIENT_NOT_FOUND");
  await auditClient(flow, "client.deleted", clientId, meta, { name: client.name });
}

/**
 * The client's audit trail, newest first. It outlives the client (its last event says it was
 * deleted); an id with neither a client nor any event is a 404.
 */
export async function adminClientEvents(flow: FlowContext, clientId: string, page: { offset: number; limit: number }) {
  const [client, result] = await Promise.all([
    flow.store.findClient(clientId),
    flow.store.listClientAuditEvents({ clientId, ...page }),
  ]);
  if (!client && result.total === 0) throw new AppError("CLIENT_NOT_FOUND");
  return auditPage(result);
}
