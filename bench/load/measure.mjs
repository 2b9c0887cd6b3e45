// A measured window: server CPU (from /proc, all threads), server memory, the generator's own CPU
// (to tell when the generator, not the server, was the bottleneck) and wall time.
import { performance } from 'node:perf_hooks';
import { readCpuSplitMicros, readMemoryKiB } from '../lib/proc.mjs';

export function openWindow(serverPid) {
  return {
    serverPid,
    wall: performance.now(),
    serverCpu: readCpuSplitMicros(serverPid),
    selfCpu: process.cpuUsage(),
  };
}

/** Close a window opened by openWindow: {wallMs, serverCpuMicros, serverSysMicros, serverCpuShare, selfCpuShare, rssKiB, hwmKiB}. */
export function closeWindow(win) {
  const wallMs = performance.now() - win.wall;
  const serverCpu = readCpuSplitMicros(win.serverPid);
  const self = process.cpuUsage(win.selfCpu);
  const mem = readMemoryKiB(win.serverPid);
  const both = serverCpu !== null && win.serverCpu !== null;
  const serverCpuMicros = both ? serverCpu.user + serverCpu.system - win.serverCpu.user - win.serverCpu.system : null;
  const serverSysMicros = both ? serverCpu.system - win.serverCpu.system : null;
  return {
    wallMs,
    serverCpuMicros,
    serverSysMicros,
    serverCpuShare: serverCpuMicros === null ? null : serverCpuMicros / (wallMs * 1000),
    selfCpuShare: (self.user + self.system) / (wallMs * 1000),
    rssKiB: mem?.rss ?? null,
    hwmKiB: mem?.hwm ?? null,
  };
}
