import { iso } from "../../iso-time.js";
import { methodActive, twoFactorEnabled } from "../../two-factor/methods.js";
import type { FlowContext } from "../context.js";

export interface TwoFactorState {
  enabled: boolean;
  emailOtp?: { email: string; completedAt: string };
  totp?: { completedAt: string };
  recoveryCodes?: { completedAt: string; remaining: number };
  passkeys?: { completedAt: string; count: number };
}

/** `GET /user/2fa`: the active methods; a method that is absent is inactive (pending setups do not show). */
export async function twoFactorState(flow: FlowContext, userId: number): Promise<TwoFactorState> {
  const record = await flow.store.twoFactor(userId);
  const state: TwoFactorState = { enabled: twoFactorEnabled(record) };
  const { emailOtp, totp, recoveryCodes, passkeys } = record;
  if (methodActive(emailOtp) && emailOtp.email !== null) {
    state.emailOtp = { email: emailOtp.email, completedAt: iso(emailOtp.enabledAt) };
  }
  if (methodActive(totp)) state.totp = { completedAt: iso(totp.enabledAt) };
  if (passkeys) state.passkeys = { completedAt: iso(passkeys.createdAt), count: passkeys.count };
  if (recoveryCodes) {
    state.recoveryCodes = { completedAt: iso(recoveryCodes.createdAt), remaining: recoveryCodes.remaining };
  }
  return state;
}
