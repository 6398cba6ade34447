import { describe, expect, it } from "vitest";
import { unsupportedRuntimeWarning } from "./runtime.js";

describe("unsupportedRuntimeWarning", () => {
  it("says nothing on a supported release line", () => {
    for (const version of ["20.19.2", "v20.20.2", "22.12.0", "24.22.3"]) {
      expect(unsupportedRuntimeWarning(version)).toBeUndefined();
    }
  });

  it("names the version and the supported lines otherwise, in one line", () => {
    for (const version of ["18.20.0", "v21.7.3", "23.1.0", "25.0.0", "not-a-version"]) {
      const warning = unsupportedRuntimeWarning(version);
      expect(warning).toContain(`Node.js ${version.replace(/^v/, "")} is not supported`);
      expect(warning).toContain("20, 22, 24 (24 recommended)");
      expect(warning).not.toContain("\n");
    }
  });
});
