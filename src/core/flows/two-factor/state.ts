import { twoFactorEnabled } from "../../two-factor/methods.js";
import type { FlowContext } from "../context.js";

export interface TwoFactorState {
  enabled: boolean;
  emailOtp?: { email: string; completedAt: string };
  totp?: { completedAt: string };
  recoveryCodes?: { completedAt: string; remaining: number };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** `GET /user/2fa`: the active methods; a method that is absent is inactive (pending setups do not show). */
export async function twoFactorState(ctx: FlowContext, userId: number): Promise<TwoFactorState> {
  const record = await ctx.store.twoFactor(userId);
  const state: TwoFactorState = { enabled: twoFactorEnabled(record) };
  const { emailOtp, totp, recoveryCodes } = record;
  if (emailOtp?.enabledAt != null && emailOtp.email !== null) {
    state.emailOtp = { email: emailOtp.email, completedAt: iso(emailOtp.enabledAt) };
  }
  if (totp?.enabledAt != null) state.totp = { completedAt: iso(totp.enabledAt) };
  if (recoveryCodes) {
    state.recoveryCodes = { completedAt: iso(recoveryCodes.createdAt), remaining: recoveryCodes.remaining };
  }
  return state;
}
