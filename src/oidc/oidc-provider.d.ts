/**
 * The little of oidc-provider's API that src/oidc uses: the package ships JavaScript only. Extend
 * this as more of the library is used (the provider's wiring), rather than declaring it twice.
 */
declare module "oidc-provider" {
  /** What an adapter stores for one artifact: the model's payload, opaque to the adapter. */
  export interface AdapterPayload {
    [key: string]: unknown;
    jti?: string;
    grantId?: string;
    uid?: string;
    userCode?: string;
    /** Set by the adapter on a found artifact once consumed: the time of consumption, in seconds. */
    consumed?: unknown;
  }

  /** One model's storage, as the `adapter` configuration option builds it per model name. */
  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export type AdapterFactory = (name: string) => Adapter;
  export type AdapterConstructor = new (name: string) => Adapter;

  export interface Configuration {
    adapter?: AdapterFactory | AdapterConstructor;
    clients?: Record<string, unknown>[];
    [key: string]: unknown;
  }

  export class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
  }
  export default Provider;

  export namespace errors {
    class OIDCProviderError extends Error {
      error: string;
      error_description?: string;
      error_detail?: string;
      status: number;
      statusCode: number;
      expose: boolean;
    }
    /** invalid_grant; the argument is the error_detail. */
    class InvalidGrant extends OIDCProviderError {
      constructor(detail?: string);
    }
    /** invalid_request_uri; the argument is the error_description. */
    class InvalidRequestUri extends OIDCProviderError {
      constructor(description?: string);
    }
  }
}
