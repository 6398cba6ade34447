/**
 * What an ID token says of a sign-in, from what proved the Latchkey session behind it: `amr`
 * (RFC 8176 values) and `acr` (Latchkey's two levels).
 */
import type { AuthMethod } from "../storage/store.js";

/** A password alone (or a session whose methods were not kept). */
export const ACR_PASSWORD = "urn:latchkey:acr:pwd";
/** Two factors: a password and a second factor, or a passkey (a device, unlocked by its user). */
export const ACR_MFA = "urn:latchkey:acr:mfa";
export const ACR_VALUES = [ACR_PASSWORD, ACR_MFA] as const;

const AMR: Record<AuthMethod, readonly string[]> = {
  password: ["pwd"],
  totp: ["otp"],
  email_otp: ["otp"],
  recovery_code: ["otp"],
  passkey: ["hwk", "user"],
};

/** RFC 8176 method references, each once, with `mfa` where more than one factor was used. */
export function amrOf(methods: readonly AuthMethod[]): string[] {
  const refs = new Set<string>();
  for (const method of methods) for (const ref of AMR[method]) refs.add(ref);
  if (refs.size === 0) refs.add("pwd");
  if (isMultiFactor(methods)) refs.add("mfa");
  return [...refs];
}

export function acrOf(methods: readonly AuthMethod[]): string {
  return isMultiFactor(methods) ? ACR_MFA : ACR_PASSWORD;
}

function isMultiFactor(methods: readonly AuthMethod[]): boolean {
  return methods.includes("passkey") || (methods.includes("password") && methods.length > 1);
}
