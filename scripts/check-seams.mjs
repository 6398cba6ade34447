#!/usr/bin/env node
// The clock and randomness seams (ARCHITECTURE.md): only src/platform/ may read the real clock, make
// randomness or call node:crypto. Tests beside modules are exempt; they may build fixtures freely.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;
const FORBIDDEN = [
  [/\bDate\.now\(/, "Date.now()"],
  [/new Date\(\)/, "new Date()"],
  [/\bMath\.random\(/, "Math.random()"],
  [/from\s+["']node:crypto["']|require\(["'](node:)?crypto["']\)|from\s+["']crypto["']/, "node:crypto"],
];

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (path.endsWith(".ts") && !path.endsWith(".test.ts")) yield path;
  }
}

const problems = [];
for (const path of files(join(ROOT, "src"))) {
  const rel = relative(ROOT, path);
  if (rel.startsWith(`src${sep}platform${sep}`)) continue;
  readFileSync(path, "utf8")
    .split("\n")
    .forEach((line, index) => {
      for (const [pattern, what] of FORBIDDEN) {
        if (pattern.test(line)) problems.push(`${rel}:${index + 1}: ${what} outside src/platform/`);
      }
    });
}
if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("seams: ok");
