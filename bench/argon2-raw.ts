/**
 * Raw @node-rs/argon2 `verify` throughput with the production parameters (m=19456 KiB, t=2, p=1),
 * `concurrency` verifications in flight at all times, in a process of its own (started with the same
 * flags as the server). Prints `measuring` when the measured time starts, then one JSON line:
 * {"verifiesPerSecond": …, "verifies": …, "peakRssMb": …}, and waits to be stopped.
 */
import { readFileSync } from "node:fs";
import { verify } from "@node-rs/argon2";
import { createArgon2Hasher, MIN_ARGON2_PARAMS } from "../src/core/password/hasher.js";

const [concurrencyArg, durationArg, warmupArg] = process.argv.slice(2);
const concurrency = Number(concurrencyArg ?? 8);
const durationMs = Number(durationArg ?? 15) * 1000;
const warmupMs = Number(warmupArg ?? 3) * 1000;
const password = "Bench-Password-7";
const phc = await createArgon2Hasher(MIN_ARGON2_PARAMS).hash(password);

async function loop(until: number, counter: { n: number }): Promise<void> {
  while (performance.now() < until) {
    if (!(await verify(phc, password))) throw new Error("verify failed");
    counter.n++;
  }
}

const warm = { n: 0 };
await Promise.all(Array.from({ length: concurrency }, () => loop(performance.now() + warmupMs, warm)));
// The runner meters the machine's CPU from this line until the result line.
process.stdout.write("measuring\n");
const counted = { n: 0 };
const start = performance.now();
await Promise.all(Array.from({ length: concurrency }, () => loop(start + durationMs, counted)));
const elapsed = (performance.now() - start) / 1000;
const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"));
process.stdout.write(
  `${JSON.stringify({ verifiesPerSecond: counted.n / elapsed, verifies: counted.n, peakRssMb: Number(hwm?.[1]) / 1024 })}\n`,
);
// Stays until the runner, having read this process's CPU, stops it.
setInterval(() => {}, 60_000);
