/**
 * How long a mail delivery usually takes, so that a request that must not reveal whether it sent a
 * mail (a password reset for an unknown address) can take as long as one that did. An exponential
 * moving average of recent successful deliveries; 0 until the first one.
 */
export class DeliveryPacer {
  #averageMs = 0;

  record(elapsedMs: number): void {
    if (!Number.isFinite(elapsedMs) || elapsedMs < 0) return;
    this.#averageMs = this.#averageMs === 0 ? elapsedMs : this.#averageMs * 0.8 + elapsedMs * 0.2;
  }

  typicalMs(): number {
    return Math.round(this.#averageMs);
  }
}
