import { expect, it } from "vitest";
import { buildAndImport } from "../../../test/support/package-build.js";

it("builds into the files its package.json exports, and the built entries load", async () => {
  const entries = await buildAndImport("client");
  expect(Object.keys(entries).sort()).toEqual([".", "./file-store"]);
  expect(typeof entries["."]?.LatchkeyClient).toBe("function");
  expect(typeof entries["."]?.LatchkeyError).toBe("function");
  expect(typeof entries["./file-store"]?.FileStore).toBe("function");
});
