import { closeSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { LocalMutex, type StoredSession, type TokenStore } from "./store.js";

export interface FileStoreOptions {
  /** How long to wait for another process's lock before giving up (ms). Default 10 000. */
  lockTimeoutMs?: number;
  /** A lock file older than this is taken for a crashed holder's and removed (ms). Default 30 000. */
  staleLockMs?: number;
  /** Pause between two tries at the lock (ms). Default 25. */
  retryDelayMs?: number;
}

/** The lock file's holder went away without removing it, or the wait ran out. */
export class LockTimeoutError extends Error {
  override readonly name = "LockTimeoutError";
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Keeps the session in a file readable by its owner only (0600), for command-line tools. Processes
 * sharing the file take turns through a lock file beside it, created with O_EXCL.
 */
export class FileStore implements TokenStore {
  readonly #lockPath: string;
  readonly #mutex = new LocalMutex();
  readonly #lockTimeoutMs: number;
  readonly #staleLockMs: number;
  readonly #retryDelayMs: number;

  constructor(
    readonly path: string,
    options: FileStoreOptions = {},
  ) {
    this.#lockPath = `${path}.lock`;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
    this.#staleLockMs = options.staleLockMs ?? 30_000;
    this.#retryDelayMs = options.retryDelayMs ?? 25;
  }

  async load(): Promise<StoredSession | undefined> {
    let raw: string;
    try {
      raw = readFileSync(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    try {
      const parsed = JSON.parse(raw) as StoredSession;
      return typeof parsed.refreshToken === "string" ? parsed : undefined;
    } catch {
      return undefined;
    }
  }

  async save(session: StoredSession): Promise<void> {
    // A whole new file renamed over the old one: a reader never sees half a session.
    const temp = join(dirname(this.path), `.${process.pid}.${Math.floor(performance.now() * 1000)}.tmp`);
    writeFileSync(temp, JSON.stringify(session), { mode: 0o600 });
    renameSync(temp, this.path);
  }

  async clear(): Promise<void> {
    rmSync(this.path, { force: true });
  }

  withLock<T>(fn: () => Promise<T>): Promise<T> {
    // Within the process a mutex; across processes the lock file.
    return this.#mutex.run(async () => {
      await this.#acquire();
      try {
        return await fn();
      } finally {
        rmSync(this.#lockPath, { force: true });
      }
    });
  }

  async #acquire(): Promise<void> {
    const tries = Math.max(1, Math.ceil(this.#lockTimeoutMs / this.#retryDelayMs));
    for (let attempt = 0; attempt < tries; attempt++) {
      try {
        closeSync(openSync(this.#lockPath, "wx", 0o600));
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      if (this.#isStale()) {
        rmSync(this.#lockPath, { force: true });
        continue;
      }
      await pause(this.#retryDelayMs);
    }
    throw new LockTimeoutError(`could not lock ${this.path} within ${this.#lockTimeoutMs} ms`);
  }

  #isStale(): boolean {
    try {
      // The wall clock against the file's stamp: close enough for a threshold of seconds.
      return statSync(this.#lockPath).mtimeMs + this.#staleLockMs < Date.now();
    } catch {
      return false;
    }
  }
}
