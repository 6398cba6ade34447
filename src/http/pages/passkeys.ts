/**
 * Passkeys on the account pages: /account/passkeys lists them (name, added, last used, synced or
 * not), /account/passkeys/add registers one, /rename renames one and /remove removes one behind a
 * page that asks first. The same flows as the /user/2fa/passkey* endpoints, behind the same token
 * requirements: adding wants the sudo token once 2FA is on (the access token while it is off),
 * renaming the access token, removing the sudo token; without it the browser goes to /reauth and
 * comes back. The first passkey of an account without another method turns 2FA on: its recovery
 * codes are the answer to the form that added it, shown once. Registered only while passkeys are
 * configured.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../../core/errors.js";
import {
  deletePasskey,
  listPasskeys,
  MAX_PASSKEYS,
  type PasskeyView,
  passkeyRegistrationOptions,
  passkeysEnabled,
  registerPasskey,
  renamePasskey,
} from "../../core/flows/two-factor/passkeys.js";
import { twoFactorState } from "../../core/flows/two-factor/state.js";
import type { Deps } from "../../deps.js";
import {
  formatTime,
  formFields,
  noticeOf,
  type PageEnv,
  pageContext,
  refusal,
  renderPage,
  type Shown,
} from "./page.js";
import {
  attestationOf,
  CREDENTIAL_LIMIT,
  optionsReply,
  PASSKEY_BODY_LIMIT,
  PASSKEY_NAME_MAX,
  passkeyNameOf,
} from "./passkey-form.js";
import { principalFor } from "./session.js";
import { renderRecoveryCodes } from "./two-factor.js";

const BASE = "/account/passkeys";
/** A passkey's id in a form or a query: base64url of at most 1023 bytes. */
const ID_LIMIT = 1364;

const NOTICES: Readonly<Record<string, string>> = {
  added: "passkeys.done-added",
  renamed: "passkeys.done-renamed",
  removed: "passkeys.done-removed",
  "two-factor-off": "two-factor.done-two-factor-off",
};

/** The `passkey` of the query: the id of the passkey a page is about. */
function passkeyIdOf(request: FastifyRequest): string {
  const id = (request.query as Record<string, unknown>).passkey;
  return typeof id === "string" && id.length <= ID_LIMIT ? id : "";
}

export function passkeyPages(deps: Deps, env: PageEnv): FastifyPluginAsync {
  const langOf = (request: FastifyRequest, reply: FastifyReply) => pageContext(env, request, reply).lang;

  /** The caller's passkey with this id, or undefined (another user's is none of theirs). */
  const findOwn = async (userId: number, passkeyId: string): Promise<PasskeyView | undefined> =>
    (await listPasskeys(deps.flow, userId)).find((passkey) => passkey.passkeyId === passkeyId);

  /** No passkey of the caller's has that id: a page saying so, with the way back to the list. */
  const notFound = (request: FastifyRequest, reply: FastifyReply) =>
    renderPage(
      env,
      request,
      reply,
      "error",
      { title: "common.error-title", status: 404, signedIn: true },
      { message: env.views.text(langOf(request, reply), "errors.PASSKEY_NOT_FOUND"), link: BASE },
    );

  const renderList = async (request: FastifyRequest, reply: FastifyReply, userId: number, shown?: Shown) => {
    const lang = langOf(request, reply);
    const passkeys = await listPasskeys(deps.flow, userId);
    return renderPage(
      env,
      request,
      reply,
      "passkeys",
      { title: "passkeys.title", status: shown?.status ?? 200, signedIn: true },
      {
        passkeys: passkeys.map((passkey, index) => {
          const query = `?passkey=${encodeURIComponent(passkey.passkeyId)}`;
          return {
            headingId: `passkey-${index + 1}`,
            name: passkey.name,
            created: formatTime(lang, Date.parse(passkey.createdAt)),
            lastUsed:
              passkey.lastUsedAt === null
                ? env.views.text(lang, "passkeys.never-used")
                : formatTime(lang, Date.parse(passkey.lastUsedAt)),
            kept: env.views.text(lang, passkey.backedUp ? "passkeys.synced" : "passkeys.not-synced"),
            rename: `${BASE}/rename${query}`,
            remove: `${BASE}/remove${query}`,
          };
        }),
        canAdd: passkeys.length < MAX_PASSKEYS,
        error: shown?.error,
        notice: shown ? undefined : noticeOf(env, request, reply, NOTICES),
      },
    );
  };

  const renderAdd = (request: FastifyRequest, reply: FastifyReply, data: { name?: string; shown?: Shown } = {}) =>
    renderPage(
      env,
      request,
      reply,
      "passkey-add",
      { title: "passkeys.add-title", status: data.shown?.status ?? 200, signedIn: true },
      { name: data.name, error: data.shown?.error, passkeyScript: true, nameMax: PASSKEY_NAME_MAX },
    );

  const renderRename = (
    request: FastifyRequest,
    reply: FastifyReply,
    passkey: { passkeyId: string; name: string },
    shown?: Shown,
  ) =>
    renderPage(
      env,
      request,
      reply,
      "passkey-rename",
      { title: "passkeys.rename-title", status: shown?.status ?? 200, signedIn: true },
      { passkeyId: passkey.passkeyId, name: passkey.name, error: shown?.error, nameMax: PASSKEY_NAME_MAX },
    );

  return async (app) => {
    if (!passkeysEnabled(deps.flow)) return;

    app.get(BASE, async (request, reply) => {
      const principal = await principalFor(deps, request, reply, "access");
      return renderList(request, reply, principal.userId);
    });

    // Adding: sudo once 2FA is on, as POST /user/2fa/passkey/setup and /enable.
    app.get(`${BASE}/add`, async (request, reply) => {
      const principal = await principalFor(deps, request, reply, "sudoOrAccessIf2faOff");
      if ((await listPasskeys(deps.flow, principal.userId)).length >= MAX_PASSKEYS) {
        return renderList(
          request,
          reply,
          principal.userId,
          refusal(env, request, reply, new AppError("PASSKEY_LIMIT_REACHED")),
        );
      }
      return renderAdd(request, reply);
    });

    app.post(`${BASE}/add/options`, async (request, reply) =>
      optionsReply(env, request, reply, async () =>
        passkeyRegistrationOptions(deps.flow, await principalFor(deps, request, reply, "sudoOrAccessIf2faOff")),
      ),
    );

    app.post(`${BASE}/add`, { bodyLimit: PASSKEY_BODY_LIMIT }, async (request, reply) => {
      const form = formFields(request.body, { credential: CREDENTIAL_LIMIT.attestation, name: PASSKEY_NAME_MAX }, [
        "name",
      ]);
      const principal = await principalFor(deps, request, reply, "sudoOrAccessIf2faOff");
      const context = pageContext(env, request, reply);
      let codes: string[];
      try {
        const added = await registerPasskey(
          deps.flow,
          principal,
          { credential: attestationOf(form.credential), name: passkeyNameOf(form.name) },
          { origin: context.origin.name, language: context.lang },
        );
        codes = added.recoveryCodes;
      } catch (error) {
        return renderAdd(request, reply, { name: form.name, shown: refusal(env, request, reply, error) });
      }
      if (codes.length > 0) {
        return renderRecoveryCodes(deps, env, request, reply, principal, codes, "passkeys.done-added-two-factor-on");
      }
      return reply.redirect(`${BASE}?done=added`, 303);
    });

    // Renaming: the access token, as PATCH /user/2fa/passkeys/{passkeyId}.
    app.get(`${BASE}/rename`, async (request, reply) => {
      const principal = await principalFor(deps, request, reply, "access");
      const passkey = await findOwn(principal.userId, passkeyIdOf(request));
      if (!passkey) return notFound(request, reply);
      return renderRename(request, reply, passkey);
    });

    app.post(`${BASE}/rename`, async (request, reply) => {
      const form = formFields(request.body, { passkey: ID_LIMIT, name: PASSKEY_NAME_MAX });
      const principal = await principalFor(deps, request, reply, "access");
      try {
        const name = passkeyNameOf(form.name);
        if (name === undefined) throw new AppError("PASSKEY_NAME_INVALID");
        await renamePasskey(deps.flow, principal, form.passkey, name);
      } catch (error) {
        if (error instanceof AppError && error.code === "PASSKEY_NOT_FOUND") return notFound(request, reply);
        const shown = refusal(env, request, reply, error);
        return renderRename(request, reply, { passkeyId: form.passkey, name: form.name }, shown);
      }
      return reply.redirect(`${BASE}?done=renamed`, 303);
    });

    // Removing: sudo, as DELETE /user/2fa/passkeys/{passkeyId}; a page says what will happen first.
    app.get(`${BASE}/remove`, async (request, reply) => {
      const principal = await principalFor(deps, request, reply, "sudo");
      const passkey = await findOwn(principal.userId, passkeyIdOf(request));
      if (!passkey) return notFound(request, reply);
      const state = await twoFactorState(deps.flow, principal.userId);
      const last = state.passkeys?.count === 1 && !state.totp && !state.emailOtp;
      return renderPage(
        env,
        request,
        reply,
        "passkey-remove",
        { title: "passkeys.remove-title", signedIn: true },
        { passkeyId: passkey.passkeyId, name: passkey.name, last },
      );
    });

    app.post(`${BASE}/remove`, async (request, reply) => {
      const form = formFields(request.body, { passkey: ID_LIMIT });
      const principal = await principalFor(deps, request, reply, "sudo");
      const context = pageContext(env, request, reply);
      try {
        await deletePasskey(deps.flow, principal, form.passkey, {
          origin: context.origin.name,
          language: context.lang,
        });
      } catch (error) {
        // Removed already (another tab, another device), or never this account's.
        if (error instanceof AppError && error.code === "PASSKEY_NOT_FOUND") {
          return renderList(request, reply, principal.userId, refusal(env, request, reply, error));
        }
        throw error;
      }
      const state = await twoFactorState(deps.flow, principal.userId);
      return reply.redirect(`${BASE}?done=${state.enabled ? "removed" : "two-factor-off"}`, 303);
    });
  };
}
