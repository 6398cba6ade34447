/**
 * What the passkey forms of the pages share. A ceremony on a page is the API's three steps with the
 * page session: the page's script POSTs the form's CSRF token to an `…/options` route and gets the
 * options as JSON (the challenge stays on the server, as the API keeps it), hands them to the
 * browser, and posts the browser's answer back as the form's `credential` field (its JSON). That
 * field is read here with the API's own schema, so a page accepts exactly what the API accepts.
 */
import type { Static, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { FastifyReply, FastifyRequest } from "fastify";
import { AppError, BadRequestError } from "../../core/errors.js";
import { AuthenticationCredential, RegistrationCredential } from "../schemas/passkeys.js";
import { describeError, type PageEnv, pageContext } from "./page.js";
import { SignInNeeded } from "./session.js";

/** The longest `credential` field: an assertion is small, an attestation object may be 16 KiB of base64url. */
export const CREDENTIAL_LIMIT = { assertion: 16 * 1024, attestation: 32 * 1024 } as const;

/** The body limit of the routes that take a credential (the pages' forms otherwise take 16 KiB). */
export const PASSKEY_BODY_LIMIT = 64 * 1024;

/** The longest name a passkey may have, as the API. */
export const PASSKEY_NAME_MAX = 64;

function readJson<S extends TSchema>(schema: S, text: string): Static<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError("PASSKEY_RESPONSE_MALFORMED");
  }
  if (!Value.Check(schema, value)) throw new AppError("PASSKEY_RESPONSE_MALFORMED");
  return value;
}

/** The browser's answer to `navigator.credentials.get()`, from the form's `credential` field. */
export function assertionOf(text: string): Static<typeof AuthenticationCredential> {
  return readJson(AuthenticationCredential, text);
}

/** The browser's answer to `navigator.credentials.create()`, from the form's `credential` field. */
export function attestationOf(text: string): Static<typeof RegistrationCredential> {
  return readJson(RegistrationCredential, text);
}

/**
 * A passkey's name as typed: trimmed; empty means "the default name" (undefined). A name with
 * control characters is refused as the API refuses it.
 */
export function passkeyNameOf(text: string): string | undefined {
  const trimmed = text.trim();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) throw new AppError("PASSKEY_NAME_INVALID");
  return trimmed === "" ? undefined : trimmed;
}

/**
 * Answers an options route: the options as JSON, or a refusal as `{message}` in the reader's words
 * with its status (and Retry-After), for the script to show. A sign-in that is over is a refusal too
 * ("your session has ended"); a change that needs a second factor checked again goes to the error
 * handler, whose redirect to /reauth the script follows.
 */
export async function optionsReply(
  env: PageEnv,
  request: FastifyRequest,
  reply: FastifyReply,
  make: () => Promise<object>,
): Promise<FastifyReply> {
  try {
    return reply.type("application/json; charset=utf-8").send(await make());
  } catch (error) {
    const { lang } = pageContext(env, request, reply);
    if (error instanceof SignInNeeded) {
      return reply.code(401).send({ message: env.views.text(lang, "errors.session-expired") });
    }
    if (error instanceof BadRequestError) return reply.code(400).send({ message: describeError(env, lang, error) });
    if (!(error instanceof AppError) || error.status >= 500) throw error;
    if (error.retryAfterSeconds !== undefined) reply.header("retry-after", String(error.retryAfterSeconds));
    return reply.code(error.status).send({ message: describeError(env, lang, error) });
  }
}
