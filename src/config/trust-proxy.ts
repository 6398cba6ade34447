import { isIP } from "node:net";

/**
 * Which hops of `X-Forwarded-For` are believed: none (`false`), the last `n` (a hop count), or those
 * whose sender is one of the listed proxies (addresses, CIDRs, or the range names Fastify knows).
 */
export type TrustProxy = false | number | string[];

const NAME = "LATCHKEY_TRUST_PROXY";
/** More hops than any real chain of proxies; a larger count would trust what the client wrote. */
export const MAX_PROXY_HOPS = 10;
/** The ranges @fastify/proxy-addr knows by name. */
const RANGE_NAMES = new Set(["loopback", "linklocal", "uniquelocal"]);

/** Reads LATCHKEY_TRUST_PROXY; every problem goes to `problems`, named after the variable. */
export function parseTrustProxy(raw: string | undefined, problems: string[]): TrustProxy {
  const value = raw?.trim() ?? "";
  if (value === "" || value === "false") return false;
  if (value === "true") {
    problems.push(
      `${NAME}=true would trust every X-Forwarded-For hop, so a client could pick its own address: ` +
        "list the proxies' addresses or CIDRs (e.g. 10.0.0.0/8,127.0.0.1) or give their number (e.g. 1)",
    );
    return false;
  }
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > MAX_PROXY_HOPS) problems.push(`${NAME} hop count must be between 0 and ${MAX_PROXY_HOPS}, got ${hops}`);
    return hops === 0 ? false : hops;
  }
  const entries = value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  for (const entry of entries) {
    const problem = entryProblem(entry);
    if (problem) problems.push(`${NAME} entry "${entry}" ${problem}`);
  }
  return entries.length === 0 ? false : entries;
}

function entryProblem(entry: string): string | undefined {
  if (RANGE_NAMES.has(entry)) return undefined;
  const slash = entry.indexOf("/");
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const version = isIP(address);
  if (version === 0) {
    return "must be an IP address, a CIDR (e.g. 10.0.0.0/8), loopback, linklocal or uniquelocal";
  }
  if (slash === -1) return undefined;
  const prefix = entry.slice(slash + 1);
  const max = version === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return `must have a prefix length from 1 to ${max}`;
  // A /0 covers every address: the same as `true`.
  if (Number(prefix) === 0) return "covers every address (a client could pick its own address)";
  return undefined;
}
