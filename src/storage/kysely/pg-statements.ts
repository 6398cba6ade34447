/**
 * Named statements for PostgreSQL: a pg client class whose `query` runs every query with values as a
 * named statement, so that PostgreSQL parses and plans it once per connection instead of on every
 * execution (for our short indexed statements, parsing and planning cost more than running them).
 * Kysely and pg-pool offer no hook for this, hence a subclass of pg's Client given to the pool.
 *
 * What it relies on in pg, pg-pool and Kysely (test/pg-statements.test.ts checks each, and fails
 * naming the one that changed):
 * - pg-pool builds its clients with `new options.Client(options)`, so the pool, and Kysely through
 *   it, use this class.
 * - Kysely's PostgreSQL driver calls `client.query(text, values)` (a promise), and `pool.query`
 *   calls `client.query(text, values, callback)`. Only these positional forms are named; a query
 *   config object (as the batched reads pass, named already) or a cursor passes through untouched.
 *   Were either to pass a config object instead, queries would silently go unnamed again.
 * - `Client.prototype.query({ name, text, values })` sends the Parse message only the first time a
 *   name is used on a connection: pg remembers it (`connection.parsedStatements`) until the
 *   connection closes, and refuses a name given to a second text. So a name is never reused for
 *   another text, and a statement whose plan went stale cannot be parsed again under its old name:
 *   it gets a new one.
 * - Errors carry PostgreSQL's SQLSTATE in `code` (0A000 for a stale plan).
 */
import pg from "pg";

/** Distinct SQL texts named per pool; past this, further texts are sent unnamed (parsed every time). */
const NAMED_TEXTS_MAX = 512;

/** PostgreSQL's "cached plan must not change result type": a table changed under a prepared statement. */
const FEATURE_NOT_SUPPORTED = "0A000";

/**
 * One name per SQL text, shared by the pool's connections and bounded: SQL texts are one per query
 * shape, but a list of variable length makes a text per length, and each name lives in every
 * connection until it closes.
 */
export class StatementNames {
  private readonly names = new Map<string, string>();
  private issued = 0;

  constructor(private readonly max = NAMED_TEXTS_MAX) {}

  nameOf(text: string): string | undefined {
    const known = this.names.get(text);
    if (known !== undefined || this.names.size >= this.max) return known;
    const name = `latchkey_${++this.issued}`;
    this.names.set(text, name);
    return name;
  }

  /** The text's next use gets a new name (its plan went stale); the old one is never reused. */
  forget(text: string): void {
    this.names.delete(text);
  }

  get size(): number {
    return this.names.size;
  }
}

function isStalePlan(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === FEATURE_NOT_SUPPORTED;
}

type QueryResult = pg.QueryResult<pg.QueryResultRow>;

/**
 * A pg client class that runs every query with values as a named statement (`names`). Queries
 * without values keep the simple protocol, which allows several statements in one text (the
 * migrations' DDL). When a migration changed a table under a prepared statement, that statement is
 * sent again under a new name, once.
 */
export function namedStatementClient(names: StatementNames): typeof pg.Client {
  return class NamedStatementClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      // A connection lost while the pool has lent this client out (between a transaction's
      // statements, say) is an 'error' event that nobody listens for but the pool, and only while the
      // client is idle: unheard, it would end the process. The statement in flight fails with it, the
      // next one is refused, and the pool drops the client when it comes back.
      this.on("error", () => {});
    }

    // Only (text, values[, callback]) is named (Kysely's form, and the pool's); configs and cursors
    // pass through untouched.
    override query(...args: unknown[]): never {
      const [text, values, callback] = args;
      if (typeof text === "string" && Array.isArray(values) && values.length > 0 && args.length <= 3) {
        const name = names.nameOf(text);
        if (name !== undefined) {
          const result = this.named(name, text, values);
          if (typeof callback !== "function") return result as never;
          result.then(
            (rows) => callback(null, rows),
            (error: unknown) => callback(error),
          );
          return undefined as never;
        }
      }
      return (super.query as (...rest: unknown[]) => never)(...args);
    }

    private async named(name: string, text: string, values: unknown[]): Promise<QueryResult> {
      try {
        return await super.query({ name, text, values });
      } catch (error) {
        if (!isStalePlan(error)) throw error;
        names.forget(text);
        const renamed = names.nameOf(text);
        return super.query(renamed === undefined ? { text, values } : { name: renamed, text, values });
      }
    }
  };
}
