// CPU-profile the server over exactly a measured window, through the inspector protocol (the
// server runs with --inspect=127.0.0.1:0 in profiling runs only). A profile of the whole process
// would be dominated by start-up and connection set-up; this one shows the hot path under load.
import { writeFileSync } from 'node:fs';
import { connectInspector } from './inspector.mjs';

/**
 * Start profiling when the target has an inspector; returns {stop(): Promise<void>} that writes
 * `${target.profile.dir}/${name}.cpuprofile`, or null when the target is not being profiled.
 */
export async function maybeProfile(target, name) {
  if (!target.profile?.url) return null;
  const inspector = await connectInspector(target.profile.url);
  await inspector.call('Profiler.enable');
  await inspector.call('Profiler.setSamplingInterval', { interval: 500 });
  await inspector.call('Profiler.start');
  return {
    async stop() {
      const result = await inspector.call('Profiler.stop').catch(() => ({}));
      inspector.close();
      if (result.profile) writeFileSync(`${target.profile.dir}/${name}.cpuprofile`, JSON.stringify(result.profile));
    },
  };
}
