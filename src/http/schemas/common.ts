import { type TSchema, Type } from "@sinclair/typebox";

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String(),
    retryAfter: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { $id: "ErrorResponse", description: "The error envelope (§1)." },
);

export const ErrorRef = Type.Ref("ErrorResponse");

/** `?cookie=true` on the token-issuing endpoints. */
export const CookieQuery = Type.Object(
  { cookie: Type.Optional(Type.Boolean({ description: "Also set the token as an HttpOnly cookie." })) },
  { additionalProperties: false },
);

/** Token-issuing endpoints answer text/plain with the bare token (§1). */
export const TokenText = {
  description: "The bare token (text/plain).",
  content: { "text/plain": { schema: Type.String() } },
} as const;

export const UserIdResponse = Type.Object({ userId: Type.Integer() }, { additionalProperties: false });

export const NoContent = Type.Null({ description: "No content." });

/** The error responses a route may give, all in the envelope. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((status) => [status, ErrorRef]));
}
