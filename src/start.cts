// `npm start` runs this file (compiled to dist/start.cjs), which loads main.ts: the server.
//
// libuv's thread pool runs the argon2id hashes. With one thread per core (at least two), no more
// hashes compute at once than there are cores, so their memory (19 MiB each by default, mapped
// for each hash and given back after) stays bounded, while the hasher lets one more wait in the pool's
// queue so that a thread finishing a hash starts the next at once (see createArgon2Hasher). The
// size must be set before anything uses the pool, and loading ES modules does: hence this CommonJS
// entry. An operator's own UV_THREADPOOL_SIZE wins.
const defaultThreadPoolSize = require("./pool-size.cjs") as typeof import("./pool-size.cjs");

process.env.UV_THREADPOOL_SIZE ??= String(defaultThreadPoolSize());
void import("./main.js");
