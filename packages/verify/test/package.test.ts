import { expect, it } from "vitest";
import { buildAndImport } from "../../../test/support/package-build.js";

it("builds into the files its package.json exports, and the built entry loads", async () => {
  const entries = await buildAndImport("verify");
  expect(Object.keys(entries)).toEqual(["."]);
  for (const name of ["createVerifier", "fastifyLatchkey", "expressLatchkey"]) {
    expect(typeof entries["."]?.[name], name).toBe("function");
  }
});
