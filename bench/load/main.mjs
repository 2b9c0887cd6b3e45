#!/usr/bin/env node
// The load generator process. The orchestrator (bench/run.mjs) pins it to its own core and hands it
// one task: a scenario id, the target's address and server pid, and the step's parameters. It runs
// the scenario's `load` function and prints one line "RESULT <json>" on stdout. Logs go to stderr.
// Usage: node bench/load/main.mjs TASK.json, or the task as one JSON line on stdin: the orchestrator
// starts the generator while the server starts, so its modules load in the meantime.
import { readFileSync } from 'node:fs';
import { text } from 'node:stream/consumers';
import { scenarioById } from '../scenarios/index.mjs';

const task = JSON.parse(process.argv[2] ? readFileSync(process.argv[2], 'utf8') : await text(process.stdin));
const scenario = scenarioById(task.scenario);
const tokens = task.tokensFile ? JSON.parse(readFileSync(task.tokensFile, 'utf8')) : [];
const log = (...args) => {
  if (task.verbose) console.error(`[load ${task.scenario} ${task.target.kind} +${process.uptime().toFixed(1)}s]`, ...args);
};

try {
  const result = await scenario.load(task.params, { target: task.target, tokens, log, extra: task.extra ?? {} });
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`, () => process.exit(0));
} catch (err) {
  console.error(err?.stack ?? err);
  process.stdout.write(`ERROR ${JSON.stringify(String(err?.message ?? err))}\n`, () => process.exit(1));
}
