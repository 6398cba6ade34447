/**
 * The node's OpenID provider, kept in step with the signing keys: `oidc-provider` takes its keys
 * when it is built, so a key rotated or pruned anywhere (each node reloads the key table on a timer),
 * or a rotated key whose time to sign has come, makes the next request build it again. Everything the provider keeps lives in the database, so a
 * rebuilt provider, like another node, carries on every sign-in where it was.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type Provider from "oidc-provider";
import type { KoaContextWithOIDC } from "oidc-provider";
import { AppError } from "../core/errors.js";
import { logout } from "../core/flows/sessions.js";
import type { Deps } from "../deps.js";
import { contextFromHeaders, type PageEnv, pageFrame } from "../http/pages/page.js";
import { pageSecurityHeaders } from "../http/pages/plugin.js";
import { PAGE_COOKIE_ATTRIBUTES, PAGE_COOKIES } from "../http/pages/session.js";
import { oidcAdapterFactory } from "./adapter.js";
import { buildProvider, type OidcClientSource, type OidcPageSources } from "./provider.js";

/** The page cookies of a sign-in, cleared when the provider signs the browser out. */
const SESSION_COOKIES = [PAGE_COOKIES.session, PAGE_COOKIES.access, PAGE_COOKIES.sudo, PAGE_COOKIES.partial];

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export class OidcService {
  #provider: Provider | undefined;
  #handler: Handler | undefined;
  #builtFor = "";
  #pages: { env: PageEnv; policy: string } | undefined;

  constructor(
    private readonly deps: Deps,
    private readonly clients: OidcClientSource,
  ) {}

  #ready: Promise<void> | undefined;

  /**
   * Before the provider's first answer: the RSA key ID tokens are signed with, created once for the
   * database (by whichever node asks first) and published in the JWKS from then on.
   */
  ready(): Promise<void> {
    this.#ready ??= this.deps.keys.ensure("RS256").catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  /** The hosted pages' views and policy, for the pages the provider answers itself. */
  attachPages(env: PageEnv, policy: string): void {
    this.#pages = { env, policy };
  }

  get provider(): Provider {
    // Built again when a key comes or goes, and when a rotated key's time to sign has come.
    const keys = this.deps.keys;
    const version = `${keys.version}:${keys.active("RS256").kid}:${keys.active("EdDSA").kid}`;
    if (this.#provider === undefined || this.#builtFor !== version) {
      const deps = this.deps;
      this.#provider = buildProvider({
        deps,
        clients: this.clients,
        payloads: oidcAdapterFactory(deps.store, deps.clock, { keyring: deps.keyring, random: deps.random }),
        pages: this.#pageSources(),
        after: (ctx) => this.#afterProvider(ctx),
      });
      this.#handler = this.#provider.callback() as unknown as Handler;
      this.#builtFor = version;
    }
    return this.#provider;
  }

  /** What answers a request to one of the provider's routes (after `ready`). */
  handler(): Handler {
    const provider = this.provider;
    const handler = this.#handler;
    if (!handler) throw new Error(`no handler for ${provider.issuer}`);
    return handler;
  }

  #render(ctx: KoaContextWithOIDC, view: string, title: string, data: Record<string, unknown>, policy?: string): void {
    const pages = this.#pages;
    if (!pages) throw new Error("the OpenID provider's pages are not attached");
    const context = contextFromHeaders(pages.env, (name) => ctx.cookies.get(name), ctx.get("accept-language"));
    const frame = pageFrame(pages.env, context, title, { languages: [], csrfToken: undefined, signedIn: false });
    ctx.set(pageSecurityHeaders(policy ?? pages.policy));
    ctx.type = "text/html; charset=utf-8";
    ctx.body = pages.env.views.render(view, frame, data);
  }

  #pageSources(): OidcPageSources {
    return {
      renderError: (ctx, out) =>
        this.#render(ctx, "oidc-error", "oidc.error-title", {
          error: out.error,
          reason: out.error_description ?? "",
        }),
      logoutSource: (ctx, form) => {
        const pages = this.#pages;
        const target = ctx.oidc.params?.post_logout_redirect_uri;
        // The form's answer redirects to the application: its origin joins form-action for this page.
        const policy =
          pages && typeof target === "string" && URL.canParse(target)
            ? pages.policy.replace("form-action 'self'", `form-action 'self' ${new URL(target).origin}`)
            : undefined;
        this.#render(ctx, "oidc-logout", "oidc.logout-title", { form, client: ctx.oidc.client?.clientName }, policy);
      },
      postLogoutSuccessSource: (ctx) => this.#render(ctx, "oidc-logged-out", "oidc.logged-out-title", {}),
    };
  }

  /**
   * After the provider answered: a sign-out the person confirmed (RP-initiated logout) ends the
   * page session of this browser too, as its own sign-out button would.
   */
  async #afterProvider(ctx: KoaContextWithOIDC): Promise<void> {
    if (ctx.oidc?.route !== "end_session_confirm" || !ctx.oidc.params?.logout) return;
    const token = ctx.cookies.get(PAGE_COOKIES.session);
    if (token) {
      try {
        const refresh = await this.deps.guard.authenticate(token, "refresh");
        const userAgent = ctx.get("user-agent");
        await logout(this.deps.flow, { ...refresh, meta: { ip: ctx.ip || null, userAgent: userAgent || null } });
      } catch (error) {
        // A session already ended is signed out all the same.
        if (!(error instanceof AppError && error.status === 401)) throw error;
      }
    }
    for (const name of SESSION_COOKIES) {
      ctx.append(
        "set-cookie",
        `${name}=; Max-Age=0; Path=${PAGE_COOKIE_ATTRIBUTES.path}; HttpOnly; Secure; SameSite=Lax`,
      );
    }
  }
}
