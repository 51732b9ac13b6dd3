// Node BullMQ worker for bench.py: node bench_node.cjs REDIS_URL QUEUE KIND CONCURRENCY
// BULLMQ_MODULE names the installed bullmq package (bench.py installs it in a cache dir).
"use strict";
const { Worker } = require(process.env.BULLMQ_MODULE);

const [url, queue, kind, concurrency] = process.argv.slice(2);
const { hostname, port } = new URL(url);
const processor =
  kind === "sleep" ? () => new Promise((resolve) => setTimeout(resolve, 10)) : async () => undefined;

const worker = new Worker(queue, processor, {
  connection: { host: hostname, port: Number(port) },
  concurrency: Number(concurrency),
});
worker.on("error", (error) => console.error(error));
process.on("SIGTERM", async () => {
  await worker.close();
  process.exit(0);
});
