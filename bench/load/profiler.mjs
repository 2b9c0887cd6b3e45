// CPU-profile the server over exactly a measured window, through the inspector protocol (the
// server runs with --inspect=127.0.0.1:0 in profiling runs only). A profile of the whole process
// would be dominated by start-up and connection set-up; this one shows the hot path under load.
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';

/**
 * Start profiling when the target has an inspector; returns {stop(): Promise<void>} that writes
 * `${target.profile.dir}/${name}.cpuprofile`, or null when the target is not being profiled.
 */
export async function maybeProfile(target, name) {
  if (!target.profile?.url) return null;
  const ws = new WebSocket(target.profile.url, { perMessageDeflate: false, maxPayload: 1024 * 1024 * 1024 });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let nextId = 0;
  const pending = new Map();
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.id !== undefined && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  });
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      const id = ++nextId;
      pending.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await call('Profiler.enable');
  await call('Profiler.setSamplingInterval', { interval: 500 });
  await call('Profiler.start');
  return {
    async stop() {
      const reply = await call('Profiler.stop');
      ws.close();
      if (reply.result?.profile) writeFileSync(`${target.profile.dir}/${name}.cpuprofile`, JSON.stringify(reply.result.profile));
    },
  };
}
