import { EventEmitter } from "node:events";
import type pg from "pg";

/** The channel the database's triggers notify on (migration 2026-12-06-001-revocation-notices). */
export const REVOCATION_CHANNEL = "latchkey_revocations";

/** What changed: a session (revoked or deleted) or a user (disabled, enabled or deleted). */
export type RevocationNotice = { kind: "session"; id: string } | { kind: "user"; id: number };

const FIRST_RETRY_MS = 100;
const LAST_RETRY_MS = 5_000;
/** How often the listening connection is checked: a connection that died without a word is found. */
const HEARTBEAT_MS = 5_000;
const HEARTBEAT_TIMEOUT_MS = 2_000;

export interface RevocationFeedHandlers {
  /** A session or user of this node's schema changed. */
  notice(notice: RevocationNotice): void;
  /** The feed lost or regained its connection: notices may have been missed, forget everything. */
  reset(): void;
}

/**
 * A PostgreSQL connection of its own that LISTENs for the revocation notices the database's
 * triggers send on commit, from every node and tool writing to the database. While it listens the
 * feed is `trusted`: what it has not said changed has not. When the connection fails (or stops
 * answering the heartbeat) it is not trusted until a new connection listens again, retried with a
 * growing pause; `generation` moves on with every notice and every change of trust, so that a read
 * begun before one of them is known to be stale. Events: "listening", "lost" and "notice" (after
 * the handlers ran), for health checks and tests.
 */
export class RevocationFeed extends EventEmitter {
  #client: pg.Client | undefined;
  #trusted = false;
  #generation = 0;
  #closed = false;
  readonly #firstRetryMs: number;
  #retryMs: number;
  #retry: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #schema: string | undefined;
  readonly #waiting = new Set<() => void>();

  constructor(
    private readonly newClient: () => pg.Client,
    private readonly handlers: RevocationFeedHandlers,
    options: { firstRetryMs?: number } = {},
  ) {
    super();
    this.#firstRetryMs = options.firstRetryMs ?? FIRST_RETRY_MS;
    this.#retryMs = this.#firstRetryMs;
  }

  /** Connects again now rather than after the pause, when the feed is waiting to retry. */
  retryNow(): void {
    if (this.#retry === undefined || this.#closed) return;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    void this.#open();
  }

  /** The listening connection's backend process id, while there is one. */
  get backendPid(): number | undefined {
    return (this.#client as (pg.Client & { processID?: number }) | undefined)?.processID;
  }

  get trusted(): boolean {
    return this.#trusted;
  }

  get generation(): number {
    return this.#generation;
  }

  /** Forget what was known (a local write revoked something): every cached answer is stale. */
  bump(): void {
    this.#generation++;
    this.handlers.reset();
  }

  start(): void {
    void this.#open();
  }

  /** Resolves once the feed listens (at once when it does). */
  listening(): Promise<void> {
    if (this.#trusted || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.add(resolve));
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#untrust();
    clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = undefined;
    for (const resolve of this.#waiting) resolve();
    this.#waiting.clear();
    await client?.end().catch(() => {});
  }

  async #open(): Promise<void> {
    if (this.#closed) return;
    const client = this.newClient();
    let failed = false;
    const fail = () => {
      if (failed) return;
      failed = true;
      this.#lost(client);
    };
    client.on("error", fail);
    client.on("end", fail);
    client.on("notification", (message) => {
      if (message.channel === REVOCATION_CHANNEL && message.payload !== undefined) this.#notice(message.payload);
    });
    try {
      await client.connect();
      const { rows } = await client.query<{ schema: string }>("select current_schema() as schema");
      this.#schema = rows[0]?.schema;
      await client.query(`listen ${REVOCATION_CHANNEL}`);
    } catch {
      fail();
      return;
    }
    if (failed || this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#retryMs = this.#firstRetryMs;
    // Anything cached while not listening may have missed a notice.
    this.bump();
    this.#trusted = true;
    for (const resolve of this.#waiting) resolve();
    this.#waiting.clear();
    this.#heartbeat = setInterval(() => this.#check(client), HEARTBEAT_MS);
    this.#heartbeat.unref();
    this.emit("listening");
  }

  #check(client: pg.Client): void {
    const timer = setTimeout(() => client.emit("error", new Error("heartbeat timed out")), HEARTBEAT_TIMEOUT_MS);
    timer.unref();
    client.query("select 1").then(
      () => clearTimeout(timer),
      () => {
        clearTimeout(timer);
        client.emit("error", new Error("heartbeat failed"));
      },
    );
  }

  #notice(payload: string): void {
    // "<schema> s <session id>" or "<schema> u <user id>": notices of other schemas are not ours.
    const [schema, kind, id] = payload.split(" ");
    if (schema !== this.#schema || id === undefined) return;
    this.#generation++;
    const notice: RevocationNotice | undefined =
      kind === "s" ? { kind: "session", id } : kind === "u" ? { kind: "user", id: Number(id) } : undefined;
    if (notice === undefined) return;
    this.handlers.notice(notice);
    this.emit("notice", notice);
  }

  #untrust(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    if (this.#trusted) {
      this.#trusted = false;
      this.bump();
    }
  }

  #lost(client: pg.Client): void {
    // An earlier connection's last words, once a newer one listens: nothing to do but let it go.
    if (this.#client !== undefined && this.#client !== client) {
      void client.end().catch(() => {});
      return;
    }
    this.#client = undefined;
    this.#untrust();
    void client.end().catch(() => {});
    if (this.#closed) return;
    this.emit("lost");
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#open();
    }, this.#retryMs);
    this.#retry.unref();
    this.#retryMs = Math.max(this.#retryMs, Math.min(this.#retryMs * 2, LAST_RETRY_MS));
  }
}
