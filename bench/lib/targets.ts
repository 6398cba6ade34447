/**
 * The targets a run is held to (docs/benchmarks.md opens with them), judged on a run's figures: each
 * line names the target, then per database the figure and whether it was met.
 */
export const TARGETS = {
  validateRatio: 0.6,
  validateP99Ms: 5,
  loginRatio: 0.85,
  peakRssMb: 200,
} as const;

export interface DatabaseFigures {
  database: string;
  /** validate req/s ÷ the bare route's (mean of the baselines); undefined when not measured. */
  validateRatio?: number;
  validateP99Ms?: number;
  /** logins/s ÷ raw argon2id verifications/s; undefined when not measured. */
  loginRatio?: number;
  peakRssMb?: number;
}

function verdict(value: number | undefined, met: (value: number) => boolean, shown: (value: number) => string): string {
  if (value === undefined || !Number.isFinite(value)) return "not measured";
  return `${shown(value)} (${met(value) ? "met" : "NOT met"})`;
}

/** A Markdown table: one row per target, one column per database. */
export function targetTable(figures: DatabaseFigures[]): string[] {
  const rows: Array<[string, (f: DatabaseFigures) => string]> = [
    [
      `validate ≥ ${TARGETS.validateRatio} × the bare route`,
      (f) =>
        verdict(
          f.validateRatio,
          (v) => v >= TARGETS.validateRatio,
          (v) => `${v.toFixed(3)} ×`,
        ),
    ],
    [
      `validate p99 < ${TARGETS.validateP99Ms} ms`,
      (f) =>
        verdict(
          f.validateP99Ms,
          (v) => v < TARGETS.validateP99Ms,
          (v) => `${v} ms`,
        ),
    ],
    [
      `login ≥ ${TARGETS.loginRatio} × raw argon2id`,
      (f) =>
        verdict(
          f.loginRatio,
          (v) => v >= TARGETS.loginRatio,
          (v) => `${v.toFixed(3)} ×`,
        ),
    ],
    [
      `server RSS < ${TARGETS.peakRssMb} MB under load`,
      (f) =>
        verdict(
          f.peakRssMb,
          (v) => v < TARGETS.peakRssMb,
          (v) => `${Math.round(v)} MB`,
        ),
    ],
  ];
  return [
    `| target | ${figures.map((f) => f.database).join(" | ")} |`,
    `|---|${figures.map(() => "---").join("|")}|`,
    ...rows.map(([name, cell]) => `| ${name} | ${figures.map(cell).join(" | ")} |`),
  ];
}
