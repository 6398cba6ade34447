import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import { BadRequestError } from "../../core/errors.js";

/**
 * The mail query of §1 on every mail-sending endpoint. Both values only ever select an entry of the
 * mail catalog loaded at startup (never a path); the patterns refuse anything else up front, so a
 * bad value is a 400 before any work: CR/LF, "/", "..", a language that is not two letters.
 */
export const MailQuery = Type.Object(
  {
    origin: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        pattern: "^(?!.*\\.\\.)[A-Za-z0-9][A-Za-z0-9._-]*$",
        description: "Names a mail configuration (sender, templates, links); omitted → the default one.",
      }),
    ),
    language: Type.Optional(
      Type.String({
        minLength: 2,
        maxLength: 2,
        pattern: "^[A-Za-z]{2}$",
        description: "Two-letter language code; without a template in it the origin's default language is used.",
      }),
    ),
  },
  { additionalProperties: false },
);

/** An address (§1: email format, ≤ 256 characters). The format admits no whitespace, so no CR/LF. */
export const EmailAddress = Type.String({ format: "email", maxLength: 256 });

/** A mailed code (§1: exactly 6 characters). */
export const Otp = Type.String({ minLength: 6, maxLength: 6, description: "The 6-digit code from the mail." });

export const EmailBody = Type.Object({ email: EmailAddress }, { additionalProperties: false });
export const OtpBody = Type.Object({ otp: Otp }, { additionalProperties: false });

/**
 * For routes declared with `attachValidation`: a bad `email` field answers 400 "Invalid email address"
 * (the contract's message for email OTP setup); any other validation failure keeps the validator's message.
 */
export function throwValidationError(request: FastifyRequest): void {
  const error = request.validationError;
  if (error === undefined || error === null) return;
  const issues = (error.validation ?? []) as { instancePath?: string }[];
  if (error.validationContext === "body" && issues.some((issue) => issue.instancePath === "/email")) {
    throw new BadRequestError("Invalid email address");
  }
  throw error;
}
