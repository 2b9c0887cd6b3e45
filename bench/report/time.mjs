// The suite's wall-clock time, per part, against its budget.
import { num } from './format.mjs';

/** The default suite is meant to finish within this many minutes (issue 10). */
export const SUITE_BUDGET_MINUTES = 15;

/** `75` -> `1 min 15 s`. */
export function formatDuration(seconds) {
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/**
 * Each part's time (registration, then every scenario with its set-up) and, for the default suite
 * (neither --quick nor --only) over its budget, the sentence that says so.
 */
export function suiteTime(summary, allRuns) {
  const rows = [];
  if (summary.setup?.ms) rows.push([`registering ${num(summary.setup.users)} Chatter users`, summary.setup.ms / 1000]);
  for (const id of summary.scenarios) {
    const data = allRuns[id];
    if (!data) continue;
    // Starting and stopping a fresh server for every run is overhead the measurement needs (each run
    // on a fresh process), but it is time: said beside the scenario's, from each run's `timing`.
    const timed = [...(data.runs ?? []), ...(data.profileRuns ?? [])].filter((r) => r.timing);
    const startStop = timed.reduce((a, r) => a + (r.timing.startMs + r.timing.stopMs) / 1000, 0);
    const notes = [
      ...(data.prepareSeconds >= 0.5 ? [`set-up ${formatDuration(data.prepareSeconds)}`] : []),
      ...(timed.length && startStop >= 0.5 ? [`${timed.length} server starts and stops ${formatDuration(startStop)}`] : []),
    ];
    rows.push([`${id}${notes.length ? ` (${notes.join('; ')})` : ''}`, (data.prepareSeconds ?? 0) + data.seconds]);
  }
  const rest = summary.totalSeconds - rows.reduce((a, [, seconds]) => a + seconds, 0);
  if (rest >= 1) rows.push(['the rest (start, building, the report)', rest]);
  const defaultSuite = !summary.opts.quick && !summary.opts.only;
  const minutes = summary.totalSeconds / 60;
  const overBudget = defaultSuite && minutes > SUITE_BUDGET_MINUTES
    ? `Over budget: this run of the default suite took ${minutes.toFixed(1)} minutes, more than the ${SUITE_BUDGET_MINUTES} minutes it is meant to take (the "Time" section at the end says where they went).`
    : null;
  return { rows, overBudget };
}
