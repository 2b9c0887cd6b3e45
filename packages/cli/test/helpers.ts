/*
 * Running the real `chatter` for tests: as a child process with pipes (scriptable commands), or
 * inside a private tmux server (prompts and the full-screen client), reading the screen back with
 * capture-pane. Nothing is faked: the CLI talks to a real server over real sockets.
 */
import { ChatterClient } from '@chatter/client';
import type { TestUser } from '@chatter/server/testing';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '../../..');
export const mainScript = join(repoRoot, 'packages/cli/dist/main.js');

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), st.mtimeMs);
}

let checked = false;

/**
 * How to run the CLI: built, as users run it. Through tsx from sources every start costs seconds of
 * compiling (10 to 30 under load, against the tests' limits), and the suites start it some hundred
 * times. `scripts/test.mjs` builds it first (`tsc -b`, which does nothing when it is up to date), so
 * it is never stale there; run any other way, a build older than its sources fails the test rather
 * than testing code that is not the code. (tsc -b stamps each package's .tsbuildinfo on every build,
 * also when no output changed.)
 */
export function cliCommand(): string[] {
  if (!checked) {
    for (const pkg of ['protocol', 'client', 'cli']) {
      const stamp = join(repoRoot, 'packages', pkg, 'dist/.tsbuildinfo');
      if (!existsSync(stamp) || statSync(stamp).mtimeMs < newestMtime(join(repoRoot, 'packages', pkg, 'src'))) {
        throw new Error(`packages/${pkg}/dist is older than its sources: run the CLI tests with \`node scripts/test.mjs packages/cli/\` (it builds first), or \`npx tsc -b packages/cli\`.`);
      }
    }
    checked = true;
  }
  return [process.execPath, mainScript];
}

let counter = 0;
export function uniqueName(prefix = 'u'): string {
  return `${prefix}${process.pid.toString(36)}${(counter++).toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A throwaway config dir (CHATTER_CONFIG_DIR) so tests never touch the real ~/.config. */
export function tempConfigDir(): { dir: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'chatter-cli-'));
  const dir = join(root, 'config');
  return { dir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Environment for a CLI run: no inherited CHATTER_* or NO_COLOR, plus `extra`. */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('CHATTER_') && k !== 'NO_COLOR' && k !== 'NODE_TEST_CONTEXT') env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run `chatter args...` to completion with pipes for stdio. */
export function runCli(args: string[], opts: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const [node, ...argv] = cliCommand();
    const child = spawn(node!, [...argv, ...args], { env: cliEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`chatter ${args.join(' ')} did not finish in time.\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/**
 * Run `main()` in this process with captured output: for argument and usage checks that never
 * reach the network, so they cost no process start. Everything else is tested as a real process.
 */
export async function runInProcess(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const { main } = await import('../src/cli.js');
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  stdin.end();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await main(args, {
    stdin: stdin as unknown as NodeJS.ReadStream,
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: stderr as unknown as NodeJS.WriteStream,
    env: cliEnv(env),
  });
  return { code, stdout: out, stderr: err };
}

/** A long-running `chatter` (tail) whose output is read as it comes. */
export class CliProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: Record<string, string | undefined> = {}) {
    const [node, ...argv] = cliCommand();
    this.child = spawn(node!, [...argv, ...args], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((r) => this.child.on('close', (code, signal) => r({ code, signal })));
  }

  /** Wait until `check` holds; fails at once, with the exit code, if chatter exits first. */
  async waitFor(check: (p: CliProcess) => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this)) {
      const { exitCode, signalCode } = this.child;
      if (exitCode !== null || signalCode !== null) {
        throw new Error(`chatter exited (${exitCode ?? signalCode}) while waiting for ${what}.\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      await sleep(50);
    }
  }

  stdoutLines(): string[] {
    return this.stdout.split('\n').filter((l) => l.length > 0);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  wait(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exited;
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * One tmux server per test file (its own socket, so it never touches anyone's tmux), with a
 * session per CLI run. Panes stay after the program exits so its last screen and exit status
 * can be read.
 */
export class Tmux {
  readonly socket = `chatter-cli-test-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  readonly statusDir = mkdtempSync(join(tmpdir(), 'chatter-tmux-'));

  private run(args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  }

  /** Start `chatter args...` in a new session of `cols` x `rows`. */
  start(args: string[], env: Record<string, string | undefined> = {}, size = { cols: 80, rows: 24 }): TmuxSession {
    return this.startProgram([...cliCommand(), ...args], env, size);
  }

  /** Start any program (`argv`) in a new session, as `start` does for chatter. */
  startProgram(argv: string[], env: Record<string, string | undefined> = {}, size = { cols: 80, rows: 24 }): TmuxSession {
    const name = uniqueName('s');
    const vars = Object.entries({ TERM: 'xterm-256color', ...env })
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${shellQuote(v!)}`);
    const unset = Object.keys(process.env).filter((k) => k.startsWith('CHATTER_') || k === 'NO_COLOR').map((k) => `-u ${k}`);
    // tmux does not always report a dead pane's exit status, so the shell writes it to a file.
    const statusFile = join(this.statusDir, `${name}.status`);
    // The terminal modes after it exits show whether it restored the terminal (no raw mode left).
    const command = `env ${unset.join(' ')} ${vars.join(' ')} ${argv.map(shellQuote).join(' ')}; status=$?; stty -a > ${shellQuote(`${statusFile}.stty`)} 2>&1; echo $status > ${shellQuote(statusFile)}`;
    this.run([
      'start-server', ';',
      // Keep the server up between sessions: one exiting as the next session starts breaks it.
      'set-option', '-g', 'exit-empty', 'off', ';',
      'set-option', '-g', 'remain-on-exit', 'on', ';',
      'new-session', '-d', '-s', name, '-x', String(size.cols), '-y', String(size.rows), command,
    ]);
    return new TmuxSession(this, name, statusFile);
  }

  exec(args: string[]): string {
    return this.run(args);
  }

  /** Stop the tmux server and everything still running in it. */
  destroy(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server'], { stdio: 'ignore' });
    rmSync(this.statusDir, { recursive: true, force: true });
  }
}

export class TmuxSession {
  constructor(
    private readonly tmux: Tmux,
    readonly name: string,
    private readonly statusFile: string,
  ) {}

  /** Type text literally (no key names). */
  type(text: string): void {
    this.tmux.exec(['send-keys', '-t', this.name, '-l', text]);
  }

  /** Press keys by tmux name: Enter, Tab, Up, PageUp, C-c, BSpace... */
  keys(...keys: string[]): void {
    this.tmux.exec(['send-keys', '-t', this.name, ...keys]);
  }

  /** The visible screen as plain text, one line per row. */
  screen(): string {
    return this.tmux.exec(['capture-pane', '-p', '-t', this.name]);
  }

  /** The screen and the lines scrolled off it (a dead pane scrolls by one for tmux's notice). */
  transcript(): string {
    return this.tmux.exec(['capture-pane', '-p', '-J', '-S', '-200', '-t', this.name]);
  }

  /** The screen with escape sequences for colors and attributes. */
  screenWithStyles(): string {
    return this.tmux.exec(['capture-pane', '-p', '-e', '-t', this.name]);
  }

  cursor(): { x: number; y: number } {
    const [x, y] = this.tmux.exec(['display-message', '-p', '-t', this.name, '#{cursor_x} #{cursor_y}']).trim().split(' ').map(Number);
    return { x: x!, y: y! };
  }

  /** `stty -a` taken right after the program exited. */
  ttyModesAfterExit(): string {
    return readFileSync(`${this.statusFile}.stty`, 'utf8');
  }

  /** Whether the pane shows the alternate screen, and whether the cursor is visible. */
  screenModes(): { alternate: boolean; cursorVisible: boolean } {
    const [alt, cursor] = this.tmux.exec(['display-message', '-p', '-t', this.name, '#{alternate_on} #{cursor_flag}']).trim().split(' ');
    return { alternate: alt === '1', cursorVisible: cursor === '1' };
  }

  /** The pid of the program (the child of the pane's shell). */
  pid(): number {
    const shell = this.tmux.exec(['display-message', '-p', '-t', this.name, '#{pane_pid}']).trim();
    const out = spawnSync('pgrep', ['-P', shell], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
    if (!out) throw new Error(`no program running in ${this.name}`);
    return Number(out);
  }

  /** Exit status once the program has ended, else null. */
  exitStatus(): number | null {
    try {
      const text = readFileSync(this.statusFile, 'utf8').trim();
      return text ? Number(text) : null;
    } catch {
      return null;
    }
  }

  resize(cols: number, rows: number): void {
    this.tmux.exec(['resize-window', '-t', this.name, '-x', String(cols), '-y', String(rows)]);
  }

  /**
   * Wait until the screen passes `check`. If the program has exited and its last screen does not
   * pass, nothing will change any more: fail at once, with the exit status.
   */
  async waitFor(check: string | RegExp | ((screen: string) => boolean), timeoutMs = 20_000): Promise<string> {
    const test = typeof check === 'function' ? check : typeof check === 'string' ? (s: string) => s.includes(check) : (s: string) => check.test(s);
    const deadline = Date.now() + timeoutMs;
    let screen = '';
    for (;;) {
      // The status first: a screen read after it is the final one.
      const exited = this.exitStatus();
      screen = this.screen();
      if (test(screen)) return screen;
      if (exited !== null) throw new Error(`The program exited (status ${exited}) while waiting for ${String(check)}. Last screen:\n${this.transcript()}`);
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${String(check)} on screen:\n${screen}`);
      await sleep(100);
    }
  }

  async waitForExit(timeoutMs = 15_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = this.exitStatus();
      if (status !== null) return status;
      if (Date.now() > deadline) throw new Error(`Program in ${this.name} did not exit. Screen:\n${this.screen()}`);
      await sleep(100);
    }
  }

  kill(): void {
    spawnSync('tmux', ['-L', this.tmux.socket, 'kill-session', '-t', this.name], { stdio: 'ignore' });
  }
}

/** The environment of a full-screen client signed in as `token` on `url`, with no config file of its own. */
export function chatEnv(url: string, token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { CHATTER_SERVER: url, CHATTER_TOKEN: token, CHATTER_CONFIG_DIR: '/nonexistent-chatter-test-config', ...extra };
}

/** A second user on the SDK, resolved once its socket is online. */
export async function connectAs(url: string, user: TestUser, history = 0): Promise<ChatterClient> {
  const client = new ChatterClient({ url, token: user.token, WebSocket, history });
  const online = new Promise<void>((resolve) => {
    const off = client.on('status', (s) => {
      if (s.status === 'online') {
        off();
        resolve();
      }
    });
  });
  client.connect();
  await online;
  return client;
}

/** The bottom line of a screen (the chat's prompt), trailing blank lines aside. */
export function lastLine(screen: string): string {
  const lines = screen.replace(/\n+$/, '').split('\n');
  return lines[lines.length - 1] ?? '';
}

/** Type a line into the chat's prompt, press Enter, and wait until the prompt is empty again. */
export async function command(session: TmuxSession, line: string): Promise<void> {
  session.type(line);
  session.keys('Enter');
  await session.waitFor((s) => lastLine(s) === '>');
}
