/**
 * Coalesces concurrent reads by key into one query per batch: `load(key)` waits for a batch that is
 * sent after the call was made, so every answer reflects at least the rows committed before the
 * caller asked (a revocation committed before a request arrives is seen by that request). Under
 * load, keys gather while earlier batches are in flight, so one round trip answers many requests;
 * when idle, a key is sent on its own on the next turn of the event loop.
 */
export interface ReadBatcherOptions {
  /** Batches sent and not yet answered, at most (the rest wait and join the next batch). */
  maxInFlight: number;
  /** Keys in one batch, at most. */
  maxBatch: number;
  /** Runs a callback on a later turn of the event loop (`setImmediate` unless a test injects one). */
  schedule?: (callback: () => void) => void;
}

interface Waiting<V> {
  key: string;
  resolve(value: V | undefined): void;
  reject(error: unknown): void;
}

export class ReadBatcher<V> {
  readonly #fetch: (keys: string[]) => Promise<Map<string, V>>;
  readonly #maxInFlight: number;
  readonly #maxBatch: number;
  readonly #schedule: (callback: () => void) => void;
  #waiting: Waiting<V>[] = [];
  #inFlight = 0;
  #scheduled = false;

  /** `fetch` returns the rows found for the given distinct keys, by key; a missing key has no row. */
  constructor(fetch: (keys: string[]) => Promise<Map<string, V>>, options: ReadBatcherOptions) {
    if (!(options.maxInFlight >= 1 && options.maxBatch >= 1)) throw new RangeError("maxInFlight and maxBatch ≥ 1");
    this.#fetch = fetch;
    this.#maxInFlight = options.maxInFlight;
    this.#maxBatch = options.maxBatch;
    this.#schedule = options.schedule ?? setImmediate;
  }

  load(key: string): Promise<V | undefined> {
    return new Promise<V | undefined>((resolve, reject) => {
      this.#waiting.push({ key, resolve, reject });
      if (!this.#scheduled && this.#inFlight < this.#maxInFlight) {
        // Send on the next turn, so that the keys of requests read in this turn go together.
        this.#scheduled = true;
        this.#schedule(() => {
          this.#scheduled = false;
          this.#send();
        });
      }
    });
  }

  /** Sends batches while there are waiting keys and room in flight. */
  #send(): void {
    while (this.#waiting.length > 0 && this.#inFlight < this.#maxInFlight) {
      const batch = this.#waiting.splice(0, this.#maxBatch);
      this.#inFlight += 1;
      let answer: Promise<Map<string, V>>;
      try {
        answer = this.#fetch([...new Set(batch.map((w) => w.key))]);
      } catch (error) {
        answer = Promise.reject(error);
      }
      answer.then(
        (rows) => {
          for (const w of batch) w.resolve(rows.get(w.key));
        },
        (error: unknown) => {
          for (const w of batch) w.reject(error);
        },
      );
      // Sent after the answer's callbacks above, so that callers see their rows before the next batch goes.
      answer
        .catch(() => {})
        .finally(() => {
          this.#inFlight -= 1;
          this.#send();
        });
    }
  }
}
