import { describe, expect, it } from "vitest";
import { AppError, BadRequestError } from "../errors.js";
import { assertAcceptablePassword, isCommonPassword } from "./policy.js";

function messageOf(password: string): string | undefined {
  try {
    assertAcceptablePassword(password);
    return undefined;
  } catch (error) {
    if (error instanceof BadRequestError || error instanceof AppError) return error.message;
    throw error;
  }
}

describe("password policy", () => {
  it("accepts a password with every class", () => {
    expect(messageOf("Correct7Horse")).toBeUndefined();
  });
  it("names the missing class", () => {
    expect(messageOf("correct7horse")).toBe("Password must contain at least one uppercase character");
    expect(messageOf("CORRECT7HORSE")).toBe("Password must contain at least one lowercase character");
    expect(messageOf("CorrectHorse")).toBe("Password must contain at least one number");
  });
  it("enforces the length limits", () => {
    expect(messageOf("Ab1defg")).toBe("Password must be at least 8 characters long");
    expect(messageOf(`Ab1${"x".repeat(254)}`)).toBe("Password must be at most 256 characters long");
    expect(messageOf(`Ab1${"x".repeat(253)}`)).toBeUndefined();
  });
  it("refuses common passwords from the maintained list, case-insensitively", () => {
    expect(isCommonPassword("password")).toBe(true);
    expect(isCommonPassword("PassWord")).toBe(true);
    expect(messageOf("Password1")).toBe("PASSWORD_TOO_COMMON");
    expect(isCommonPassword("Vq8#tLm2!zR")).toBe(false);
  });
});
