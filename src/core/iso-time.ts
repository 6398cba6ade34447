/** A time kept as milliseconds since the epoch, as the API shows it: ISO 8601 in UTC. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
