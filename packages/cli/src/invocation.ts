/*
 * How the user started chatter, so that every hint names a command that works where they are.
 * From a clone, `chatter` is not on the PATH: `npx chatter` and `npm run chat --` are. Telling a
 * newcomer to "run `chatter login`" there sends them to a command that does not exist.
 */

export type Invocation =
  /** On the PATH (a global install, or a shell alias). */
  | { kind: 'path' }
  /** `npx chatter` / `npm exec chatter` from the repository. */
  | { kind: 'npx' }
  /** `npm run <script> -- ...`, where the script runs this CLI (the root's `chat`). */
  | { kind: 'npm-run'; script: string };

/**
 * npm describes what it is running in the environment of the process it starts. Only trust that
 * description when it names this CLI: `npm test` runs tests that start chatter, and those runs
 * inherit `npm_lifecycle_event=test`, which says nothing about how chatter itself was started.
 */
export function detectInvocation(env: NodeJS.ProcessEnv): Invocation {
  const event = env.npm_lifecycle_event;
  const script = (env.npm_lifecycle_script ?? '').replace(/^['"]|['"]$/g, '');
  if (!event) return { kind: 'path' };
  if (event === 'npx' && /^chatter(\s|$)/.test(script)) return { kind: 'npx' };
  if ((env.npm_command === 'run' || env.npm_command === 'run-script') && /packages\/cli\/(bin|dist|src)\//.test(script)) {
    return { kind: 'npm-run', script: event };
  }
  return { kind: 'path' };
}

let current: Invocation = { kind: 'path' };

/** Set once per run by `main()`: the program name is a property of the process, like argv[0]. */
export function setInvocation(invocation: Invocation): void {
  current = invocation;
}

/**
 * The command line that runs `chatter <args>` the way the user started it: `npx chatter login`,
 * `npm run chat -- login`. In a pipeline `npm run` must be silent (`-s`), or its banner lines
 * would reach the next command (`jq`) with the output.
 */
export function command(args = '', opts: { inPipe?: boolean } = {}, invocation: Invocation = current): string {
  switch (invocation.kind) {
    case 'npx':
      return args ? `npx chatter ${args}` : 'npx chatter';
    case 'npm-run': {
      const run = `npm run${opts.inPipe ? ' -s' : ''} ${invocation.script}`;
      return args ? `${run} -- ${args}` : run;
    }
    case 'path':
      return args ? `chatter ${args}` : 'chatter';
  }
}
