import { Type } from "@sinclair/typebox";

/** `{}`: the endpoints that take no input still refuse unknown properties (§1). */
export const EmptyBody = Type.Object({}, { additionalProperties: false });

export const TotpBody = Type.Object(
  { totp: Type.String({ minLength: 6, maxLength: 6, description: "The 6-digit code of the authenticator app." }) },
  { additionalProperties: false },
);

export const RecoveryCodeBody = Type.Object(
  {
    recoveryCode: Type.String({
      minLength: 1,
      maxLength: 64,
      description: "16 characters; lower case, spaces and dashes are accepted.",
    }),
  },
  { additionalProperties: false },
);

export const TotpSetupResponse = Type.Object(
  { url: Type.String({ description: "otpauth:// Key URI for authenticator apps." }) },
  { additionalProperties: false },
);

export const RecoveryCodesResponse = Type.Object(
  { recoveryCodes: Type.Array(Type.String(), { description: "Shown once; empty when not newly created." }) },
  { additionalProperties: false },
);

export const SessionTokensResponse = Type.Object(
  { accessToken: Type.String(), refreshToken: Type.String(), sudoToken: Type.String() },
  { additionalProperties: false },
);

export const DurationResponse = Type.Object(
  { duration: Type.Integer({ minimum: 0, description: "Whole seconds until the next attempt is allowed." }) },
  { additionalProperties: false },
);

const CompletedAt = Type.String({ format: "date-time" });

export const TwoFactorStateResponse = Type.Object(
  {
    enabled: Type.Boolean(),
    emailOtp: Type.Optional(Type.Object({ email: Type.String(), completedAt: CompletedAt })),
    totp: Type.Optional(Type.Object({ completedAt: CompletedAt })),
    recoveryCodes: Type.Optional(Type.Object({ completedAt: CompletedAt, remaining: Type.Integer({ minimum: 0 }) })),
    passkeys: Type.Optional(
      Type.Object({
        completedAt: Type.String({ format: "date-time", description: "When the first passkey still kept was added." }),
        count: Type.Integer({ minimum: 1 }),
      }),
    ),
  },
  { additionalProperties: false, description: "Active methods; an absent method is inactive." },
);

type SecurityRequirement = Record<string, string[]>[];

/** OpenAPI security requirements (schemes declared in http/plugins/openapi.ts), per guard requirement. */
export const SECURITY: Record<"access" | "accessOrPartial" | "sudo" | "sudoOrAccessIf2faOff", SecurityRequirement> = {
  access: [{ accessToken: [] }],
  accessOrPartial: [{ accessToken: [] }, { partialToken: [] }],
  sudo: [{ sudoToken: [] }],
  sudoOrAccessIf2faOff: [{ sudoToken: [] }, { accessToken: [] }],
};
