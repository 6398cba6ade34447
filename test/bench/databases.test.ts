import { describe, expect, it } from "vitest";
import { chosenDatabases } from "../../bench/lib/latchkey.js";

describe("the benchmark's --databases option", () => {
  it("measures SQLite, and PostgreSQL when its URL is set, when the option is absent", () => {
    expect(chosenDatabases(undefined, false)).toEqual(["sqlite"]);
    expect(chosenDatabases(undefined, true)).toEqual(["sqlite", "postgres"]);
  });

  it("measures only the databases named, in the runner's order", () => {
    expect(chosenDatabases("postgres", true)).toEqual(["postgres"]);
    expect(chosenDatabases("postgres,sqlite", true)).toEqual(["sqlite", "postgres"]);
    expect(chosenDatabases("sqlite", true)).toEqual(["sqlite"]);
  });

  it("refuses an unknown name, PostgreSQL without its URL, and an empty list", () => {
    expect(() => chosenDatabases("mysql", true)).toThrow(/unknown database mysql/);
    expect(() => chosenDatabases("postgres", false)).toThrow(/LATCHKEY_BENCH_POSTGRES_URL/);
    expect(() => chosenDatabases(",", true)).toThrow(/at least one/);
  });
});
