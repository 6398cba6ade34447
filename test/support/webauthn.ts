import { createHash, generateKeyPairSync, type KeyObject, randomBytes, randomInt, sign } from "node:crypto";
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from "@simplewebauthn/server";
import { isoBase64URL, isoCBOR } from "@simplewebauthn/server/helpers";

/** Authenticator data flags (WebAuthn §6.1). */
const UP = 0x01;
const UV = 0x04;
const BE = 0x08;
const BS = 0x10;
const AT = 0x40;

/** A credential the authenticator holds: its id (base64url), its private key and what it was made for. */
export interface SoftCredential {
  id: string;
  rpId: string;
  privateKey: KeyObject;
  /** The user handle (base64url) the relying party gave at registration. */
  userHandle: string;
  counter: number;
  discoverable: boolean;
}

/** Ways to make a response a real authenticator or browser would not (or a hostile client would). */
export interface Tamper {
  /** clientDataJSON.origin instead of the authenticator's. */
  origin?: string;
  /** The RP id hashed into authenticator data instead of the options'. */
  rpId?: string;
  /** clientDataJSON.challenge (base64url) instead of the options'. */
  challenge?: string;
  /** The signature counter to report (and keep) instead of the next one. */
  counter?: number;
  userVerified?: boolean;
  userPresent?: boolean;
  /** Assertion: the held credential to use whatever allowCredentials says. Registration: re-register
   * a held credential (same id and key), or make a new one with this id. */
  credentialId?: string;
  /** The credential's `type` instead of "public-key". */
  type?: string;
  /** Sign the assertion with this private key instead of the credential's. */
  signWith?: KeyObject;
}

export interface SoftAuthenticatorOptions {
  /** The origin the "browser" reports in clientDataJSON, e.g. "http://latchkey.test". */
  origin: string;
  /** Set the backup-eligible and backed-up flags (a synced passkey). */
  backedUp?: boolean;
  transports?: string[];
}

const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest();

function uint32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}

/** A fresh ES256 (P-256) private key. */
export function newSigningKey(): KeyObject {
  return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
}

/** The COSE_Key (EC2, ES256, P-256) of a private key's public half. */
function coseKey(privateKey: KeyObject): Uint8Array {
  const jwk = privateKey.export({ format: "jwk" });
  return isoCBOR.encode(
    new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, isoBase64URL.toBuffer(jwk.x ?? "")],
      [-3, isoBase64URL.toBuffer(jwk.y ?? "")],
    ]),
  );
}

/**
 * A software WebAuthn authenticator with its browser: answers the JSON options Latchkey hands out
 * with the JSON responses `navigator.credentials.create()/get()` would give, "none" attestation,
 * ES256 keys. It keeps the credentials it makes, with their signature counters.
 */
export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];

  constructor(private readonly options: SoftAuthenticatorOptions) {}

  private flags(tamper: Tamper, extra = 0): number {
    let flags = extra;
    if (tamper.userPresent !== false) flags |= UP;
    if (tamper.userVerified !== false) flags |= UV;
    if (this.options.backedUp) flags |= BE | BS;
    return flags;
  }

  private clientData(type: string, challenge: string, tamper: Tamper): string {
    const json = JSON.stringify({
      type,
      challenge: tamper.challenge ?? challenge,
      origin: tamper.origin ?? this.options.origin,
      crossOrigin: false,
    });
    return isoBase64URL.fromUTF8String(json);
  }

  /** `navigator.credentials.create()`: makes (and keeps) a credential for the options' RP and user. */
  register(options: PublicKeyCredentialCreationOptionsJSON, tamper: Tamper = {}): RegistrationResponseJSON {
    const rpId = tamper.rpId ?? options.rp.id ?? new URL(this.options.origin).hostname;
    const held = this.credentials.find((c) => c.id === tamper.credentialId);
    const credential: SoftCredential = held ?? {
      id: tamper.credentialId ?? isoBase64URL.fromBuffer(randomBytes(randomInt(16, 33))),
      rpId,
      privateKey: newSigningKey(),
      userHandle: options.user.id,
      counter: tamper.counter ?? 0,
      discoverable: options.authenticatorSelection?.residentKey !== "discouraged",
    };
    if (!held) this.credentials.push(credential);

    const rawId = isoBase64URL.toBuffer(credential.id);
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(rawId.length);
    const authData = Buffer.concat([
      sha256(rpId),
      Buffer.of(this.flags(tamper, AT)),
      uint32(credential.counter),
      Buffer.alloc(16), // AAGUID: none
      idLength,
      rawId,
      coseKey(credential.privateKey),
    ]);
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Uint8Array | Map<string, string>>([
        ["fmt", "none"],
        ["attStmt", new Map<string, string>()],
        ["authData", authData],
      ]),
    );
    return {
      id: credential.id,
      rawId: credential.id,
      type: (tamper.type ?? "public-key") as "public-key",
      response: {
        clientDataJSON: this.clientData("webauthn.create", options.challenge, tamper),
        attestationObject: isoBase64URL.fromBuffer(attestationObject),
        transports: (this.options.transports ?? ["internal"]) as RegistrationResponseJSON["response"]["transports"],
      },
      authenticatorAttachment: "platform",
      clientExtensionResults: {},
    };
  }

  /** `navigator.credentials.get()`: signs the challenge with an allowed credential, or with a
   * discoverable one for the RP when the list is empty. */
  assert(options: PublicKeyCredentialRequestOptionsJSON, tamper: Tamper = {}): AuthenticationResponseJSON {
    const rpId = options.rpId ?? new URL(this.options.origin).hostname;
    const allowed = options.allowCredentials ?? [];
    const credential =
      tamper.credentialId !== undefined
        ? this.credentials.find((c) => c.id === tamper.credentialId)
        : allowed.length > 0
          ? this.credentials.find((c) => allowed.some((a) => a.id === c.id))
          : this.credentials.findLast((c) => c.discoverable && c.rpId === rpId);
    if (!credential) throw new Error("the authenticator holds no credential for these options");

    credential.counter = tamper.counter ?? credential.counter + 1;
    const authData = Buffer.concat([
      sha256(tamper.rpId ?? rpId),
      Buffer.of(this.flags(tamper)),
      uint32(credential.counter),
    ]);
    const clientDataJSON = this.clientData("webauthn.get", options.challenge, tamper);
    const signed = Buffer.concat([authData, sha256(isoBase64URL.toBuffer(clientDataJSON))]);
    const signature = sign("sha256", signed, tamper.signWith ?? credential.privateKey);
    return {
      id: credential.id,
      rawId: credential.id,
      type: (tamper.type ?? "public-key") as "public-key",
      response: {
        clientDataJSON,
        authenticatorData: isoBase64URL.fromBuffer(authData),
        signature: isoBase64URL.fromBuffer(signature),
        userHandle: credential.userHandle,
      },
      authenticatorAttachment: "platform",
      clientExtensionResults: {},
    };
  }

  /** The held credential with this id (throws when there is none). */
  credential(id: string): SoftCredential {
    const found = this.credentials.find((c) => c.id === id);
    if (!found) throw new Error(`no credential ${id}`);
    return found;
  }
}
