// A small client of the V8 inspector protocol, for a server started with --inspect=127.0.0.1:0: CPU
// profiles of a measured window (`profiler.mjs`), and memory read after a forced full GC, the same
// way for every target, so that garbage left by the set-up is not counted as held memory.
import WebSocket from 'ws';
import { readMemoryKiB } from '../lib/proc.mjs';
import { spread } from '../lib/stats.mjs';

/** Open a session on the inspector at `url`: {call(method, params) -> result, close()}. */
export async function connectInspector(url) {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1024 * 1024 * 1024 });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let nextId = 0;
  const pending = new Map();
  /** Listeners of protocol events (e.g. heap snapshot chunks), by method. */
  const listeners = new Map();
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.id !== undefined && pending.has(msg.id)) {
      const { resolve, reject, method } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
      else resolve(msg.result ?? {});
    } else if (msg.method) listeners.get(msg.method)?.(msg.params);
  });
  ws.on('close', () => {
    for (const { reject, method } of pending.values()) reject(new Error(`${method}: the inspector closed`));
    pending.clear();
  });
  return {
    call(method, params = {}) {
      return new Promise((resolve, reject) => {
        const id = ++nextId;
        pending.set(id, { resolve, reject, method });
        ws.send(JSON.stringify({ id, method, params }));
      });
    },
    on(method, listener) {
      listeners.set(method, listener);
    },
    close() {
      ws.close();
    },
  };
}

/**
 * The process's memory once its garbage is gone: `samples` times, a forced full GC
 * (`HeapProfiler.collectGarbage`), a pause for the allocator to hand pages back, then VmRSS and
 * the V8 heap in use. Returns the spread of each over the samples, in KiB: {rss, heapUsed}.
 */
export async function memoryAfterGc(pid, inspector, { samples = 5, pauseMs = 100 } = {}) {
  const rss = [];
  const heapUsed = [];
  for (let i = 0; i < samples; i++) {
    await inspector.call('HeapProfiler.collectGarbage');
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    rss.push(readMemoryKiB(pid)?.rss ?? null);
    const usage = await inspector.call('Runtime.getHeapUsage');
    heapUsed.push(typeof usage.usedSize === 'number' ? usage.usedSize / 1024 : null);
  }
  return { rss: spread(rss), heapUsed: spread(heapUsed) };
}

/** A heap snapshot of the process (after a forced GC), parsed: the `.heapsnapshot` JSON. */
export async function takeHeapSnapshot(inspector) {
  const chunks = [];
  inspector.on('HeapProfiler.addHeapSnapshotChunk', ({ chunk }) => chunks.push(chunk));
  await inspector.call('HeapProfiler.enable');
  await inspector.call('HeapProfiler.collectGarbage');
  await inspector.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  inspector.on('HeapProfiler.addHeapSnapshotChunk', null);
  return JSON.parse(chunks.join(''));
}
