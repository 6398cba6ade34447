import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CLIENT_TYPES_FILE, clientTypesSource } from "../../../scripts/generate-client-types.js";

describe("the client's OpenAPI types", () => {
  it("match the document the service serves now", async () => {
    const checkedIn = readFileSync(CLIENT_TYPES_FILE, "utf8");
    const regenerated = await clientTypesSource();
    expect(
      checkedIn === regenerated,
      "packages/client/src/openapi.ts is out of date with the OpenAPI document: run npm run generate:client",
    ).toBe(true);
  });
});
