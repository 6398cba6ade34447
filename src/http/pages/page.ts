/**
 * What every page handler uses: the reader's language and origin, the CSRF token, rendering a view
 * in the layout, the words of a refusal, and form fields read with their limits.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { AppError, BadRequestError } from "../../core/errors.js";
import type { Brand } from "../../mail/origin-config.js";
import { cookiesOf, PAGE_COOKIES, setPageCookie } from "./session.js";
import { isPageLanguage, PAGE_LANGUAGES, type PageLanguage, type PageViews } from "./view.js";

const YEAR_SECONDS = 365 * 86_400;

/** Each language's name in itself, for the switcher. */
const LANGUAGE_NAMES: Record<PageLanguage, string> = { en: "English", nl: "Nederlands", fr: "Français", de: "Deutsch" };

export interface PageOrigin {
  name: string;
  brand: Brand;
  defaultLanguage: string;
}

/** What the pages know of the mail origins: their look, and which exist. */
export interface PageOrigins {
  get(name: string): PageOrigin | undefined;
  readonly fallback: PageOrigin;
}

export interface PageEnv {
  views: PageViews;
  origins: PageOrigins;
  /** The exact URLs a sign-in may return to (LATCHKEY_RETURN_URLS). */
  returnUrls: ReadonlySet<string>;
  /** The origins passkeys work from (space-separated), for the pages' script; "" when passkeys are off. */
  passkeyOrigins: string;
}

/** The reader's context of one request. */
export interface PageContext {
  lang: PageLanguage;
  origin: PageOrigin;
}

/** First language of Accept-Language (by q) the pages speak, matched on its primary subtag. */
export function languageFromHeader(header: string | undefined): PageLanguage | undefined {
  if (!header) return undefined;
  const ranked = header
    .split(",")
    .slice(0, 20)
    .map((part, index) => {
      const [tag = "", ...params] = part.trim().split(";");
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { tag: tag.trim().toLowerCase(), q: q === undefined ? 1 : Number(q), index };
    })
    .filter((entry) => entry.q > 0 && Number.isFinite(entry.q))
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const { tag } of ranked) {
    const primary = tag.split("-")[0];
    if (isPageLanguage(primary)) return primary;
  }
  return undefined;
}

/**
 * The origin: `?origin=<name>` (remembered in a cookie) or the remembered one, else "default". The
 * language: `?lang=` from the switcher (remembered), the remembered one, Accept-Language, the origin's
 * default language, English.
 */
export function pageContext(env: PageEnv, request: FastifyRequest, reply: FastifyReply): PageContext {
  const query = request.query as Record<string, unknown> | undefined;
  const cookies = cookiesOf(request);
  let origin: PageOrigin | undefined;
  if (typeof query?.origin === "string") {
    origin = env.origins.get(query.origin);
    if (origin && cookies[PAGE_COOKIES.origin] !== origin.name) {
      setPageCookie(reply, PAGE_COOKIES.origin, origin.name, YEAR_SECONDS);
    }
  }
  origin ??= env.origins.get(cookies[PAGE_COOKIES.origin] ?? "") ?? env.origins.fallback;
  let lang: PageLanguage | undefined;
  if (isPageLanguage(query?.lang)) {
    lang = query.lang;
    if (cookies[PAGE_COOKIES.language] !== lang) setPageCookie(reply, PAGE_COOKIES.language, lang, YEAR_SECONDS);
  }
  const remembered = cookies[PAGE_COOKIES.language];
  lang ??= isPageLanguage(remembered) ? remembered : undefined;
  lang ??= languageFromHeader(request.headers["accept-language"]);
  lang ??= isPageLanguage(origin.defaultLanguage) ? origin.defaultLanguage : "en";
  return { lang, origin };
}

/**
 * The switcher's links: this page, in each language. A page answered to a form (a refusal shown at
 * the form's address, say /login/second-factor/send) links to the nearest page up its path that
 * can be opened, since the form's address itself answers only POST.
 */
function languageLinks(request: FastifyRequest, current: PageLanguage) {
  const url = new URL(request.url, "http://page.invalid");
  if (request.method !== "GET") {
    let path = url.pathname;
    while (path !== "/" && !request.server.hasRoute({ method: "GET", url: path })) {
      path = path.slice(0, path.lastIndexOf("/")) || "/";
    }
    url.pathname = path;
  }
  return PAGE_LANGUAGES.map((code) => {
    url.searchParams.set("lang", code);
    return { code, name: LANGUAGE_NAMES[code], href: `${url.pathname}${url.search}`, current: code === current };
  });
}

export interface RenderOptions {
  status?: number;
  /** The page's <title> and <h1>: a string key. */
  title: string;
  /** Whether the header shows the signed-in controls (sign out). */
  signedIn?: boolean;
  /** False where no form is possible (the app-wide 404): no CSRF token is made. */
  csrf?: boolean;
}

/** What the layout of every page needs: language, look, title, and the header's controls. */
export function pageFrame(
  env: PageEnv,
  context: PageContext,
  title: string,
  extra: { languages: unknown[]; csrfToken: string | undefined; signedIn: boolean },
): Record<string, unknown> {
  return {
    lang: context.lang,
    brand: context.origin.brand,
    originName: context.origin.name,
    title: env.views.text(context.lang, title),
    passkeyOrigins: env.passkeyOrigins,
    ...extra,
  };
}

/**
 * The reader's context from cookies and Accept-Language alone, for a page answered outside the
 * pages' routes (the OpenID provider's own): the remembered origin and language, else the defaults.
 */
export function contextFromHeaders(
  env: PageEnv,
  cookie: (name: string) => string | undefined,
  acceptLanguage: string | undefined,
): PageContext {
  const origin = env.origins.get(cookie(PAGE_COOKIES.origin) ?? "") ?? env.origins.fallback;
  const remembered = cookie(PAGE_COOKIES.language);
  const lang =
    (isPageLanguage(remembered) ? remembered : undefined) ??
    languageFromHeader(acceptLanguage) ??
    (isPageLanguage(origin.defaultLanguage) ? origin.defaultLanguage : "en");
  return { lang, origin };
}

/** Renders `view` in the layout, with the CSRF token every form carries. */
export function renderPage(
  env: PageEnv,
  request: FastifyRequest,
  reply: FastifyReply,
  view: string,
  options: RenderOptions,
  data: Record<string, unknown> = {},
): FastifyReply {
  const context = pageContext(env, request, reply);
  const csrfToken = options.csrf === false ? undefined : reply.generateCsrf();
  const frame = pageFrame(env, context, options.title, {
    languages: languageLinks(request, context.lang),
    csrfToken,
    signedIn: options.signedIn === true,
  });
  const html = env.views.render(view, frame, data);
  return reply
    .code(options.status ?? 200)
    .type("text/html; charset=utf-8")
    .send(html);
}

/** The string key of a refusal's words in the pages' `errors` strings. */
export function errorKey(error: unknown): string {
  if (error instanceof AppError) return `errors.${error.code}`;
  if (error instanceof BadRequestError && error.rule) return `errors.${error.rule}`;
  return "errors.INVALID_REQUEST";
}

/** A wait in the reader's language: "45 seconds", "3 minutes", "2 hours". */
export function formatWait(lang: PageLanguage, seconds: number): string {
  const whole = Math.max(1, Math.ceil(seconds));
  const [unit, amount] =
    whole < 120
      ? ["second", whole]
      : whole < 7200
        ? ["minute", Math.ceil(whole / 60)]
        : ["hour", Math.ceil(whole / 3600)];
  return new Intl.NumberFormat(lang, { style: "unit", unit, unitDisplay: "long" }).format(amount);
}

/** A refusal in words, with its wait where it has one. */
export function describeError(env: PageEnv, lang: PageLanguage, error: unknown): string {
  const message = env.views.text(lang, errorKey(error));
  if (error instanceof AppError && error.retryAfterSeconds !== undefined) {
    return `${message} ${env.views.text(lang, "errors.retry-after", { wait: formatWait(lang, error.retryAfterSeconds) })}`;
  }
  return message;
}

/** What a page shows for a refusal: its status and its words. */
export interface Shown {
  status: number;
  error: string;
}

/**
 * A refusal of a flow as a form shows it: the reader's words (`words` replaces a code's usual
 * sentence) and the wait of a 429 as a Retry-After header. Faults (5xx) are thrown on to the error
 * page, except the codes listed in `shownAsRefusal`.
 */
export function refusal(
  env: PageEnv,
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
  options: { words?: Partial<Record<string, string>>; shownAsRefusal?: readonly string[] } = {},
): Shown {
  const lang = pageContext(env, request, reply).lang;
  if (error instanceof BadRequestError) return { status: 400, error: describeError(env, lang, error) };
  if (!(error instanceof AppError)) throw error;
  if (error.status >= 500 && !options.shownAsRefusal?.includes(error.code)) throw error;
  if (error.retryAfterSeconds !== undefined) reply.header("retry-after", String(error.retryAfterSeconds));
  const key = options.words && Object.hasOwn(options.words, error.code) ? options.words[error.code] : undefined;
  return { status: error.status, error: key ? env.views.text(lang, key) : describeError(env, lang, error) };
}

/** The notice of a `?done=<word>` the page knows (`notices`: word → string key), in the reader's words. */
export function noticeOf(
  env: PageEnv,
  request: FastifyRequest,
  reply: FastifyReply,
  notices: Readonly<Record<string, string>>,
  values?: Record<string, unknown>,
): string | undefined {
  const done = (request.query as Record<string, unknown> | undefined)?.done;
  const key = typeof done === "string" && Object.hasOwn(notices, done) ? notices[done] : undefined;
  return key ? env.views.text(pageContext(env, request, reply).lang, key, values) : undefined;
}

/** A date and time in the reader's language, in UTC (the server does not know the reader's zone). */
export function formatTime(lang: PageLanguage, ms: number): string {
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }).format(ms);
}

/** A form field that is missing, not text, or longer than its limit. */
export class FormFieldError extends Error {
  constructor(readonly field: string) {
    super(`form field ${field} is missing or too long`);
    this.name = "FormFieldError";
  }
}

/**
 * The named fields of an urlencoded form, each a string of at most its limit. A missing field is
 * FormFieldError unless `optional`; an empty one is "" (the flow decides whether "" is acceptable).
 */
export function formFields<const K extends string>(
  body: unknown,
  limits: Record<K, number>,
  optional: readonly NoInfer<K>[] = [],
): Record<K, string> {
  const form = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const out = {} as Record<K, string>;
  for (const [name, limit] of Object.entries(limits) as [K, number][]) {
    const value = form[name];
    if (value === undefined && optional.includes(name)) {
      out[name] = "";
      continue;
    }
    if (typeof value !== "string" || value.length > limit) throw new FormFieldError(name);
    out[name] = value;
  }
  return out;
}

/** An OpenID provider's sign-in waiting on this browser: a local path, so always a place to return to. */
const INTERACTION_RETURN = /^\/oidc\/interaction\/[A-Za-z0-9_-]{1,64}$/;

/** Whether a sign-in may end at `target`: a URL on the allow-list, or an OpenID sign-in's page. */
export function isReturnTarget(env: PageEnv, target: string): boolean {
  return env.returnUrls.has(target) || INTERACTION_RETURN.test(target);
}

/** Where a finished sign-in goes: the remembered return URL when it is on the allow-list, else /account. */
export function afterSignIn(env: PageEnv, returnTo: string | undefined): string {
  return returnTo !== undefined && isReturnTarget(env, returnTo) ? returnTo : "/account";
}

/** A local path to come back to (`next`): a path on this server only, never another host. */
export function localPath(value: unknown, fallback: string): string {
  if (typeof value !== "string" || value.length > 200) return fallback;
  return /^\/(?![/\\])[A-Za-z0-9/_-]*(\?[A-Za-z0-9=&_-]*)?$/.test(value) ? value : fallback;
}
