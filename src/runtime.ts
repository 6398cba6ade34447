/**
 * The Node.js release lines Latchkey supports: CI runs the whole suite on 20 and 24; 22 sits between
 * them and uses nothing the two do not. 24 is the one to deploy (20 is past its end of life).
 */
export const SUPPORTED_NODE_MAJORS: readonly number[] = [20, 22, 24];
export const RECOMMENDED_NODE_MAJOR = 24;

/** One line for the log when `version` (e.g. "20.19.2" or "v25.0.0") is not a supported release line. */
export function unsupportedRuntimeWarning(version: string): string | undefined {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (SUPPORTED_NODE_MAJORS.includes(major)) return undefined;
  const lines = SUPPORTED_NODE_MAJORS.join(", ");
  return `Node.js ${version.replace(/^v/, "")} is not supported: Latchkey supports Node.js ${lines} (${RECOMMENDED_NODE_MAJOR} recommended)`;
}
