import { type TSchema, Type } from "@sinclair/typebox";

/**
 * The WebAuthn JSON of a passkey ceremony (WebAuthn Level 3 §5.1, `PublicKeyCredential.toJSON()`),
 * with every string bounded: a response that does not fit is a 400 before anything is looked at.
 */
const Base64Url = (maxLength: number, description?: string) =>
  Type.String({ maxLength, pattern: "^[A-Za-z0-9_-]*$", ...(description ? { description } : {}) });

/** Credential ids are at most 1023 bytes (WebAuthn §5.8.3), 1364 characters of base64url. */
const CredentialId = Base64Url(1364, "The credential id, base64url.");
const Transports = Type.Array(Type.String({ maxLength: 32 }), { maxItems: 8 });
const ClientExtensionResults = Type.Object({}, { additionalProperties: true, maxProperties: 16 });
const Common = {
  id: CredentialId,
  rawId: CredentialId,
  type: Type.Literal("public-key"),
  authenticatorAttachment: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
  clientExtensionResults: ClientExtensionResults,
};

export const RegistrationCredential = Type.Object(
  {
    ...Common,
    response: Type.Object(
      {
        clientDataJSON: Base64Url(4096),
        attestationObject: Base64Url(16_384),
        authenticatorData: Type.Optional(Base64Url(8192)),
        transports: Type.Optional(Transports),
        publicKeyAlgorithm: Type.Optional(Type.Integer()),
        publicKey: Type.Optional(Base64Url(4096)),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, description: "What navigator.credentials.create() answered, as JSON." },
);

export const AuthenticationCredential = Type.Object(
  {
    ...Common,
    response: Type.Object(
      {
        clientDataJSON: Base64Url(4096),
        authenticatorData: Base64Url(8192),
        signature: Base64Url(2048),
        userHandle: Type.Optional(Type.Union([Base64Url(128), Type.Null()])),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, description: "What navigator.credentials.get() answered, as JSON." },
);

/** A name people give a passkey: not blank, no control characters. */
const PasskeyName = Type.String({ minLength: 1, maxLength: 64, pattern: "^(?=.*\\S)[^\\u0000-\\u001f\\u007f]*$" });

export const PasskeyEnableBody = Type.Object(
  { credential: RegistrationCredential, name: Type.Optional(PasskeyName) },
  { additionalProperties: false },
);

export const PasskeyAuthenticateBody = Type.Object(
  { credential: AuthenticationCredential },
  { additionalProperties: false },
);

export const PasskeyRenameBody = Type.Object({ name: PasskeyName }, { additionalProperties: false });

/** A passkey's id in a path: a credential id as it is stored (base64url), checked before any lookup. */
export const PasskeyParams = Type.Object({
  passkeyId: Type.String({
    minLength: 1,
    maxLength: 1364,
    pattern: "^[A-Za-z0-9_-]*$",
    description: "The credential id, base64url.",
  }),
});

export const Passkey = Type.Object(
  {
    passkeyId: Type.String(),
    name: Type.String(),
    createdAt: Type.String({ format: "date-time" }),
    lastUsedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
    backedUp: Type.Boolean({ description: "Synced to the user's other devices." }),
    transports: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);

export const PasskeyEnableResponse = Type.Object(
  {
    passkey: Passkey,
    recoveryCodes: Type.Array(Type.String(), { description: "Shown once; empty when not newly created." }),
  },
  { additionalProperties: false },
);

export const PasskeyList = Type.Object({ passkeys: Type.Array(Passkey) }, { additionalProperties: false });

const Descriptor = Type.Object({
  id: Type.String(),
  type: Type.Literal("public-key"),
  transports: Type.Optional(Type.Array(Type.String())),
});

/** Options for navigator.credentials.create(), as JSON (PublicKeyCredentialCreationOptionsJSON). */
export const CreationOptions: TSchema = Type.Object(
  {
    challenge: Type.String(),
    rp: Type.Object({ id: Type.Optional(Type.String()), name: Type.String() }),
    user: Type.Object({ id: Type.String(), name: Type.String(), displayName: Type.String() }),
    pubKeyCredParams: Type.Array(Type.Object({ alg: Type.Integer(), type: Type.Literal("public-key") })),
    timeout: Type.Optional(Type.Integer()),
    excludeCredentials: Type.Optional(Type.Array(Descriptor)),
    authenticatorSelection: Type.Optional(Type.Object({}, { additionalProperties: true })),
    attestation: Type.Optional(Type.String()),
    hints: Type.Optional(Type.Array(Type.String())),
    extensions: Type.Optional(Type.Object({}, { additionalProperties: true })),
  },
  { description: "Hand to navigator.credentials.create({publicKey}) after decoding the base64url fields." },
);

/** Options for navigator.credentials.get(), as JSON (PublicKeyCredentialRequestOptionsJSON). */
export const RequestOptions: TSchema = Type.Object(
  {
    challenge: Type.String(),
    rpId: Type.Optional(Type.String()),
    timeout: Type.Optional(Type.Integer()),
    allowCredentials: Type.Optional(Type.Array(Descriptor)),
    userVerification: Type.Optional(Type.String()),
    hints: Type.Optional(Type.Array(Type.String())),
    extensions: Type.Optional(Type.Object({}, { additionalProperties: true })),
  },
  { description: "Hand to navigator.credentials.get({publicKey}) after decoding the base64url fields." },
);
