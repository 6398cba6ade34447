import { sql } from "kysely";
import type { TestApp } from "./harness.js";

/** The tables of the app's database, as the database lists them: a table added later is never missed. */
export async function tableNames(t: Pick<TestApp, "db" | "deps">): Promise<string[]> {
  const listed =
    t.deps.store.dialect === "sqlite"
      ? sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`
      : sql<{ name: string }>`select table_name as name from information_schema.tables
          where table_schema = current_schema() and table_type = 'BASE TABLE'`;
  const { rows } = await listed.execute(t.db);
  return rows.map((row) => row.name).sort();
}

/**
 * Every row of every table, to prove that a refused request changed nothing. Rows are sorted by
 * their content, since a database may return the same rows in another order.
 */
export async function snapshot(t: Pick<TestApp, "db" | "deps">): Promise<string> {
  const tables: Record<string, string[]> = {};
  for (const table of await tableNames(t)) {
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(t.db);
    tables[table] = rows.map((row) => JSON.stringify(row)).sort();
  }
  return JSON.stringify(tables, null, 1);
}
