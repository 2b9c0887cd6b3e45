#!/usr/bin/env node
// The benchmark suite: `npm run bench` (full run, writes docs/benchmarks.md and docs/bench/*.svg)
// or `npm run bench -- --quick` (a sanity run; report under bench/results/).
//
// Options:
//   --quick               small counts and short windows (~7 minutes on a busy 2-core machine)
//   --only a,b            scenarios to run (ids: fanout, capacity, idle, reconnect, rooms, logins, history, web, abuse;
//                         opt-in, only when named: connections-100k)
//   --targets a,b         servers to run (chatter, socketio, ws-floor, ws-coalesce, chatter-nopace, chatter-syncnormal)
//   --rounds N            rounds per step (targets interleaved A B C A B C)
//   --rates a,b           offered msg/s of the fan-out steps (experiments: which rates are server-bound;
//                         then every target runs at every rate, and every size at the lowest)
//   --sizes a,b           message text bytes of the fan-out size steps ('' for none)
//   --profile             one extra Chatter run per step with a CPU profile of the measured window
//                         (without it, only the step the fan-out picks: where Chatter misses a target)
//   --docs / --no-docs    write (or not) docs/benchmarks.md; default: full run yes, quick run no
//   --verbose             log from the load generator
//   --report-from DIR     only rebuild the report from a results folder (bench/results/<stamp>)
//
// Each server runs pinned to the first core and the load generator to the second (taskset), both
// with the fd limit raised; every figure in the report comes from this run.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { registerUsers } from './lib/chatter-setup.mjs';
import { findTaskset, onlineCpus, spawnPinned } from './lib/proc.mjs';
import { summarizeCpuProfile } from './lib/profile.mjs';
import { flameGraphSvg } from './report/flame.mjs';
import { CHATTER_MAIN, ROOT, VARIANTS, baseKind, startTarget as startTargetRaw } from './lib/targets.mjs';
import { label, num, table, verdict } from './report/format.mjs';
import { SUITE_BUDGET_MINUTES, formatDuration, suiteTime } from './report/time.mjs';
import { SCENARIOS } from './scenarios/index.mjs';

const ALL_TARGETS = ['chatter', 'socketio', 'ws-floor', 'ws-coalesce', ...Object.keys(VARIANTS)];

/** Children alive right now, killed if the run is interrupted so no server outlives it. */
const live = new Set();
function track(child) {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}
let cleanupDir = null;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of live) child.kill('SIGKILL');
    if (cleanupDir) rmSync(cleanupDir, { recursive: true, force: true });
    process.exit(130);
  });
}

function parseArgs(argv) {
  const opts = { quick: false, only: null, targets: ALL_TARGETS, rounds: null, rates: null, sizes: null, profile: false, docs: null, verbose: false, reportFrom: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') opts.quick = true;
    else if (a === '--only') opts.only = value().split(',');
    else if (a === '--targets') opts.targets = value().split(',');
    else if (a === '--rounds') opts.rounds = Number(value());
    else if (a === '--rates') opts.rates = value().split(',').map(Number);
    else if (a === '--sizes') opts.sizes = value().split(',').filter(Boolean).map(Number);
    else if (a === '--profile') opts.profile = true;
    else if (a === '--docs') opts.docs = true;
    else if (a === '--no-docs') opts.docs = false;
    else if (a === '--verbose') opts.verbose = true;
    else if (a === '--report-from') opts.reportFrom = value();
    else if (a === '--help' || a === '-h') {
      console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  for (const t of opts.targets) if (!ALL_TARGETS.includes(t)) throw new Error(`unknown target ${t}`);
  if (opts.only) for (const id of opts.only) if (!SCENARIOS.some((s) => s.id === id)) throw new Error(`unknown scenario ${id}`);
  if (!opts.reportFrom) opts.docs ??= !opts.quick;
  return opts;
}

const say = (...args) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args);

function ensureChatterBuilt() {
  if (existsSync(CHATTER_MAIN)) return true;
  if (!existsSync(join(ROOT, 'packages/server/src/main.ts'))) return false;
  say('building the server (npx tsc -b packages/server)');
  const r = spawnSync('npx', ['tsc', '-b', 'packages/server'], { cwd: ROOT, stdio: 'inherit' });
  return r.status === 0 && existsSync(CHATTER_MAIN);
}

/**
 * Start a load generator process now, to be handed its task later: the generator loads its modules
 * (every scenario) while the server under test starts on the other core, instead of after it.
 * Returns {run(task) -> Promise<{result}|{error}>, kill()}; the task goes over stdin.
 */
function startLoad({ cpu, verbose, timeoutMs = 15 * 60_000 }) {
  const child = track(spawnPinned(process.execPath, [join(ROOT, 'bench/load/main.mjs')], { cpu, cwd: ROOT, env: process.env, stdio: ['pipe', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d.toString()));
  child.stderr.on('data', (d) => {
    err += d.toString();
    if (verbose) process.stderr.write(d);
    if (err.length > 100000) err = err.slice(-50000);
  });
  // An EPIPE if the generator died before its task arrived: its exit says why.
  child.stdin.on('error', () => {});
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    async run(task) {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.stdin.end(`${JSON.stringify(task)}\n`);
      const { code, signal } = await exited;
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT ') || l.startsWith('ERROR '));
      if (line?.startsWith('RESULT ')) return { result: JSON.parse(line.slice(7)) };
      return { error: line ? JSON.parse(line.slice(6)) : `load generator exited ${code ?? signal}: ${err.slice(-1500)}` };
    },
    kill() {
      child.kill('SIGKILL');
    },
  };
}

function machineInfo() {
  const cpus = os.cpus();
  const version = (pkg) => {
    try {
      return JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
    } catch {
      return '?';
    }
  };
  let commit = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // no commits yet
  }
  let chatterVersion = '?';
  try {
    chatterVersion = JSON.parse(readFileSync(join(ROOT, 'packages/server/package.json'), 'utf8')).version;
  } catch {
    // not there
  }
  return {
    cpuModel: cpus[0]?.model ?? '?',
    cores: cpus.length,
    memoryGiB: os.totalmem() / 2 ** 30,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    versions: { chatter: chatterVersion, 'socket.io': version('socket.io'), ws: version('ws'), 'better-sqlite3': version('better-sqlite3'), fastify: version('fastify') },
    commit,
  };
}

async function startTarget(kind, options) {
  const server = await startTargetRaw(kind, options);
  track(server.child);
  return server;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.reportFrom) return reportFrom(opts.reportFrom, opts.docs ?? undefined);
  const started = performance.now();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const resultsDir = join(ROOT, 'bench/results', `${stamp}${opts.quick ? '-quick' : ''}`);
  mkdirSync(resultsDir, { recursive: true });
  const workDir = mkdtempSync(join(os.tmpdir(), 'chatter-bench-'));
  cleanupDir = workDir;
  const cpus = onlineCpus();
  const taskset = findTaskset();
  const pin = taskset && cpus.length >= 2;
  const serverCpu = pin ? cpus[0] : undefined;
  const loadCpu = pin ? cpus[1] : undefined;
  say(pin ? `server on CPU ${serverCpu}, load generator on CPU ${loadCpu}` : 'not pinning (taskset missing or a single CPU)');

  let targets = opts.targets;
  const notes = [];
  // Two cores, one for the server and one for the generator: anything else running makes both
  // figures and generator-bound marks noisy, and a run of record should say so on its first page.
  const loadAtStart = os.loadavg()[0];
  if (loadAtStart > 1) {
    notes.push(`The machine was busy when this run began (load average ${loadAtStart.toFixed(1)} over the last minute, on ${os.cpus().length} cores): other processes competed with the server and the generator, so treat these figures as noisy and rerun on a quiet machine for a run of record.`);
    say(`warning: load average ${loadAtStart.toFixed(1)} at start; the figures will be noisy`);
  }
  if (targets.some((t) => baseKind(t) === 'chatter') && !ensureChatterBuilt()) {
    notes.push('Chatter was not measured: packages/server/dist/main.js is missing and could not be built.');
    say('Chatter is not built; running the peers only');
    targets = targets.filter((t) => baseKind(t) !== 'chatter');
  }
  // Opt-in scenarios (defaultRun: false) run only when named with --only.
  const scenarios = SCENARIOS.filter((s) => (opts.only ? opts.only.includes(s.id) : s.defaultRun !== false));
  const plans = new Map(scenarios.map((s) => [s.id, s.plan({ quick: opts.quick, rates: opts.rates, sizes: opts.sizes })]));

  // One shared Chatter database for every scenario that does not bring its own: users and their
  // tokens are registered once (at bcrypt cost 4, fsync relaxed: set-up, not measured).
  const sharedDataDir = join(workDir, 'chatter-shared');
  const tokensFile = join(workDir, 'tokens.json');
  const usersNeeded = Math.max(
    0,
    ...scenarios.filter((s) => s.targets.some((t) => baseKind(t) === 'chatter') && plans.get(s.id).chatterDataDir !== 'own').map((s) => plans.get(s.id).chatterUsers ?? 0),
  );
  const setup = { users: 0, ms: 0 };
  if (targets.some((t) => baseKind(t) === 'chatter') && usersNeeded > 0) {
    const t0 = performance.now();
    const server = await startTarget('chatter', { cpu: serverCpu, dataDir: sharedDataDir, bcryptCost: 4, env: { CHATTER_SQLITE_SYNC: 'normal' } });
    try {
      say(`registering ${usersNeeded} Chatter users`);
      const users = await registerUsers(server.url, usersNeeded, { onProgress: (n) => opts.verbose && say(`  ${n} registered`) });
      writeFileSync(tokensFile, JSON.stringify(users));
      setup.users = users.length;
    } finally {
      await server.stop();
    }
    setup.ms = performance.now() - t0;
    say(`registered ${setup.users} users in ${(setup.ms / 1000).toFixed(1)} s`);
  } else writeFileSync(tokensFile, '[]');

  const allRuns = {};
  const profiles = [];
  for (const scenario of scenarios) {
    const plan = plans.get(scenario.id);
    // A scenario may run fewer targets by default than it can (`defaultTargets`); --targets picks any.
    const scenarioTargets = scenario.targets.filter((t) => targets.includes(t) && (opts.targets !== ALL_TARGETS || !scenario.defaultTargets || scenario.defaultTargets.includes(t)));
    if (scenarioTargets.length === 0) continue;
    const rounds = opts.rounds ?? plan.rounds ?? 1;
    const ctx = { workDir, quick: opts.quick, serverCpu, loadCpu, sharedDataDir, say, startTarget, registerUsers };
    const preparedAt = performance.now();
    const prepared = scenario.prepare ? await scenario.prepare(ctx) : {};
    const prepareSeconds = (performance.now() - preparedAt) / 1000;
    const runs = [];
    const t0 = performance.now();
    const loadBefore = os.loadavg()[0];
    const roundsText = opts.rounds ? String(rounds) : [...new Set(plan.steps.map((st) => st.rounds ?? rounds))].join('/');
    say(`scenario ${scenario.id}: ${plan.steps.length} step(s) × ${roundsText} round(s) × [${scenarioTargets.join(', ')}]`);
    const runOne = async (step, round, target, { profileDir } = {}) => {
      let server;
      const run = { scenario: scenario.id, target, step: step.key, round, params: step.params };
      // Where a run's wall time goes (server start, the generator's task, server stop): the
      // suite's time budget is spent here, and the start and stop are overhead, not measurement.
      const timing = { startMs: 0, loadMs: 0, stopMs: 0 };
      run.timing = timing;
      let mark = performance.now();
      const lap = (key) => {
        const now = performance.now();
        timing[key] = now - mark;
        mark = now;
      };
      const load = startLoad({ cpu: loadCpu, verbose: opts.verbose });
      try {
        if (profileDir) mkdirSync(profileDir, { recursive: true });
        // A scenario whose measurement is all in its set-up (the web app's) starts no server per run.
        if (plan.server !== false) server = await startTarget(target, {
          cpu: serverCpu,
          // A scenario may give each run (prepared.dataDirFor(step, round)) or each step
          // (prepared.dataDirs[step.key]) its own database.
          dataDir: prepared.dataDirFor?.(step.key, round) ?? prepared.dataDirs?.[step.key] ?? prepared.dataDir ?? sharedDataDir,
          bcryptCost: plan.bcryptCost ?? 4,
          env: plan.targetEnv?.(target, step) ?? {},
          // A scenario may read every target's memory through the inspector (`plan.inspect`).
          inspect: Boolean(profileDir) || Boolean(plan.inspect),
        });
        lap('startMs');
        const task = {
          scenario: scenario.id,
          params: step.params,
          target: {
            kind: baseKind(target),
            variant: target,
            host: server?.host,
            port: server?.port,
            url: server?.url,
            pid: server?.pid,
            inspectorUrl: server?.inspectorUrl,
            ...(profileDir && server?.inspectorUrl && { profile: { url: server.inspectorUrl, dir: profileDir } }),
          },
          tokensFile: prepared.tokensFile ?? tokensFile,
          extra: prepared.extra ?? {},
          verbose: opts.verbose,
        };
        Object.assign(run, await load.run(task));
        lap('loadMs');
      } catch (err) {
        run.error = String(err.message ?? err);
      } finally {
        load.kill(); // a no-op once it has exited; a generator whose server never started goes too
        mark = performance.now();
        await server?.stop();
        lap('stopMs');
      }
      if (run.error && server) run.serverStderr = server.stderr().slice(-3000);
      return run;
    };
    for (const step of plan.steps) {
      // A step may ask for more rounds than the scenario's (where its figures are noisiest), run
      // only some targets, and give some targets fewer rounds (context peers).
      const stepRounds = opts.rounds ?? step.rounds ?? rounds;
      const stepTargets = scenarioTargets.filter((t) => !step.targets || step.targets.includes(t));
      const roundsOf = (t) => (opts.rounds ? opts.rounds : Math.min(stepRounds, plan.targetRounds?.[t] ?? stepRounds));
      for (let round = 0; round < stepRounds; round++) {
        for (const target of stepTargets) {
          if (round >= roundsOf(target)) continue;
          const run = await runOne(step, round, target);
          runs.push(run);
          say(`  ${scenario.id} ${step.key} round ${round + 1} ${target}: ${run.error ? 'ERROR ' + run.error.slice(0, 300) : scenario.summaryLine?.(run.result) ?? 'ok'}`);
        }
      }
    }
    // Profiling runs come after, and are not counted: the profiler costs the server CPU. With
    // --profile, every step; otherwise the steps the scenario asks for, given its counted runs
    // (the fan-out profiles a step where Chatter misses a target, so the report can show why).
    const profileRuns = [];
    const profileSteps = opts.profile ? plan.steps : plan.steps.filter((st) => (scenario.profileSteps?.(runs, { quick: opts.quick }) ?? []).includes(st.key));
    if (scenarioTargets.includes('chatter')) {
      for (const step of profileSteps) {
        const profileDir = join(resultsDir, 'profiles', `${scenario.id}-${step.key}`);
        const run = await runOne(step, 0, 'chatter', { profileDir });
        profileRuns.push(run);
        say(`  ${scenario.id} ${step.key} chatter, profiled: ${run.error ? 'ERROR ' + run.error.slice(0, 300) : 'ok'}`);
        for (const file of existsSync(profileDir) ? readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).sort() : []) {
          const name = file.replace(/\.cpuprofile$/, '');
          const flame = join(profileDir, `${name}.flame.svg`);
          writeFileSync(flame, flameGraphSvg(JSON.parse(readFileSync(join(profileDir, file), 'utf8')), { title: `Chatter, ${name}: CPU flame graph of the measured window` }));
          profiles.push({ scenario: scenario.id, step: step.key, name, file: join(profileDir, file), flame, summary: summarizeCpuProfile(join(profileDir, file)), run: profileSummary(scenario, run) });
        }
      }
    }
    const loadAverage = [loadBefore, os.loadavg()[0]];
    allRuns[scenario.id] = { runs, profileRuns, rounds, targets: scenarioTargets, seconds: (performance.now() - t0) / 1000, prepareSeconds, loadAverage, prepared: prepared.info ?? null };
    say(`scenario ${scenario.id} took ${formatDuration(prepareSeconds + allRuns[scenario.id].seconds)}`);
    writeFileSync(join(resultsDir, `${scenario.id}.json`), JSON.stringify(allRuns[scenario.id], null, 1));
  }

  const totalS = (performance.now() - started) / 1000;
  const summary = {
    command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
    generatedAt: new Date().toISOString(),
    machine: machineInfo(),
    opts,
    totalSeconds: totalS,
    setup,
    notes,
    pinning: pin ? { serverCpu, loadCpu } : null,
    scenarios: scenarios.map((sc) => sc.id).filter((id) => allRuns[id]),
    profiles: profiles.map((p) => ({ ...p, file: relative(ROOT, p.file), flame: relative(ROOT, p.flame) })),
  };
  const { reportPath, verdicts } = writeReport(summary, allRuns, resultsDir, opts.docs);
  writeFileSync(join(resultsDir, 'summary.json'), JSON.stringify({ ...summary, verdicts }, null, 1));
  rmSync(workDir, { recursive: true, force: true });
  say(`done in ${(totalS / 60).toFixed(1)} min; report: ${relative(ROOT, reportPath)}; raw: ${relative(ROOT, resultsDir)}`);
  const time = suiteTime(summary, allRuns);
  for (const [what, seconds] of time.rows) say(`  ${formatDuration(seconds).padStart(9)}  ${what}`);
  if (time.overBudget) say(`WARNING: ${time.overBudget}`);
  for (const v of verdicts) say(`  ${v.met === null ? (v.reason === 'context' ? 'CONTEXT' : v.reason ? `NOT JUDGED (${v.reason})` : 'NOT JUDGED') : v.met ? 'MET    ' : 'NOT MET'} ${v.target}: ${v.measured}`);
}

/** Rebuild the report from a results folder (after changing only the report code). */
function reportFrom(dir, docs) {
  const resultsDir = join(process.cwd(), dir);
  const summary = JSON.parse(readFileSync(join(resultsDir, 'summary.json'), 'utf8'));
  const allRuns = Object.fromEntries(summary.scenarios.map((id) => [id, JSON.parse(readFileSync(join(resultsDir, `${id}.json`), 'utf8'))]));
  const { reportPath } = writeReport({ ...summary, rebuiltAt: new Date().toISOString() }, allRuns, resultsDir, docs ?? !summary.opts.quick);
  say(`report rebuilt from ${relative(ROOT, resultsDir)}: ${relative(ROOT, reportPath)}`);
}

/** One line on what a profiled run measured (it is not counted, but its figures say which load the profile shows). */
function profileSummary(scenario, run) {
  return run.result ? (scenario.summaryLine?.(run.result) ?? null) : null;
}

function writeReport(summary, allRuns, resultsDir, docs) {
  const { command, machine, opts, setup, notes } = summary;
  const totalS = summary.totalSeconds;
  const pin = Boolean(summary.pinning);
  const { serverCpu, loadCpu } = summary.pinning ?? {};
  const scenarios = SCENARIOS.filter((sc) => summary.scenarios.includes(sc.id));
  const profiles = summary.profiles.map((p) => ({ ...p, file: join(ROOT, p.file), flame: p.flame && join(ROOT, p.flame) }));
  opts.docs = docs;
  const docsDir = join(ROOT, 'docs');
  const reportPath = opts.docs ? join(docsDir, 'benchmarks.md') : join(resultsDir, 'benchmarks.md');
  const chartsDir = opts.docs ? join(docsDir, 'bench') : join(resultsDir, 'charts');
  mkdirSync(chartsDir, { recursive: true });
  // Flame graphs go beside the charts, so the report can link them (the raw results are not committed).
  const reportDir = opts.docs ? docsDir : resultsDir;
  // Flame graphs of an earlier report would stay in the folder, linked from nowhere.
  for (const old of readdirSync(chartsDir).filter((f) => f.startsWith('flame-') && f.endsWith('.svg'))) rmSync(join(chartsDir, old));
  for (const p of profiles) {
    if (!p.flame || !existsSync(p.flame)) continue;
    const copy = join(chartsDir, `flame-${p.scenario}-${p.step}-${p.name}.svg`.replace(/[^\w.-]+/g, '_'));
    copyFileSync(p.flame, copy);
    p.flameLink = relative(reportDir, copy);
  }

  const md = [];
  md.push('# Benchmarks');
  md.push('');
  md.push(`Generated by \`${command}\` on ${summary.generatedAt.slice(0, 16).replace('T', ' ')} UTC in ${(totalS / 60).toFixed(1)} minutes${opts.quick ? ' (**quick mode**: small counts, short windows; a sanity run, not the figures of record)' : ''}. Every number below comes from that one run; rerun the command to reproduce.${summary.rebuiltAt ? ` (Report layout rebuilt from that run's raw results with \`--report-from\` on ${summary.rebuiltAt.slice(0, 16).replace('T', ' ')} UTC.)` : ''}`);
  md.push('');
  const time = suiteTime(summary, allRuns);
  if (time.overBudget) md.push(`> **${time.overBudget}**`, '');
  md.push('## Machine and method');
  md.push('');
  md.push(table(['', ''], [
    ['CPU', `${machine.cpuModel}, ${machine.cores} cores`],
    ['Memory', `${num(machine.memoryGiB, 1)} GiB`],
    ['OS', machine.kernel],
    ['Node.js', machine.node],
    ['Versions', Object.entries(machine.versions).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['Commit', machine.commit ?? '(uncommitted tree)'],
    ['Pinning', pin ? `server on CPU ${serverCpu}, load generator on CPU ${loadCpu} (taskset)` : 'none (taskset missing or one CPU)'],
  ]));
  md.push('');
  md.push('- Targets: **Chatter** (`node packages/server/dist/main.js`, SQLite WAL, every commit fsynced before its ack, every message authenticated, validated, stored with its sequence number and acked before fan-out); **Socket.IO 4** (`bench/peers/socketio.mjs`: websocket transport only, `io.emit` relay, nothing stored); **ws floor** (`bench/peers/ws-floor.mjs`: bare `ws`, each message serialized once and sent to every socket, nothing stored); **coalescing floor** (`bench/peers/ws-coalesce.mjs`: bare `ws` speaking Chatter\'s protocol 2 frames, nothing stored or checked, all frames of one event-loop turn joined and written as one pre-built WebSocket frame per socket, as Chatter\'s hub does; the lower bound for Chatter\'s way of writing, and the one its fan-out targets are stated against); **Chatter, pacing off** (the same server with `CHATTER_FANOUT_PACE=0`, in the fan-out and, when asked for, the capacity scenario: what pacing costs and buys). In the many-rooms scenario every peer routes by room: the floors keep a set of sockets per room, Socket.IO uses its rooms.');
  md.push('- One load generator for every target (`bench/load/`), on its own lean WebSocket client over raw sockets (`bench/load/rawws.mjs`: one shared read buffer, frames parsed in place, one clock read per socket read): Chatter frames (Chatter and the coalescing floor), Engine.IO v4 / Socket.IO framing spoken by hand, plain JSON for the floor. Each chat text carries its message number and send time, found in the received bytes without parsing, so client cost is the same for every target. On 2 cores the generator\'s read of a message costs about what the server\'s write of it does, so rows where the generator was above 90% of its core are marked and not judged.');
  md.push('- Each step starts a fresh server process; targets are interleaved (A B C A B C) so machine drift hits all equally. Server CPU is utime+stime of the server process from `/proc/<pid>/stat` over the measured window; memory is `VmRSS` from `/proc/<pid>/status`.');
  md.push(`- Chatter users are registered once over REST before the scenarios (${num(setup.users)} users in ${num(setup.ms / 1000, 1)} s at bcrypt cost 4); Chatter runs with its rate limits and caps raised for the load generator (\`RAISED_LIMITS\` in \`bench/lib/targets.mjs\`: message and frame budgets, sign-in and registration throttles, sockets per address), except in the abuse scenario, which runs at the defaults.`);
  md.push('- The machine is shared (other processes may run on it), so absolute figures are context; the ratios between targets measured in the same run are the point.');
  for (const n of notes ?? []) md.push(`- ${n}`);
  md.push('');

  const allVerdicts = [];
  const sections = [];
  for (const scenario of scenarios) {
    const data = allRuns[scenario.id];
    if (!data) continue;
    const ok = data.runs.filter((r) => r.result);
    const failed = data.runs.filter((r) => r.error);
    const section = [`## ${scenario.title}`, ''];
    if (ok.length) {
      const rep = scenario.report(data.runs, { targets: data.targets, quick: opts.quick, prepared: data.prepared, profiles: profiles.filter((p) => p.scenario === scenario.id), profileRuns: data.profileRuns ?? [] });
      section.push(rep.markdown);
      for (const chart of rep.charts ?? []) {
        const file = join(chartsDir, chart.file);
        writeFileSync(file, chart.svg);
        section.push('', `![${chart.alt}](${relative(opts.docs ? docsDir : resultsDir, file)})`);
      }
      for (const v of rep.verdicts ?? []) allVerdicts.push({ scenario: scenario.title, ...v });
    }
    if (failed.length) {
      section.push('', 'Runs that failed:', '');
      for (const f of failed) section.push(`- ${label(f.target)}, step ${f.step}, round ${f.round + 1}: ${f.error.split('\n')[0].slice(0, 400)}`);
    }
    section.push('', `_${data.runs.length} runs in ${num(data.seconds, 0)} s; machine load average (1 min) ${num(data.loadAverage[0], 1)} before, ${num(data.loadAverage[1], 1)} after (2 cores: above ~2 means other processes competed); raw results in \`bench/results/${relative(join(ROOT, 'bench/results'), resultsDir)}/${scenario.id}.json\`._`);
    sections.push(section.join('\n'));
  }
  md.push('## Summary against the targets of issues 3 (web app), 4 (server), 9 (abuse), 10 (benchmarks) and 11 (many rooms)');
  md.push('');
  if (allVerdicts.length) {
    md.push(table(['Scenario', 'Target', 'Measured', 'Verdict'], allVerdicts.map((v) => [v.scenario.split(':')[0], v.target, v.measured, verdict(v.met, v.reason)])));
  } else md.push('No target could be evaluated in this run.');
  md.push('');
  md.push(...sections.flatMap((s) => [s, '']));
  if (profiles.length) {
    md.push('## Where Chatter spends its CPU');
    md.push('');
    md.push('Each profiled step (with `--profile`, every step; by default the step the fan-out and the many-rooms scenarios pick where Chatter misses a target, see their sections) gets one extra Chatter run, not counted above, that runs the server with `--inspect` and records a V8 CPU profile over exactly the measured window (or the connection set-up, or the storm), through the inspector protocol. Self time per function and per file:');
    md.push('');
    for (const p of profiles) {
      md.push(`### ${p.name} (${num(p.summary.totalMs)} ms profiled)`);
      md.push('');
      md.push(table(['Function', 'Where', 'Self ms', 'Share'], p.summary.functions.slice(0, 15).map((f) => [f.name, f.where, num(f.selfMs), `${num(f.share * 100, 1)}%`])));
      md.push('');
      md.push(`By file: ${p.summary.files.slice(0, 10).map((f) => `${f.file} ${num(f.share * 100, 1)}%`).join(', ')}.`);
      md.push('');
      if (p.run) md.push(`The profiled run (uncounted, with the profiler's own cost): ${p.run}.`, '');
      md.push(`Profile: \`${relative(ROOT, p.file)}\` (open in Chrome DevTools or speedscope)${p.flameLink ? `; flame graph: [${p.flameLink}](${p.flameLink}) (open in a browser; hover for times)` : p.flame ? `; flame graph: \`${relative(ROOT, p.flame)}\`` : ''}.`);
      md.push('');
    }
  }
  md.push('## Time');
  md.push('');
  md.push(`Wall-clock time of each part of this run (a scenario's set-up, such as seeding a database, included), against the budget of ${SUITE_BUDGET_MINUTES} minutes for the default \`npm run bench\`:`);
  md.push('');
  md.push(table(['Part', 'Time'], [...time.rows.map(([what, seconds]) => [what, formatDuration(seconds)]), ['**Total**', `**${formatDuration(totalS)}**`]]));
  md.push('');
  md.push('## Adding a scenario');
  md.push('');
  md.push('Write a module in `bench/scenarios/` (see `scenarios/index.mjs` for its shape: a plan of steps, a `load` function run in the pinned load-generator process, and a `report`) and list it in the registry. Search and scale-out scenarios join the same way.');
  md.push('');
  writeFileSync(reportPath, md.join('\n'));
  return { reportPath, verdicts: allVerdicts };
}

main().catch((err) => {
  console.error(err?.stack ?? err);
  for (const child of live) child.kill('SIGKILL');
  if (cleanupDir) rmSync(cleanupDir, { recursive: true, force: true });
  process.exit(1);
});
