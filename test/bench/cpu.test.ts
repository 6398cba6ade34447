import { spawn } from "node:child_process";
import { once } from "node:events";
import { availableParallelism } from "node:os";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { budgetPerUnit, cpuMeter, mainThreadTicks, processTicks, waitForOutput } from "../../bench/lib/proc.js";

/**
 * A child that spends CPU where it is told: `main` on its main thread, `worker` on a worker thread
 * (the main thread waiting meanwhile), each until the process has used another 300 ms.
 */
const CHILD = `
const { Worker } = require("node:worker_threads");
const { createInterface } = require("node:readline");
const burn = "const t0 = process.cpuUsage(); for (;;) { const u = process.cpuUsage(t0); if (u.user + u.system >= 300000) break; }";
console.log("ready");
createInterface({ input: process.stdin }).on("line", (line) => {
  if (line === "main") { eval(burn); console.log("done"); }
  if (line === "worker") new Worker(burn, { eval: true }).once("exit", () => console.log("done"));
});
`;

describe("bench CPU meter", () => {
  it("tells a process's event-loop thread apart from its other threads", async () => {
    const child = spawn(process.execPath, ["-e", CHILD], { stdio: ["pipe", "pipe", "inherit"] });
    const lines = createInterface({ input: child.stdout });
    const next = async () => String((await once(lines, "line"))[0]);
    try {
      expect(await next()).toBe("ready");
      const pid = child.pid as number;
      const main0 = mainThreadTicks(pid);
      const all0 = processTicks(pid);
      child.stdin.write("main\n");
      expect(await next()).toBe("done");
      const main1 = mainThreadTicks(pid);
      const all1 = processTicks(pid);
      // 300 ms of CPU is 30 ticks of 10 ms; allow for the kernel's sampling.
      expect(main1 - main0).toBeGreaterThanOrEqual(20);
      // The kernel scales a process's and a thread's times separately (from their run time), so the
      // whole process may read a tick or two below its busiest thread.
      expect(all1 - all0).toBeGreaterThanOrEqual(main1 - main0 - 2);

      child.stdin.write("worker\n");
      expect(await next()).toBe("done");
      const main2 = mainThreadTicks(pid);
      const all2 = processTicks(pid);
      expect(all2 - all1).toBeGreaterThanOrEqual(20);
      expect(main2 - main1).toBeLessThan(10);
    } finally {
      child.kill();
    }
  });

  it("counts the runner's own CPU as the load generator's, not as other processes'", () => {
    const started = performance.now();
    const meter = cpuMeter(2 ** 22 + 1, process.pid);
    const t0 = process.cpuUsage();
    for (;;) {
      const used = process.cpuUsage(t0);
      if (used.user + used.system >= 300_000) break;
    }
    const shares = meter();
    const seconds = (performance.now() - started) / 1000;
    // 300 ms of this process's CPU, however long the machine took to give it (ticks are 10 ms).
    expect(shares.runnerCores * seconds).toBeGreaterThan(0.26);
    expect(shares.runnerCores * seconds).toBeLessThan(0.36);
    expect(shares.serverCores).toBe(0);
    const total = shares.serverCores + shares.otherCores + shares.runnerCores + shares.idleCores;
    expect(total).toBeGreaterThan(availableParallelism() - 0.3);
    expect(total).toBeLessThan(availableParallelism() + 0.3);
  });

  it("splits the machine's CPU per unit of work into parts that add up", () => {
    const budget = budgetPerUnit(
      { serverCores: 1.8, loopCores: 0.2, otherCores: 0.1, runnerCores: 0.05, idleCores: 0.05 },
      100,
    );
    expect(budget.pool).toBeCloseTo(16, 9);
    expect(budget.loop).toBeCloseTo(2, 9);
    expect(budget.other).toBeCloseTo(1, 9);
    expect(budget.loadGenerator).toBeCloseTo(0.5, 9);
    expect(budget.idle).toBeCloseTo(0.5, 9);
    // Two cores at 100 per second: 20 ms of a core per unit.
    expect(budget.total).toBeCloseTo(20, 9);
  });

  it("reads 0 for a process that is gone", () => {
    expect(mainThreadTicks(2 ** 22 + 1)).toBe(0);
    expect(processTicks(2 ** 22 + 1)).toBe(0);
  });
});

describe("waiting for a child's output", () => {
  it("answers with the match once the output holds it", async () => {
    const child = { output: () => 'warming up\nmeasuring\n{"n":1}\n', alive: () => true };
    const [line] = await waitForOutput(child, /^\{.*\}$/m);
    expect(line).toBe('{"n":1}');
  });

  it("fails, with the output, when the child has exited without printing it", async () => {
    const child = { output: () => "Error: verify failed\n", alive: () => false };
    await expect(waitForOutput(child, /^measuring$/m)).rejects.toThrow(/exited before printing[\s\S]*verify failed/);
  });
});
