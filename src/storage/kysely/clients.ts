import type { Kysely, Selectable, Updateable } from "kysely";
import type { ClientStore, OAuthClientRecord } from "../clients.js";
import type { Database, OauthClientsTable } from "./schema.js";

/** The OAuth clients over Kysely. */

function stringArray(json: string): string[] {
  try {
    const parsed: unknown = JSON.parse(json);
    return Array.isArray(parsed) ? parsed.filter((item): item is string => typeof item === "string") : [];
  } catch {
    return [];
  }
}

function toClient(row: Selectable<OauthClientsTable>): OAuthClientRecord {
  return {
    id: row.id,
    name: row.name,
    secretHash: row.secret_hash,
    redirectUris: stringArray(row.redirect_uris),
    postLogoutRedirectUris: stringArray(row.post_logout_redirect_uris),
    scopes: row.scopes.split(" ").filter((scope) => scope !== ""),
    firstParty: Number(row.first_party) === 1,
    idTokenSigningAlg: row.id_token_alg === "EdDSA" ? "EdDSA" : "RS256",
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function clientStore(db: Kysely<Database>): ClientStore {
  return {
    async insertClient(client) {
      await db
        .insertInto("oauth_clients")
        .values({
          id: client.id,
          name: client.name,
          secret_hash: client.secretHash,
          redirect_uris: JSON.stringify(client.redirectUris),
          post_logout_redirect_uris: JSON.stringify(client.postLogoutRedirectUris),
          scopes: client.scopes.join(" "),
          first_party: client.firstParty ? 1 : 0,
          id_token_alg: client.idTokenSigningAlg,
          created_at: client.createdAt,
          updated_at: client.updatedAt,
        })
        .execute();
    },

    async findClient(id) {
      const row = await db.selectFrom("oauth_clients").selectAll().where("id", "=", id).executeTakeFirst();
      return row ? toClient(row) : undefined;
    },

    async listClients(query) {
      const [rows, count] = await Promise.all([
        db
          .selectFrom("oauth_clients")
          .selectAll()
          .orderBy("created_at", "desc")
          .orderBy("id", "desc")
          .offset(query.offset)
          .limit(query.limit)
          .execute(),
        db
          .selectFrom("oauth_clients")
          .select((eb) => eb.fn.countAll<number | string>().as("n"))
          .executeTakeFirstOrThrow(),
      ]);
      return { clients: rows.map(toClient), total: Number(count.n) };
    },

    async updateClient(id, changes) {
      const set: Updateable<OauthClientsTable> = { updated_at: changes.updatedAt };
      if (changes.name !== undefined) set.name = changes.name;
      if (changes.redirectUris !== undefined) set.redirect_uris = JSON.stringify(changes.redirectUris);
      if (changes.postLogoutRedirectUris !== undefined) {
        set.post_logout_redirect_uris = JSON.stringify(changes.postLogoutRedirectUris);
      }
      if (changes.scopes !== undefined) set.scopes = changes.scopes.join(" ");
      if (changes.firstParty !== undefined) set.first_party = changes.firstParty ? 1 : 0;
      if (changes.idTokenSigningAlg !== undefined) set.id_token_alg = changes.idTokenSigningAlg;
      const row = await db.updateTable("oauth_clients").set(set).where("id", "=", id).returningAll().executeTakeFirst();
      return row ? toClient(row) : undefined;
    },

    async setClientSecretHash(id, secretHash, updatedAt) {
      const result = await db
        .updateTable("oauth_clients")
        .set({ secret_hash: secretHash, updated_at: updatedAt })
        .where("id", "=", id)
        .where("secret_hash", "is not", null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async deleteClient(id) {
      const result = await db.deleteFrom("oauth_clients").where("id", "=", id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
  };
}
