import { describe, expect, it } from "vitest";
import { DeliveryPacer } from "./pacer.js";

describe("delivery pacer", () => {
  it("starts at zero, then follows recent deliveries", () => {
    const pacer = new DeliveryPacer();
    expect(pacer.typicalMs()).toBe(0);
    pacer.record(100);
    expect(pacer.typicalMs()).toBe(100);
    pacer.record(200);
    expect(pacer.typicalMs()).toBe(120);
    pacer.record(-5);
    pacer.record(Number.NaN);
    expect(pacer.typicalMs()).toBe(120);
  });
});
