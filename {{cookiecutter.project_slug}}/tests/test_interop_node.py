"""A Node BullMQ producer and this Python worker share a queue: same Lua scripts, same key layout.

Needs ``node`` and ``npm`` (CI installs them); scripts/nodebullmq.py installs
npm bullmq once into a cache directory outside the project.
"""

from __future__ import annotations

import json
import os
import subprocess

import nodebullmq

from harness import QUEUE

# Adds a job from Node, polls until the Python worker finished it, prints what Node reads back.
# Polling Job.fromId, not QueueEvents: a QueueEvents reader starts at the stream's end and can
# miss a job finished before its first read, which made the test flaky under load.
PRODUCER_JS = """
const { Job, Queue } = require("bullmq");
const [url, queueName] = process.argv.slice(2);
const u = new URL(url);  // credentials too, when the tests run as the restricted ACL user
const connection = {
  host: u.hostname,
  port: Number(u.port),
  username: decodeURIComponent(u.username) || undefined,
  password: decodeURIComponent(u.password) || undefined,
};
(async () => {
  const queue = new Queue(queueName, { connection });
  const job = await queue.add("echo", { from: "node", n: 42 });
  const deadline = Date.now() + 30000;
  let stored = await Job.fromId(queue, job.id);
  while (!stored.finishedOn && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    stored = await Job.fromId(queue, job.id);
  }
  if (!stored.finishedOn) throw new Error(`job ${job.id} not finished within 30 s`);
  const state = await stored.getState();
  console.log(JSON.stringify({ id: job.id, state, stored: stored.returnvalue }));
  await queue.close();
})().catch((error) => { console.error(error); process.exit(1); });
"""


def test_jobs_from_a_node_producer_are_processed_and_their_result_read_from_node(redis_server, start_service, tmp_path):
    modules = nodebullmq.node_modules()
    worker = start_service(redis_server.url)
    worker.wait_for_log("worker started")
    script = tmp_path / "producer.js"
    script.write_text(PRODUCER_JS)

    result = subprocess.run(
        ["node", str(script), redis_server.url, QUEUE],
        env={**os.environ, "NODE_PATH": str(modules)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    expected = {"echo": {"from": "node", "n": 42}}
    assert seen["state"] == "completed"
    assert seen["stored"] == expected
    assert f'"job_id": "{seen["id"]}"' in worker.log, "the worker did not log the job"
