// The scenario registry. A scenario is one module exporting:
//   id, title, targets (which servers it applies to), defaultTargets? (the ones a plain run uses),
//   plan({quick, rates?, sizes?}) -> {rounds, targetRounds?: {target: n}, steps: [{key, params, rounds?, targets?}],
//                     chatterUsers?, chatterDataDir?: 'shared'|'own', bcryptCost?, targetEnv?(target, step)},
//   profileSteps?(runs, {quick}) -> step keys to profile Chatter at after the counted runs (uncounted),
//   prepare?(ctx) (orchestrator side, before any run: seeding and the like; may return `extra`
//                  handed to every load run),
//   load(params, ctx) (runs in the pinned load-generator process, returns the step's JSON result),
//   report(runs, ctx) -> {markdown, charts: [{file, alt, svg}], verdicts: [{target, measured, met}]}.
// To add a scenario (search, scale-out...), write the module and list it here.
import fanout from './fanout.mjs';
import capacity from './capacity.mjs';
import idle from './idle.mjs';
import reconnect from './reconnect.mjs';
import logins from './logins.mjs';
import history from './history.mjs';
import web from './web.mjs';
import abuse from './abuse.mjs';
import connections from './connections.mjs';
import rooms from './rooms.mjs';

// A scenario with `defaultRun: false` (connections-100k) runs only when named with --only.
export const SCENARIOS = [fanout, capacity, idle, reconnect, rooms, logins, history, web, abuse, connections];

export function scenarioById(id) {
  const s = SCENARIOS.find((x) => x.id === id);
  if (!s) throw new Error(`unknown scenario ${id}; known: ${SCENARIOS.map((x) => x.id).join(', ')}`);
  return s;
}
