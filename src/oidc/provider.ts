/**
 * The OpenID provider: `oidc-provider` configured over Latchkey's store, keys and pages. Its routes
 * live under /oidc (discovery at the issuer's /.well-known/openid-configuration, the keys at the
 * JWKS Latchkey already publishes); its interactions (sign-in, consent) are the hosted pages.
 */
import Provider, {
  type Adapter,
  type ClientMetadata,
  type Configuration,
  type FindAccount,
  type KoaContextWithOIDC,
} from "oidc-provider";
import { clientSecretHash } from "../core/flows/clients.js";
import type { LoadedKey, SigningKeys } from "../core/tokens/signing-keys.js";
import type { Deps } from "../deps.js";
import { constantTimeEqual } from "../platform/crypto.js";
import type { OAuthClientRecord } from "../storage/store.js";
import { ACR_VALUES } from "./claims.js";

export const OIDC_PREFIX = "/oidc";
export const INTERACTION_PREFIX = `${OIDC_PREFIX}/interaction`;

/** An interaction's page: where the provider sends the browser to sign in or consent. */
export function interactionPath(uid: string): string {
  return `${INTERACTION_PREFIX}/${uid}`;
}

/** What the provider's own routes answer to: every path under /oidc but the interaction pages. */
export const OIDC_ROUTES = {
  authorization: `${OIDC_PREFIX}/auth`,
  token: `${OIDC_PREFIX}/token`,
  userinfo: `${OIDC_PREFIX}/userinfo`,
  end_session: `${OIDC_PREFIX}/logout`,
  revocation: `${OIDC_PREFIX}/revoke`,
  introspection: `${OIDC_PREFIX}/introspect`,
  registration: `${OIDC_PREFIX}/register`,
  pushed_authorization_request: `${OIDC_PREFIX}/par`,
  code_verification: `${OIDC_PREFIX}/device`,
  device_authorization: `${OIDC_PREFIX}/device/auth`,
  backchannel_authentication: `${OIDC_PREFIX}/backchannel`,
  // Served by Latchkey itself (the same keys, with its caching), never by the provider.
  jwks: "/.well-known/jwks.json",
} as const;

/** A registered client as the store keeps it (see the admin API's /admin/clients). */
export type OidcClientRecord = Omit<OAuthClientRecord, "createdAt" | "updatedAt">;

export interface OidcClientSource {
  findClient(id: string): Promise<OidcClientRecord | undefined>;
}

/** The provider's pages outside the interactions: errors and RP-initiated logout, in Latchkey's look. */
export interface OidcPageSources {
  renderError(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }): void;
  logoutSource(ctx: KoaContextWithOIDC, form: string): void;
  postLogoutSuccessSource(ctx: KoaContextWithOIDC): void;
}

export interface OidcOptions {
  deps: Deps;
  clients: OidcClientSource;
  /** The storage adapter of every model but Client (see adapter.ts). */
  payloads: (model: string) => Adapter;
  pages: OidcPageSources;
  /** Work to do once the provider has answered (the page session's end on logout, say). */
  after?: (ctx: KoaContextWithOIDC) => Promise<void>;
}

/** Claim of the client metadata that says the client is first-party (no consent page). */
export const FIRST_PARTY_METADATA = "latchkey_first_party";

/** How a registered client looks to the provider. The "secret" it holds is the secret's hash. */
export function clientMetadata(record: OidcClientRecord): ClientMetadata {
  return {
    client_id: record.id,
    client_name: record.name,
    ...(record.secretHash === null
      ? { token_endpoint_auth_method: "none" }
      : { client_secret: record.secretHash, token_endpoint_auth_method: "client_secret_basic" }),
    redirect_uris: record.redirectUris,
    post_logout_redirect_uris: record.postLogoutRedirectUris,
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    scope: record.scopes.join(" "),
    id_token_signed_response_alg: record.idTokenSigningAlg,
    [FIRST_PARTY_METADATA]: record.firstParty,
  };
}

/** The Client model's storage: read-only, from the clients the admin API registers. */
function clientAdapter(clients: OidcClientSource): Adapter {
  const readOnly = async () => {
    throw new Error("clients are registered through the admin API, not by the provider");
  };
  return {
    async find(id) {
      const record = await clients.findClient(id);
      return record && clientMetadata(record);
    },
    upsert: readOnly,
    consume: readOnly,
    destroy: readOnly,
    revokeByGrantId: readOnly,
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
  };
}

/**
 * The provider's keys: the RS256 and EdDSA keys that sign now first (the provider signs with the
 * first key of an algorithm that may sign), then every other published key, for verifying only.
 */
export function providerJwks(keys: SigningKeys): { keys: Record<string, unknown>[] } {
  const signing = new Set([keys.active("RS256").kid, keys.active("EdDSA").kid]);
  const ordered = [...keys.all()].sort((a, b) => Number(signing.has(b.kid)) - Number(signing.has(a.kid)));
  return { keys: ordered.map((key) => privateJwk(key, signing.has(key.kid))) };
}

function privateJwk(key: LoadedKey, signs: boolean): Record<string, unknown> {
  const jwk = { ...(key.privateKey.export({ format: "jwk" }) as Record<string, unknown>), kid: key.kid, alg: key.alg };
  // The provider takes private keys only; one that does not sign now is marked for verifying only
  // (the provider verifies with its public half: an id_token_hint it signed before a rotation).
  return signs ? { ...jwk, use: "sig" } : { ...jwk, use: "sig", key_ops: ["verify"] };
}

/** Keys for the provider's signed cookies, derived from the encryption keyring (the active one first). */
function cookieKeys(deps: Deps): string[] {
  const active = deps.keyring.activeKid;
  const kids = [active, ...deps.keyring.kids().filter((kid) => kid !== active)];
  return kids.map((kid) => deps.keyring.macKey("oidc-cookies", kid).key.toString("base64url"));
}

/** Every `alg` the provider may use is asymmetric: a client's "secret" is a hash, never a key. */
const SIGNING_ALGS = ["RS256", "EdDSA"] as const;

function findAccount(deps: Deps): FindAccount {
  return async (_ctx, sub) => {
    const id = Number(sub);
    if (!/^[1-9][0-9]{0,15}$/.test(sub) || !Number.isSafeInteger(id)) return undefined;
    const user = await deps.store.findUserById(id);
    // A deleted or disabled user has no account here: no token, no userinfo, no refresh.
    if (!user || user.disabledAt !== null) return undefined;
    return {
      accountId: sub,
      async claims(_use, scope) {
        const scopes = new Set(scope.split(" "));
        return { sub, ...(scopes.has("email") ? { email: user.email } : {}) };
      },
    };
  };
}

export function buildProvider(options: OidcOptions): Provider {
  const { deps } = options;
  const refreshTtl = deps.config.tokens.refreshTtlSeconds;
  const configuration: Configuration = {
    adapter: (model: string) => (model === "Client" ? clientAdapter(options.clients) : options.payloads(model)),
    clients: [],
    findAccount: findAccount(deps),
    // Every ID token says how and when the person signed in (acr, amr, auth_time: from the Latchkey
    // session, see pages.ts), not only when asked; the other claims come from findAccount.
    claims: { openid: ["sub", "acr", "amr", "auth_time"], email: ["email"], profile: [] },
    scopes: ["openid", "offline_access", "email", "profile"],
    acrValues: [...ACR_VALUES],
    extraClientMetadata: { properties: [FIRST_PARTY_METADATA] },
    clientAuthMethods: ["client_secret_basic", "none"],
    responseTypes: ["code"],
    enabledJWA: {
      idTokenSigningAlgValues: SIGNING_ALGS,
      userinfoSigningAlgValues: SIGNING_ALGS,
      authorizationSigningAlgValues: SIGNING_ALGS,
      introspectionSigningAlgValues: SIGNING_ALGS,
      requestObjectSigningAlgValues: SIGNING_ALGS,
      clientAuthSigningAlgValues: SIGNING_ALGS,
      dPoPSigningAlgValues: SIGNING_ALGS,
    },
    cookies: { keys: cookieKeys(deps) },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: false },
      registration: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => options.pages.logoutSource(ctx, form),
        postLogoutSuccessSource: async (ctx) => options.pages.postLogoutSuccessSource(ctx),
      },
    },
    interactions: { url: async (_ctx, interaction) => interactionPath(interaction.uid) },
    // S256 for every client: a code alone, intercepted, is worth nothing.
    pkce: { required: () => true },
    rotateRefreshToken: true,
    routes: OIDC_ROUTES,
    jwks: providerJwks(deps.keys) as Configuration["jwks"],
    renderError: async (ctx, out) => options.pages.renderError(ctx, out),
    ttl: {
      AccessToken: deps.config.tokens.accessTtlSeconds,
      AuthorizationCode: 60,
      IdToken: deps.config.tokens.accessTtlSeconds,
      Interaction: 600,
      Session: refreshTtl,
      Grant: refreshTtl,
      RefreshToken: refreshTtl,
    },
  };
  const provider = new Provider(deps.config.issuer, configuration);
  // The forwarding route (routes.ts) sets the scheme, host and address the provider sees from the
  // issuer and the trusted client address: the provider reads them from the forwarded headers.
  provider.proxy = true;
  // The stored "secret" is the secret's SHA-256: the presented secret is hashed, then compared in constant time.
  provider.Client.prototype.compareClientSecret = function compareClientSecret(
    this: { clientSecret?: string },
    actual: string,
  ) {
    return this.clientSecret !== undefined && constantTimeEqual(this.clientSecret, clientSecretHash(actual));
  };
  // A fault inside the provider is answered server_error with no detail; the log says what it was.
  provider.on("server_error", (_ctx: unknown, error: unknown) => {
    deps.logger.error({ err: error }, "OpenID provider fault");
  });
  if (options.after) {
    const after = options.after;
    provider.use(async (ctx, next) => {
      await next();
      await after(ctx as KoaContextWithOIDC);
    });
  }
  return provider;
}
