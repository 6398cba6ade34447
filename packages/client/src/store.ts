/** What a store keeps of a session: the refresh token, and the latest access token of it. */
export interface StoredSession {
  refreshToken: string;
  accessToken?: string;
}

/**
 * Where the client keeps its session. Several clients may share one store (browser tabs on one
 * localStorage, processes on one file): `withLock` runs `fn` while no other holder of the same
 * store runs its own, which is what keeps them to one refresh at a time.
 */
export interface TokenStore {
  load(): Promise<StoredSession | undefined>;
  save(session: StoredSession): Promise<void>;
  clear(): Promise<void>;
  withLock<T>(fn: () => Promise<T>): Promise<T>;
  /** Tells `listener` when another holder changed the session; returns the unsubscribe. */
  subscribe?(listener: () => void): () => void;
}

/** A lock within this JavaScript realm: callers run one after the other, in arrival order. */
export class LocalMutex {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    // The chain continues whatever `fn` did; the caller sees its outcome through `result`.
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/** Keeps the session in memory: gone with the process. Clients given the same instance share it. */
export class MemoryStore implements TokenStore {
  #session: StoredSession | undefined;
  readonly #mutex = new LocalMutex();

  async load() {
    return this.#session ? { ...this.#session } : undefined;
  }
  async save(session: StoredSession) {
    this.#session = { ...session };
  }
  async clear() {
    this.#session = undefined;
  }
  withLock<T>(fn: () => Promise<T>) {
    return this.#mutex.run(fn);
  }
}

interface WebLocks {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface LocalStorageStoreOptions {
  /** The key under which the session is kept; also names the lock and the broadcast channel. */
  key?: string;
  /** Defaults to `globalThis.localStorage`. */
  storage?: StorageLike;
  /** Defaults to `navigator.locks` where the browser has it, else a lock within this page. */
  locks?: WebLocks;
}

/**
 * Keeps the session in the browser's localStorage, shared by the origin's tabs. The lock is a Web
 * Lock (`navigator.locks`), held across tabs; a tab that saved a new session says so on a
 * BroadcastChannel, so the others can react without polling.
 */
export class LocalStorageStore implements TokenStore {
  readonly #key: string;
  readonly #storage: StorageLike;
  readonly #locks: WebLocks | undefined;
  readonly #mutex = new LocalMutex();
  #channel: InstanceType<typeof BroadcastChannel> | undefined;
  readonly #listeners = new Set<() => void>();

  constructor(options: LocalStorageStoreOptions = {}) {
    this.#key = options.key ?? "latchkey.session";
    const storage = options.storage ?? (globalThis as { localStorage?: StorageLike }).localStorage;
    if (!storage) throw new Error("LocalStorageStore: no localStorage here; pass `storage`");
    this.#storage = storage;
    this.#locks = options.locks ?? (globalThis as { navigator?: { locks?: WebLocks } }).navigator?.locks;
  }

  async load() {
    const raw = this.#storage.getItem(this.#key);
    if (raw === null) return undefined;
    try {
      const parsed = JSON.parse(raw) as StoredSession;
      return typeof parsed.refreshToken === "string" ? parsed : undefined;
    } catch {
      return undefined;
    }
  }
  async save(session: StoredSession) {
    this.#storage.setItem(this.#key, JSON.stringify(session));
    this.#announce();
  }
  async clear() {
    this.#storage.removeItem(this.#key);
    this.#announce();
  }
  withLock<T>(fn: () => Promise<T>) {
    if (this.#locks) return this.#locks.request(`${this.#key}.lock`, fn);
    return this.#mutex.run(fn);
  }
  subscribe(listener: () => void) {
    this.#listeners.add(listener);
    if (!this.#channel && typeof BroadcastChannel !== "undefined") {
      this.#channel = new BroadcastChannel(this.#key);
      this.#channel.onmessage = () => {
        for (const l of this.#listeners) l();
      };
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) {
        this.#channel?.close();
        this.#channel = undefined;
      }
    };
  }
  #announce() {
    if (typeof BroadcastChannel === "undefined") return;
    const channel = this.#channel ?? new BroadcastChannel(this.#key);
    channel.postMessage("changed");
    if (channel !== this.#channel) channel.close();
  }
}
