#!/usr/bin/env node
// How late an event loop wakes up on a core that busy threads share with it: a 2 ms timer loop
// (with 0.5 ms of work per wake, like a fan-out turn) for 3 s, beside two spinning worker threads
// at nice 19 (as Chatter's password hasher runs them), as SCHED_IDLE (`chrt -i`), or none.
// Run pinned to one core, the modes interleaved:
//   for r in 1 2 3; do for m in none nice idle; do taskset -c 0 node bench/probes/wake-latency.mjs $m; done; done
// Prints the lateness of each wake-up (ms): p50, p99, max. See bench/README.md, "Logins".
import { Worker } from 'node:worker_threads';

const mode = process.argv[2] ?? 'none';
if (!['none', 'nice', 'idle'].includes(mode)) throw new Error('mode: none | nice | idle');
const source = `
const { parentPort, workerData } = require('node:worker_threads');
const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
if (workerData.mode === 'nice') require('node:os').setPriority(tid, 19);
if (workerData.mode === 'idle') require('node:child_process').execFileSync('chrt', ['-i', '-p', '0', String(tid)]);
parentPort.postMessage('ready');
let x = 0;
for (;;) for (let i = 0; i < 1e6; i++) x = (x * 31 + i) | 0;
`;
if (mode !== 'none') {
  for (let i = 0; i < 2; i++) {
    const worker = new Worker(source, { eval: true, workerData: { mode } });
    await new Promise((resolve) => worker.once('message', resolve));
  }
}
const late = [];
const started = performance.now();
await new Promise((resolve) => {
  const work = () => {
    const until = performance.now() + 0.5;
    while (performance.now() < until);
  };
  const tick = () => {
    const due = performance.now() + 2;
    setTimeout(() => {
      late.push(performance.now() - due);
      if (performance.now() - started >= 3000) return resolve();
      work();
      tick();
    }, 2);
  };
  tick();
});
late.sort((a, b) => a - b);
const at = (q) => late[Math.floor(q * (late.length - 1))].toFixed(2);
console.log(`${mode.padEnd(5)} wake-ups ${late.length}  late p50 ${at(0.5)} ms  p99 ${at(0.99)} ms  max ${at(1)} ms`);
process.exit(0);
