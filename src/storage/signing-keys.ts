/** Signing keys: the keys tokens are signed with, published before they sign. */

export interface SigningKeyRecord {
  kid: string;
  /**
   * The PKCS#8 PEM sealed with the encryption keyring (aad `signing-key:<kid>`). A row stored by a
   * version before sealing holds the plain PEM until a node seals it.
   */
  privateKeyEnc: string;
  publicPem: string;
  createdAt: number;
  /** From when the key signs; it is published (JWKS) from the moment it is stored. */
  activatesAt: number;
}

/** A key's stored private key, from the value read to its replacement. */
export interface SigningKeySwap {
  kid: string;
  from: string;
  to: string;
}

export interface SigningKeyStore {
  /** Every key, oldest first. */
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  insertSigningKey(key: SigningKeyRecord): Promise<void>;
  /**
   * Stores `key` only if the table holds no key, atomically across nodes (of nodes starting together
   * on an empty database, one creates the first key); whether it was stored.
   */
  insertFirstSigningKey(key: SigningKeyRecord): Promise<boolean>;
  /**
   * Deletes, in one statement, every key that a later key replaced at or before `cutoff` (the
   * replacement's activation time): those older than the key that was signing at `cutoff`.
   */
  deleteSigningKeysRetiredBefore(cutoff: number): Promise<number>;
  /** Replaces a key's stored private key if it is still `from` (a conditional UPDATE); true when replaced. */
  swapSigningKeyPrivate(swap: SigningKeySwap): Promise<boolean>;
}
