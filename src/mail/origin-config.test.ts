import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadMailCatalog } from "./catalog.js";
import { contrastRatio, PAGE_TEXT_COLOR, parseOriginConfig } from "./origin-config.js";

const GOOD = { from: "a@example.com", fromName: "Example Shop", defaultLanguage: "en" };
const FILE = "/etc/latchkey/mail/shop/origin.json";

describe("the brand block of origin.json", () => {
  it("defaults to the sender's name and Latchkey's colours", () => {
    expect(parseOriginConfig(GOOD, FILE).brand).toEqual({
      name: "Example Shop",
      logoUrl: undefined,
      accentColor: "#1f5fbf",
      backgroundColor: "#f3f5f8",
    });
  });

  it("takes a name, a logo and two colours (lower-cased)", () => {
    const brand = {
      name: "Shop",
      logoUrl: "https://cdn.example.com/logo.svg",
      accentColor: "#7A1F5C",
      backgroundColor: "#FFFFFF",
    };
    expect(parseOriginConfig({ ...GOOD, brand }, FILE).brand).toEqual({
      ...brand,
      accentColor: "#7a1f5c",
      backgroundColor: "#ffffff",
    });
  });

  it("computes WCAG contrast ratios", () => {
    expect(contrastRatio("#ffffff", "#000000")).toBeCloseTo(21, 5);
    expect(contrastRatio("#000000", "#ffffff")).toBeCloseTo(21, 5);
    expect(contrastRatio("#777777", "#777777")).toBe(1);
    // The shipped colours keep AA: white on the accent, the text on the background.
    expect(contrastRatio("#1f5fbf", "#ffffff")).toBeGreaterThanOrEqual(4.5);
    expect(contrastRatio("#f3f5f8", PAGE_TEXT_COLOR)).toBeGreaterThanOrEqual(4.5);
  });

  it.each([
    [
      "an accent colour too light for white text",
      { accentColor: "#6fa8ff" },
      /"brand.accentColor" is too light for white text/,
    ],
    ["a yellow accent colour", { accentColor: "#ffd400" }, /"brand.accentColor" is too light/],
    ["a background too dark for the text", { backgroundColor: "#4a4a4a" }, /"brand.backgroundColor" is too dark/],
    ["a colour that is not #rrggbb", { accentColor: "blue" }, /accentColor/],
    ["a short colour", { accentColor: "#12f" }, /accentColor/],
    ["a logo that is not http(s)", { logoUrl: "javascript:alert(1)" }, /"brand.logoUrl" must be an http\(s\) URL/],
    ["a logo that is not a URL", { logoUrl: "logo.png" }, /"brand.logoUrl" must be an http\(s\) URL/],
    ["a control character in the name", { name: "Shop\r\nX" }, /"brand.name" must not contain control characters/],
    ["an unknown key", { accentColour: "#000000" }, /Invalid mail origin file/],
  ])("refuses %s, naming the file", (_label, brand, pattern) => {
    expect(() => parseOriginConfig({ ...GOOD, brand }, FILE)).toThrow(pattern);
    expect(() => parseOriginConfig({ ...GOOD, brand }, FILE)).toThrow(FILE);
  });

  it("just meets the contrast rule at 4.5:1 and refuses just below it", () => {
    // #767676 on white is 4.54:1, #777777 4.48:1.
    expect(parseOriginConfig({ ...GOOD, brand: { accentColor: "#767676" } }, FILE).brand.accentColor).toBe("#767676");
    expect(() => parseOriginConfig({ ...GOOD, brand: { accentColor: "#777777" } }, FILE)).toThrow(/too light/);
  });
});

describe("an origin folder with a brand that breaks the rules", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "latchkey-brand-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("stops the start, naming its origin.json", () => {
    mkdirSync(join(dir, "shop"));
    const file = join(dir, "shop", "origin.json");
    writeFileSync(file, JSON.stringify({ ...GOOD, brand: { accentColor: "#a0c4ff" } }));
    expect(() => loadMailCatalog(dir)).toThrow(file);
    expect(() => loadMailCatalog(dir)).toThrow(/"brand.accentColor" is too light for white text \(below 4.5:1\)/);
  });
});
