// A measured window: server CPU (from /proc, all threads), server memory, the generator's own CPU
// (to tell when the generator, not the server, was the bottleneck) and wall time.
import { performance } from 'node:perf_hooks';
import { readCpuMicros, readMemoryKiB } from '../lib/proc.mjs';

export function openWindow(serverPid) {
  return {
    serverPid,
    wall: performance.now(),
    serverCpu: readCpuMicros(serverPid),
    selfCpu: process.cpuUsage(),
  };
}

/** Close a window opened by openWindow: {wallMs, serverCpuMicros, serverCpuShare, selfCpuShare, rssKiB, hwmKiB}. */
export function closeWindow(win) {
  const wallMs = performance.now() - win.wall;
  const serverCpu = readCpuMicros(win.serverPid);
  const self = process.cpuUsage(win.selfCpu);
  const mem = readMemoryKiB(win.serverPid);
  const serverCpuMicros = serverCpu !== null && win.serverCpu !== null ? serverCpu - win.serverCpu : null;
  return {
    wallMs,
    serverCpuMicros,
    serverCpuShare: serverCpuMicros === null ? null : serverCpuMicros / (wallMs * 1000),
    selfCpuShare: (self.user + self.system) / (wallMs * 1000),
    rssKiB: mem?.rss ?? null,
    hwmKiB: mem?.hwm ?? null,
  };
}
