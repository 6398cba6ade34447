/**
 * The OAuth clients: the applications that sign in with Latchkey. A client's id is its client_id;
 * a confidential client has a secret, of which only the SHA-256 is stored; a public client has none.
 */

export type IdTokenSigningAlg = "RS256" | "EdDSA";

export interface OAuthClientRecord {
  /** The client_id. */
  id: string;
  name: string;
  /** SHA-256 (hex) of the client secret; null for a public client. */
  secretHash: string | null;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  scopes: string[];
  /** An application of the operator's own. */
  firstParty: boolean;
  /** How its ID tokens are signed: RS256 unless the client asked for EdDSA. */
  idTokenSigningAlg: IdTokenSigningAlg;
  createdAt: number;
  updatedAt: number;
}

/** What an update may change; the fields left out keep their value. */
export interface OAuthClientChanges {
  name?: string | undefined;
  redirectUris?: string[] | undefined;
  postLogoutRedirectUris?: string[] | undefined;
  scopes?: string[] | undefined;
  firstParty?: boolean | undefined;
  idTokenSigningAlg?: IdTokenSigningAlg | undefined;
  /** The time of the change. */
  updatedAt: number;
}

export interface ClientQuery {
  offset: number;
  limit: number;
}

export interface ClientPage {
  clients: OAuthClientRecord[];
  total: number;
}

export interface ClientStore {
  /** Stores a new client; ids are random (16 bytes), so a clash is a fault and throws. */
  insertClient(client: OAuthClientRecord): Promise<void>;
  findClient(id: string): Promise<OAuthClientRecord | undefined>;
  /** Clients newest first (ties by id), with their count. */
  listClients(query: ClientQuery): Promise<ClientPage>;
  /** One UPDATE of the fields given; the updated record, or undefined when there is no such client. */
  updateClient(id: string, changes: OAuthClientChanges): Promise<OAuthClientRecord | undefined>;
  /**
   * Replaces the secret's hash of a confidential client: `… WHERE id = ? AND secret_hash IS NOT NULL`,
   * so a public client never gets one. False when no such confidential client exists.
   */
  setClientSecretHash(id: string, secretHash: string, updatedAt: number): Promise<boolean>;
  /** False when there is no such client. */
  deleteClient(id: string): Promise<boolean>;
}
