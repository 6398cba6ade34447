import { describe, expect, it } from "vitest";
import { isDisposableAddress } from "./disposable.js";

describe("isDisposableAddress", () => {
  it.each([
    ["a@mailinator.com", true],
    ["a@MAILINATOR.COM", true],
    ["a@eu.mailinator.com", true],
    ["a@deep.sub.mailinator.com", true],
    ["a@mailinator.com.", true],
    ["a@example.com", false],
    ["a@gmail.com", false],
    ["a@proton.me", false],
    ["a@mailinator.com.example.org", false],
    ["mailinator.com@example.com", false],
  ])("%s → %s", (email, expected) => {
    expect(isDisposableAddress(email)).toBe(expected);
  });
});
