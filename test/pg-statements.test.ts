import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { secureRandom } from "../src/platform/random.js";
import { connect } from "../src/storage/kysely/connect.js";
import { namedStatementClient, StatementNames } from "../src/storage/kysely/pg-statements.js";
import { testDialects } from "./support/harness.js";

describe("StatementNames", () => {
  it("gives a text one name, and different texts different names", () => {
    const names = new StatementNames();
    const a = names.nameOf("select $1");
    expect(a).toBeDefined();
    expect(names.nameOf("select $1")).toBe(a);
    expect(names.nameOf("select $1, $2")).not.toBe(a);
  });

  it("names no more texts than its bound, and keeps naming the ones it has", () => {
    const names = new StatementNames(2);
    const first = names.nameOf("a $1");
    names.nameOf("b $1");
    expect(names.nameOf("c $1")).toBeUndefined();
    expect(names.nameOf("a $1")).toBe(first);
    expect(names.size).toBe(2);
  });

  it("gives a forgotten text a name never used before", () => {
    const names = new StatementNames();
    const old = names.nameOf("a $1");
    names.forget("a $1");
    const renamed = names.nameOf("a $1");
    expect(renamed).toBeDefined();
    expect(renamed).not.toBe(old);
    expect(names.nameOf("b $1")).not.toBe(old);
  });
});

const postgres = testDialects().filter((d) => d.name === "postgres");

describe.each(postgres)("named statements on $name", ({ url }) => {
  const schema = `t_${secureRandom.bytes(8).toString("hex")}`;
  let admin: pg.Client;

  beforeEach(async () => {
    admin = new pg.Client(url);
    await admin.connect();
    await admin.query(`create schema ${schema}`);
  });
  afterEach(async () => {
    await admin.query(`drop schema ${schema} cascade`);
    await admin.end();
  });

  /** A pool of one connection in the test's schema, naming statements with `names`. */
  function namingPool(names: StatementNames): pg.Pool {
    return new pg.Pool({
      connectionString: url,
      max: 1,
      options: `-c search_path=${schema}`,
      Client: namedStatementClient(names),
    });
  }

  /** The statements prepared on a pool's only connection (the view query itself has no values). */
  async function prepared(pool: { query(text: string): Promise<pg.QueryResult> }): Promise<string[]> {
    const { rows } = await pool.query("select statement from pg_prepared_statements order by statement");
    return rows.map((row) => row.statement as string);
  }

  it("runs the store's queries with values as statements prepared once per connection", async () => {
    const { db } = connect(url, { searchPath: schema, poolSize: 1 });
    try {
      for (const n of [1, 2, 3]) {
        const { rows } = await sql<{ n: number }>`select ${n}::int + 1 as n`.execute(db);
        expect(rows).toEqual([{ n: n + 1 }]);
      }
      const { rows } = await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(db);
      expect(rows.map((row) => row.statement)).toEqual(["select $1::int + 1 as n"]);
    } finally {
      await db.destroy();
    }
  });

  it("keeps the simple protocol for text without values, so several statements still run as one", async () => {
    const { db } = connect(url, { searchPath: schema, poolSize: 1 });
    try {
      await sql`create table two (a int); insert into two values (1), (2)`.execute(db);
      const { rows } = await sql<{ count: number }>`select count(*)::int as count from two`.execute(db);
      expect(rows).toEqual([{ count: 2 }]);
      const listed = await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(db);
      expect(listed.rows).toEqual([]);
    } finally {
      await db.destroy();
    }
  });

  it("sends texts past the bound unnamed, and they still run", async () => {
    const pool = namingPool(new StatementNames(1));
    try {
      expect((await pool.query("select $1::int as a", [1])).rows).toEqual([{ a: 1 }]);
      expect((await pool.query("select $1::int as b", [2])).rows).toEqual([{ b: 2 }]);
      expect(await prepared(pool)).toEqual(["select $1::int as a"]);
    } finally {
      await pool.end();
    }
  });

  it("prepares a statement again when a migration changed its table underneath", async () => {
    const pool = namingPool(new StatementNames());
    try {
      await admin.query(`create table ${schema}.grows (a int); insert into ${schema}.grows values (1)`);
      const read = () => pool.query("select * from grows where a = $1", [1]);
      expect((await read()).rows).toEqual([{ a: 1 }]);
      await admin.query(`alter table ${schema}.grows add column b int default 7`);
      expect((await read()).rows).toEqual([{ a: 1, b: 7 }]);
      expect((await read()).rows).toEqual([{ a: 1, b: 7 }]);
      expect(await prepared(pool)).toHaveLength(2);
    } finally {
      await pool.end();
    }
  });

  // What namedStatementClient relies on in pg, pg-pool and Kysely (see pg-statements.ts). When one of
  // these fails after an upgrade, the named statements are broken or silently gone: fix the client
  // class before anything else.
  describe("what the named-statement client relies on", () => {
    /** A naming client class that records the shape of every query call made on it. */
    function recordingPool(names: StatementNames): { pool: pg.Pool; calls: string[][] } {
      const calls: string[][] = [];
      const Named = namedStatementClient(names);
      class Recording extends Named {
        override query(...args: unknown[]): never {
          calls.push(args.map((arg) => (Array.isArray(arg) ? "array" : typeof arg)));
          return (super.query as (...rest: unknown[]) => never)(...args);
        }
      }
      const pool = new pg.Pool({
        connectionString: url,
        max: 1,
        options: `-c search_path=${schema}`,
        Client: Recording,
      });
      return { pool, calls };
    }

    it("pg-pool builds its clients from the Client option", async () => {
      const pool = namingPool(new StatementNames());
      try {
        const client = await pool.connect();
        client.release();
        expect(
          client.constructor.name,
          "pg-pool no longer builds its clients with options.Client: no query is named",
        ).toBe("NamedStatementClient");
      } finally {
        await pool.end();
      }
    });

    it("pool.query calls client.query(text, values, callback), and Kysely client.query(text, values)", async () => {
      const { pool, calls } = recordingPool(new StatementNames());
      const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
      try {
        await pool.query("select $1::int as a", [1]);
        expect(
          calls,
          "pg-pool's query no longer calls client.query(text, values, callback): its queries go unnamed",
        ).toEqual([["string", "array", "function"]]);
        calls.length = 0;
        await sql`select ${1}::int as a`.execute(db);
        expect(calls, "Kysely no longer calls client.query(text, values): its queries go unnamed").toEqual([
          ["string", "array"],
        ]);
      } finally {
        await db.destroy();
      }
    });

    it("pg parses a name once per connection and keeps it in connection.parsedStatements", async () => {
      const names = new StatementNames();
      const pool = namingPool(names);
      const client = await pool.connect();
      try {
        const connection = (client as unknown as { connection: { parsedStatements?: Record<string, string> } })
          .connection;
        const parse = vi.spyOn(connection as unknown as { parse(...args: unknown[]): void }, "parse");
        for (const n of [1, 2, 3]) expect((await client.query("select $1::int as n", [n])).rows).toEqual([{ n }]);
        expect(parse, "pg sends Parse on every execution of a named statement").toHaveBeenCalledTimes(1);
        expect(
          connection.parsedStatements?.[names.nameOf("select $1::int as n") as string],
          "pg no longer remembers parsed names in connection.parsedStatements: see how it re-parses a stale one",
        ).toBe("select $1::int as n");
      } finally {
        client.release();
        await pool.end();
      }
    });

    it("pg refuses a name given to a second text, and reports SQLSTATEs in code", async () => {
      const pool = namingPool(new StatementNames());
      const client = await pool.connect();
      try {
        await client.query({ name: "taken", text: "select 1 as a" });
        await expect(
          client.query({ name: "taken", text: "select 2 as a" }),
          "pg no longer checks a named statement's text against the one it parsed: does it still remember names?",
        ).rejects.toThrow("Prepared statements must be unique");
        await expect(
          client.query("select 1 from no_such_table"),
          "pg errors no longer carry the SQLSTATE in code",
        ).rejects.toMatchObject({ code: "42P01" });
      } finally {
        client.release();
        await pool.end();
      }
    });
  });
});
