import { needsReencrypt, SecretDecryptError } from "../secrets/keyring.js";
import { signingKeyAad, storedInClear } from "../tokens/signing-keys.js";
import type { FlowContext } from "./context.js";
import { totpAad } from "./two-factor/totp.js";

export interface ReencryptReport {
  checked: number;
  reencrypted: number;
  /** Secrets that no configured key opens (left as they are; TOTP ones answer TOTP_CORRUPT). */
  unreadable: number;
}

/**
 * `latchkey keys reencrypt`: moves every sealed TOTP secret to the active encryption key, so an old
 * key can be removed from LATCHKEY_ENCRYPTION_KEYS afterwards. Each swap is conditional on the
 * ciphertext still being the one read, so a concurrent setup is never overwritten.
 */
export async function reencryptTotpSecrets(flow: FlowContext): Promise<ReencryptReport> {
  const report: ReencryptReport = { checked: 0, reencrypted: 0, unreadable: 0 };
  for (const row of await flow.store.listSealedTotpSecrets()) {
    for (const [pending, sealed] of [
      [false, row.secretEnc],
      [true, row.pendingSecretEnc],
    ] as const) {
      if (sealed === null) continue;
      report.checked++;
      try {
        if (!needsReencrypt(sealed, flow.keyring)) continue;
        const aad = totpAad(row.userId);
        const to = flow.keyring.encrypt(flow.keyring.decrypt(sealed, aad), aad, flow.random);
        if (await flow.store.swapSealedTotpSecret({ userId: row.userId, pending, from: sealed, to }))
          report.reencrypted++;
      } catch (error) {
        if (!(error instanceof SecretDecryptError)) throw error;
        report.unreadable++;
      }
    }
  }
  return report;
}

/**
 * `latchkey keys reencrypt`, for the signing keys: moves every sealed private key to the active
 * encryption key, each swap conditional on the stored value still being the one read. A key still
 * stored in clear (nodes seal those as they load them) is sealed here as well.
 */
export async function reencryptSigningKeys(flow: FlowContext): Promise<ReencryptReport> {
  const report: ReencryptReport = { checked: 0, reencrypted: 0, unreadable: 0 };
  for (const key of await flow.store.listSigningKeys()) {
    report.checked++;
    try {
      const inClear = storedInClear(key.privateKeyEnc);
      if (!inClear && !needsReencrypt(key.privateKeyEnc, flow.keyring)) continue;
      const aad = signingKeyAad(key.kid);
      const plain = inClear ? Buffer.from(key.privateKeyEnc) : flow.keyring.decrypt(key.privateKeyEnc, aad);
      const to = flow.keyring.encrypt(plain, aad, flow.random);
      if (await flow.store.swapSigningKeyPrivate({ kid: key.kid, from: key.privateKeyEnc, to })) report.reencrypted++;
    } catch (error) {
      if (!(error instanceof SecretDecryptError)) throw error;
      report.unreadable++;
    }
  }
  return report;
}
