import { describe, expect, it } from "vitest";
import { createArgon2Hasher, MIN_ARGON2_PARAMS, parsePhcParams } from "./hasher.js";

describe("argon2id hasher", () => {
  const hasher = createArgon2Hasher(MIN_ARGON2_PARAMS);

  it("makes a PHC string with the configured parameters that verifies", async () => {
    const phc = await hasher.hash("Correct7Horse");
    expect(phc.startsWith("$argon2id$v=19$m=19456,t=2,p=1$")).toBe(true);
    expect(await hasher.verify(phc, "Correct7Horse")).toBe(true);
    expect(await hasher.verify(phc, "correct7horse")).toBe(false);
  });

  it("never throws on a broken hash", async () => {
    expect(await hasher.verify("not-a-hash", "x")).toBe(false);
  });

  it("asks for a re-hash when the parameters change", async () => {
    const phc = await hasher.hash("Correct7Horse");
    expect(hasher.needsRehash(phc)).toBe(false);
    const stronger = createArgon2Hasher({ ...MIN_ARGON2_PARAMS, iterations: 3 });
    expect(stronger.needsRehash(phc)).toBe(true);
    expect(parsePhcParams(phc)).toEqual(MIN_ARGON2_PARAMS);
    expect(stronger.needsRehash("garbage")).toBe(true);
  });
});
