// Process plumbing shared by the orchestrator and the load generator: CPU and memory of a pid from
// /proc, and spawning a child pinned to one core with a raised file-descriptor limit.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks;
/** Kernel clock ticks per second (the unit of utime/stime in /proc/<pid>/stat). */
export function clockTicksPerSecond() {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU time of a process (all its threads), in microseconds; null if unreadable. */
export function readCpuMicros(pid) {
  const split = readCpuSplitMicros(pid);
  return split === null ? null : split.user + split.system;
}

/**
 * CPU time of a process (all its threads) in microseconds, split into user and kernel time; null
 * if unreadable. The kernel share tells socket writes (loopback TCP is paid by the writer) from
 * JavaScript work.
 */
export function readCpuSplitMicros(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after it are space-separated.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const tick = 1e6 / clockTicksPerSecond();
    return { user: Number(fields[11]) * tick, system: Number(fields[12]) * tick };
  } catch {
    return null;
  }
}

/** Memory figures of a process in KiB from /proc/<pid>/status: {rss, hwm}; null if unreadable. */
export function readMemoryKiB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: field('VmRSS'), hwm: field('VmHWM') };
  } catch {
    return null;
  }
}

let tasksetPath;
/** Path of taskset, or null when the machine has none (then nothing is pinned). */
export function findTaskset() {
  if (tasksetPath === undefined) {
    try {
      tasksetPath = execFileSync('sh', ['-c', 'command -v taskset'], { encoding: 'utf8' }).trim() || null;
    } catch {
      tasksetPath = null;
    }
  }
  return tasksetPath;
}

/** Online CPUs as the kernel lists them, e.g. [0, 1]. */
export function onlineCpus() {
  try {
    const list = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
    const cpus = [];
    for (const part of list.split(',')) {
      const [a, b] = part.split('-').map(Number);
      for (let c = a; c <= (b ?? a); c++) cpus.push(c);
    }
    return cpus;
  } catch {
    return [0];
  }
}

/**
 * Spawn `command args` pinned to `cpu` (when taskset exists and cpu is given) with the fd limit
 * raised to `nofile`: soft and hard where allowed (root, or a hard limit already that high), else
 * the soft limit up to the hard limit. 150,000 leaves room for the 100,000-connection scenario on
 * both the server and the generator side. The shell `exec`s, so the child's pid is the pid of the
 * real program and /proc readings are of it.
 */
export function spawnPinned(command, args, { cpu, nofile = 150000, env, cwd, stdio = ['ignore', 'pipe', 'pipe'] } = {}) {
  const taskset = cpu === undefined || cpu === null ? null : findTaskset();
  const argv = taskset ? [taskset, '-c', String(cpu), command, ...args] : [command, ...args];
  const script = `n=${Number(nofile)}; if ! ulimit -n "$n" 2>/dev/null; then h=$(ulimit -Hn); if [ "$h" != unlimited ] && [ "$h" -lt "$n" ]; then n=$h; fi; ulimit -n "$n" 2>/dev/null; fi; exec "$@"`;
  return spawn('sh', ['-c', script, 'sh', ...argv], { env, cwd, stdio });
}

/** Resolve when a line of the child's stdout matches `pattern`; reject on exit or timeout. */
export function waitForLine(child, pattern, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let stderr = '';
    const timer = setTimeout(() => done(new Error(`timed out waiting for ${pattern}; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
    const onData = (chunk) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (pattern.test(line)) return done(null, line);
    };
    const onErr = (chunk) => {
      stderr += chunk.toString();
      if (stderr.length > 20000) stderr = stderr.slice(-10000);
    };
    const onExit = (code, signal) => done(new Error(`exited (${code ?? signal}) before ${pattern}; stderr: ${stderr.slice(-2000)}`));
    function done(err, line) {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(line);
    }
    child.stdout.on('data', onData);
    child.stderr?.on('data', onErr);
    child.on('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export function stopChild(child, graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
