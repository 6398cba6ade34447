// The size `npm start` gives libuv's thread pool, where the argon2id hashes run: one thread per core,
// at least two (see start.cts). CommonJS, so that start.cts can use it before any ES module loads;
// the benchmark gives its raw argon2id probe the same pool.
const { availableParallelism } = require("node:os") as typeof import("node:os");

function defaultThreadPoolSize(): number {
  return Math.max(2, availableParallelism());
}

export = defaultThreadPoolSize;
