/**
 * Two-step verification on the pages: /account/two-factor shows which methods are on, and its forms
 * set up the authenticator app (a QR code made here, as inline SVG), set up codes by email (to the
 * account's address), turn either off, and make new recovery codes. The same flows as the
 * /user/2fa/* endpoints, each behind the same token requirement: setting up wants the sudo token once
 * 2FA is on, confirming a setup wants access, turning a method off and new recovery codes want sudo.
 * Recovery codes are shown once, in the answer to the form that made them: never stored for showing
 * again, never in a URL.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import Handlebars from "handlebars";
import QRCode from "qrcode";
import { AppError } from "../../core/errors.js";
import {
  deactivateEmailOtp,
  emailOtpNextEmail,
  enableEmailOtp,
  setupEmailOtp,
} from "../../core/flows/two-factor/email-otp.js";
import { passkeysEnabled } from "../../core/flows/two-factor/passkeys.js";
import { resetRecoveryCodes } from "../../core/flows/two-factor/recovery-codes.js";
import { type TwoFactorState, twoFactorState } from "../../core/flows/two-factor/state.js";
import { disableTotp, enableTotp, pendingTotpUrl, setupTotp } from "../../core/flows/two-factor/totp.js";
import { RECOVERY_CODE_COUNT } from "../../core/recovery/recovery.js";
import type { Principal } from "../../core/tokens/token-guard.js";
import type { Deps } from "../../deps.js";
import {
  formatTime,
  formatWait,
  formFields,
  noticeOf,
  type PageEnv,
  pageContext,
  refusal,
  renderPage,
  type Shown,
} from "./page.js";
import { principalFor, ReauthNeeded, requireSignedIn } from "./session.js";
import type { PageLanguage } from "./view.js";

const BASE = "/account/two-factor";
const FIELD = { code: 64 } as const;

/** The words a page shows after a redirect (`?done=`). */
const NOTICES: Record<string, string> = {
  "totp-on": "two-factor.done-totp-on",
  "totp-off": "two-factor.done-totp-off",
  "email-on": "two-factor.done-email-on",
  "email-off": "two-factor.done-email-off",
  "two-factor-off": "two-factor.done-two-factor-off",
  "code-sent": "two-factor.email-sent",
};

/** A page asking before a change: its title and words (keys or text, as named), the form and its button. */
interface ConfirmPage {
  /** A string key. */
  title: string;
  lead: string;
  warning?: string | undefined;
  action: string;
  /** A string key. */
  button: string;
  danger: boolean;
}

/** A refusal because the thing is not (any more) in the state the form expected (409). */
function isConflict(error: unknown): boolean {
  return error instanceof AppError && error.status === 409;
}

/** "ABCDEFGH…" → ["ABCD", "EFGH", …]: keys and codes are easier to read and type in fours. */
function groupsOfFour(text: string): string[] {
  return text.match(/.{1,4}/g) ?? [];
}

/** The QR code of an otpauth URL as inline SVG, named for assistive technology; no style attribute. */
async function qrSvg(url: string, label: string): Promise<Handlebars.SafeString> {
  const svg = await QRCode.toString(url, { type: "svg", margin: 2, errorCorrectionLevel: "M" });
  const named = svg.replace("<svg ", `<svg role="img" aria-label="${Handlebars.escapeExpression(label)}" `);
  return new Handlebars.SafeString(named);
}

/** The text file of the download link: a heading, then one code a line. */
function codesFile(env: PageEnv, lang: PageLanguage, email: string, service: string, codes: string[]): string {
  const lines = [
    env.views.text(lang, "two-factor.file-heading", { email, service }),
    env.views.text(lang, "two-factor.file-note"),
    "",
    ...codes.map((code) => groupsOfFour(code).join("-")),
    "",
  ];
  return `data:text/plain;charset=utf-8,${encodeURIComponent(lines.join("\r\n"))}`;
}

/** The recovery codes, shown this once, with what turned them out (`noticeKey`). */
export async function renderRecoveryCodes(
  deps: Deps,
  env: PageEnv,
  request: FastifyRequest,
  reply: FastifyReply,
  principal: Principal,
  codes: string[],
  noticeKey: string,
): Promise<FastifyReply> {
  const context = pageContext(env, request, reply);
  const user = await deps.store.findUserById(principal.userId);
  if (!user) throw new AppError("TOKEN_REVOKED");
  return renderPage(
    env,
    request,
    reply,
    "two-factor-codes",
    { title: "two-factor.codes-title", signedIn: true },
    {
      notice: env.views.text(context.lang, noticeKey),
      codes: codes.map((code) => groupsOfFour(code).join("-")),
      download: codesFile(env, context.lang, user.email, context.origin.brand.name, codes),
    },
  );
}

export function twoFactorPages(deps: Deps, env: PageEnv): FastifyPluginAsync {
  const langOf = (request: FastifyRequest, reply: FastifyReply) => pageContext(env, request, reply).lang;

  /** A refusal of a flow in the reader's words; faults of the service go to the error handler. */
  const refused = (request: FastifyRequest, reply: FastifyReply, error: unknown, words?: Record<string, string>) =>
    refusal(env, request, reply, error, words ? { words } : {});

  const notice = (request: FastifyRequest, reply: FastifyReply, values: Record<string, unknown> = {}) =>
    noticeOf(env, request, reply, NOTICES, values);

  const accountEmail = async (principal: Principal): Promise<string> => {
    const user = await deps.store.findUserById(principal.userId);
    if (!user) throw new AppError("TOKEN_REVOKED");
    return user.email;
  };

  /** Whether turning `method` off leaves no method: 2FA goes off and the recovery codes with it. */
  const isLast = (state: TwoFactorState, method: "totp" | "email") =>
    !state.passkeys && (method === "totp" ? !state.emailOtp : !state.totp);

  const renderCodes = (
    request: FastifyRequest,
    reply: FastifyReply,
    principal: Principal,
    codes: string[],
    noticeKey: string,
  ) => renderRecoveryCodes(deps, env, request, reply, principal, codes, noticeKey);

  /** After a method is turned on: its recovery codes if it was the first, else back to the overview. */
  const afterEnable = (
    request: FastifyRequest,
    reply: FastifyReply,
    principal: Principal,
    codes: string[],
    method: "totp" | "email",
  ) => {
    if (codes.length > 0) return renderCodes(request, reply, principal, codes, `two-factor.done-${method}-on`);
    return reply.redirect(`${BASE}?done=${method}-on`, 303);
  };

  /** After a method is turned off: the overview, saying whether 2FA went off with it. */
  const afterDisable = async (reply: FastifyReply, principal: Principal, method: "totp" | "email") => {
    const state = await twoFactorState(deps.flow, principal.userId);
    return reply.redirect(`${BASE}?done=${state.enabled ? `${method}-off` : "two-factor-off"}`, 303);
  };

  /**
   * The pending secret's URL, to show the QR code again after a wrong code: only to a caller who could
   * have made it (setup's requirement), never on the access token alone while 2FA is on.
   */
  const pendingUrlFor = async (request: FastifyRequest, reply: FastifyReply): Promise<string | undefined> => {
    try {
      return await pendingTotpUrl(deps.flow, await principalFor(deps, request, reply, "sudoOrAccessIf2faOff"));
    } catch (error) {
      if (error instanceof ReauthNeeded) return undefined;
      throw error;
    }
  };

  /** The second step of the authenticator app's setup: the QR code and key (on setup), the code field. */
  const renderTotpConfirm = async (
    request: FastifyRequest,
    reply: FastifyReply,
    url: string | undefined,
    shown?: Shown,
  ) => {
    const lang = langOf(request, reply);
    const secret = url === undefined ? undefined : (new URL(url).searchParams.get("secret") ?? "");
    return renderPage(
      env,
      request,
      reply,
      "two-factor-totp-setup",
      {
        // Without the QR code (no setup pending, or no right to see it again), the page is the setup's.
        title: url === undefined ? "two-factor.totp-title" : "two-factor.totp-setup-title",
        status: shown?.status ?? 200,
        signedIn: true,
      },
      {
        qr: url === undefined ? undefined : await qrSvg(url, env.views.text(lang, "two-factor.qr-label")),
        otpauthUrl: url,
        keyGroups: secret === undefined ? undefined : groupsOfFour(secret),
        error: shown?.error,
      },
    );
  };

  /** The email setup page: the address, the send form, and the code field once a code is on its way. */
  const renderEmail = async (request: FastifyRequest, reply: FastifyReply, principal: Principal, shown?: Shown) => {
    const lang = langOf(request, reply);
    const email = await accountEmail(principal);
    const row = (await deps.store.twoFactor(principal.userId)).emailOtp;
    const pending = row?.pendingEmail ?? undefined;
    const wait = row === undefined ? 0 : await emailOtpNextEmail(deps.flow, principal);
    return renderPage(
      env,
      request,
      reply,
      "two-factor-email",
      { title: "two-factor.email-title", status: shown?.status ?? 200, signedIn: true },
      {
        email,
        pending,
        waitText:
          wait > 0 ? env.views.text(lang, "two-factor.email-wait", { wait: formatWait(lang, wait) }) : undefined,
        error: shown?.error,
        notice: shown ? undefined : notice(request, reply, { email: pending ?? email }),
      },
    );
  };

  /** A page that asks before a change: what will happen, the button, and a way back. */
  const renderConfirm = (
    request: FastifyRequest,
    reply: FastifyReply,
    { title, ...page }: ConfirmPage,
    shown?: Shown,
  ) =>
    renderPage(
      env,
      request,
      reply,
      "two-factor-confirm",
      { title, status: shown?.status ?? 200, signedIn: true },
      { ...page, error: shown?.error },
    );

  return async (app) => {
    app.get(BASE, async (request, reply) => {
      const principal = await requireSignedIn(deps, request, reply);
      const lang = langOf(request, reply);
      const state = await twoFactorState(deps.flow, principal.userId);
      const email = await accountEmail(principal);
      const since = (iso: string | undefined) => (iso === undefined ? undefined : formatTime(lang, Date.parse(iso)));
      return renderPage(
        env,
        request,
        reply,
        "two-factor",
        { title: "two-factor.title", signedIn: true },
        {
          enabled: state.enabled,
          totp: state.totp ? { since: since(state.totp.completedAt) } : undefined,
          emailOtp: state.emailOtp
            ? {
                email: state.emailOtp.email,
                since: since(state.emailOtp.completedAt),
                // Codes go to the address they were set up with; offer the account's if it changed since.
                otherAddress: state.emailOtp.email === email ? undefined : email,
              }
            : undefined,
          recoveryCodes: state.recoveryCodes
            ? { remaining: state.recoveryCodes.remaining, total: RECOVERY_CODE_COUNT }
            : undefined,
          // Passkeys where the relying party is configured; their own pages list and change them.
          passkeysOn: passkeysEnabled(deps.flow),
          passkeys: state.passkeys
            ? {
                countText: env.views.text(
                  lang,
                  state.passkeys.count === 1 ? "passkeys.count-one" : "passkeys.count-many",
                  {
                    count: state.passkeys.count,
                  },
                ),
                since: since(state.passkeys.completedAt),
              }
            : undefined,
          notice: notice(request, reply),
        },
      );
    });

    // The authenticator app: what will happen, then the setup form (sudo once 2FA is on, as the API).
    app.get(`${BASE}/totp`, async (request, reply) => {
      const principal = await principalFor(deps, request, reply, "sudoOrAccessIf2faOff");
      const state = await twoFactorState(deps.flow, principal.userId);
      return renderPage(
        env,
        request,
        reply,
        "two-factor-totp",
        { title: "two-factor.totp-title", signedIn: true },
        { replacing: state.totp !== undefined },
      );
    });

    // The pending secret is kept sealed on the server and cannot be read back as a URL, so the QR code
    // and key are the answer to this form (not a redirect): the secret never travels in a URL.
    app.post(`${BASE}/totp/setup`, async (request, reply) => {
      const principal = await principalFor(deps, request, reply, "sudoOrAccessIf2faOff");
      const { url } = await setupTotp(deps.flow, principal);
      return renderTotpConfirm(request, reply, url);
    });

    app.post(`${BASE}/totp/enable`, async (request, reply) => {
      const form = formFields(request.body, { code: FIELD.code });
      const principal = await principalFor(deps, request, reply, "access");
      let codes: string[];
      try {
        codes = await enableTotp(deps.flow, principal, form.code.replace(/\s/g, ""));
      } catch (error) {
        const shown = refused(request, reply, error, { TOTP_UNINITIALIZED: "two-factor.totp-no-pending" });
        return renderTotpConfirm(request, reply, await pendingUrlFor(request, reply), shown);
      }
      return afterEnable(request, reply, principal, codes, "totp");
    });

    // Codes by email, to the account's address.
    app.get(`${BASE}/email`, async (request, reply) => {
      const principal = await principalFor(deps, request, reply, "sudoOrAccessIf2faOff");
      return renderEmail(request, reply, principal);
    });

    app.post(`${BASE}/email/setup`, async (request, reply) => {
      const principal = await principalFor(deps, request, reply, "sudoOrAccessIf2faOff");
      const context = pageContext(env, request, reply);
      try {
        await setupEmailOtp(deps.flow, principal, await accountEmail(principal), {
          origin: context.origin.name,
          language: context.lang,
        });
      } catch (error) {
        return renderEmail(request, reply, principal, refused(request, reply, error));
      }
      return reply.redirect(`${BASE}/email?done=code-sent`, 303);
    });

    app.post(`${BASE}/email/enable`, async (request, reply) => {
      const form = formFields(request.body, { code: FIELD.code });
      const principal = await principalFor(deps, request, reply, "access");
      let codes: string[];
      try {
        codes = await enableEmailOtp(deps.flow, principal, form.code.replace(/\s/g, ""));
      } catch (error) {
        const shown = refused(request, reply, error, { EMAIL_OTP_UNINITIALIZED: "two-factor.email-no-pending" });
        return renderEmail(request, reply, principal, shown);
      }
      return afterEnable(request, reply, principal, codes, "email");
    });

    // Turning a method off: sudo, as DELETE /user/2fa/totp and /user/2fa/email-otp.
    const offPage = async (request: FastifyRequest, reply: FastifyReply, method: "totp" | "email") => {
      const principal = await principalFor(deps, request, reply, "sudo");
      const state = await twoFactorState(deps.flow, principal.userId);
      const active = method === "totp" ? state.totp : state.emailOtp;
      if (!active) return reply.redirect(BASE, 303);
      const lang = langOf(request, reply);
      return renderConfirm(request, reply, {
        title: `two-factor.${method}-off-title`,
        lead: env.views.text(lang, `two-factor.${method}-off-lead`, { email: state.emailOtp?.email }),
        warning: isLast(state, method) ? env.views.text(lang, "two-factor.last-method") : undefined,
        action: `${BASE}/${method}/off`,
        button: `two-factor.${method}-off-button`,
        danger: true,
      });
    };
    const turnOff = async (request: FastifyRequest, reply: FastifyReply, method: "totp" | "email") => {
      const principal = await principalFor(deps, request, reply, "sudo");
      try {
        await (method === "totp" ? disableTotp : deactivateEmailOtp)(deps.flow, principal);
      } catch (error) {
        // Already off (another tab, another device): the overview says how things are.
        if (isConflict(error)) return reply.redirect(BASE, 303);
        throw error;
      }
      return afterDisable(reply, principal, method);
    };
    app.get(`${BASE}/totp/off`, (request, reply) => offPage(request, reply, "totp"));
    app.post(`${BASE}/totp/off`, (request, reply) => turnOff(request, reply, "totp"));
    app.get(`${BASE}/email/off`, (request, reply) => offPage(request, reply, "email"));
    app.post(`${BASE}/email/off`, (request, reply) => turnOff(request, reply, "email"));

    // New recovery codes: sudo, as POST /user/2fa/recovery-code/reset.
    app.get(`${BASE}/recovery-codes`, async (request, reply) => {
      const principal = await principalFor(deps, request, reply, "sudo");
      const state = await twoFactorState(deps.flow, principal.userId);
      if (!state.enabled) return reply.redirect(BASE, 303);
      const lang = langOf(request, reply);
      return renderConfirm(request, reply, {
        title: "two-factor.recovery-title",
        lead: env.views.text(lang, "two-factor.recovery-lead", {
          remaining: state.recoveryCodes?.remaining ?? 0,
          total: RECOVERY_CODE_COUNT,
        }),
        action: `${BASE}/recovery-codes`,
        button: "two-factor.recovery-button",
        danger: false,
      });
    });

    app.post(`${BASE}/recovery-codes`, async (request, reply) => {
      const principal = await principalFor(deps, request, reply, "sudo");
      let codes: string[];
      try {
        codes = await resetRecoveryCodes(deps.flow, principal);
      } catch (error) {
        // 2FA went off meanwhile: there are no codes to renew.
        if (isConflict(error)) return reply.redirect(BASE, 303);
        throw error;
      }
      return renderCodes(request, reply, principal, codes, "two-factor.codes-new");
    });
  };
}
