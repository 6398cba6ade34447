/**
 * Reading V8 CPU profiles (`node --cpu-prof`): the functions where the server spent its time, and
 * the folded-stack form (`frame;frame;frame count`) that flame-graph tools draw (flamegraph.pl,
 * speedscope, inferno). Chrome DevTools (Performance → Load profile) opens the .cpuprofile itself.
 */
import { readFileSync, writeFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Share of the sampled time per function, by its own code only. */
  self: Array<{ frame: string; share: number }>;
  /** Share of the sampled time per function, with everything it called. */
  inclusive: Array<{ frame: string; share: number }>;
  /** Share of the sampled time the thread was idle (waiting for I/O). */
  idle: number;
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.split("/").slice(-2).join("/");
  return `${functionName || "(anonymous)"}${file ? ` ${file}:${lineNumber + 1}` : ""}`;
}

/** Time per leaf node, and each node's parent, from the samples. */
function sampled(profile: CpuProfile): { time: Map<number, number>; parent: Map<number, number>; total: number } {
  const time = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    time.set(id, (time.get(id) ?? 0) + delta);
    total += delta;
  });
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  return { time, parent, total };
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const { time, parent, total } = sampled(profile);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let idle = 0;
  for (const [id, t] of time) {
    const leaf = nodes.get(id);
    if (!leaf) continue;
    if (leaf.callFrame.functionName === "(idle)") idle += t;
    const leafName = frameName(leaf);
    self.set(leafName, (self.get(leafName) ?? 0) + t);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = nodes.get(cur);
      if (!node) break;
      const name = frameName(node);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + t);
    }
  }
  const ranked = (m: Map<string, number>) =>
    [...m]
      .filter(([frame]) => !frame.startsWith("(root)") && !frame.startsWith("(idle)"))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([frame, t]) => ({ frame, share: total > 0 ? t / total : 0 }));
  return { self: ranked(self), inclusive: ranked(inclusive), idle: total > 0 ? idle / total : 0 };
}

/** Writes `file` with `.folded` instead of `.cpuprofile`: one line per stack, its sampled microseconds. */
export function writeFoldedStacks(file: string): string {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const { time, parent } = sampled(profile);
  const lines: string[] = [];
  for (const [id, t] of time) {
    const stack: string[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = nodes.get(cur);
      if (!node || node.callFrame.functionName === "(root)") break;
      stack.push(frameName(node).replaceAll(";", ","));
    }
    if (stack.length > 0 && t > 0) lines.push(`${stack.reverse().join(";")} ${t}`);
  }
  const out = file.replace(/\.cpuprofile$/, ".folded");
  writeFileSync(out, `${lines.join("\n")}\n`);
  return out;
}
