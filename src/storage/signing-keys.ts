/** Signing keys: the keys tokens are signed with, published before they sign. */

/**
 * EdDSA (Ed25519) signs Latchkey's own tokens; RS256 (RSA, 2048 bits) the OpenID provider's ID
 * tokens, as OpenID Connect requires every provider to offer.
 */
export type SigningAlgorithm = "EdDSA" | "RS256";

export interface SigningKeyRecord {
  kid: string;
  alg: SigningAlgorithm;
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
   * Stores `key` only if the table holds no key of its algorithm, atomically across nodes (of nodes
   * starting together on an empty database, one creates the first key); whether it was stored.
   */
  insertFirstSigningKey(key: SigningKeyRecord): Promise<boolean>;
  /**
   * Deletes, in one statement, every key that a later key of the same algorithm replaced at or
   * before `cutoff` (the replacement's activation time): those older than the key of their algorithm
   * that was signing at `cutoff`.
   */
  deleteSigningKeysRetiredBefore(cutoff: number): Promise<number>;
  /** Replaces a key's stored private key if it is still `from` (a conditional UPDATE); true when replaced. */
  swapSigningKeyPrivate(swap: SigningKeySwap): Promise<boolean>;
}
