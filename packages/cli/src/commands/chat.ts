import { ChatterApi, ChatterApiError, ChatterClient } from '@chatter/client';
import { WebSocket } from 'ws';
import type { OptionValues } from '../args.js';
import { colorMode } from '../term/ansi.js';
import { exitCodeForSignal, Terminal } from '../term/terminal.js';
import { CliError, EXIT, rejectedTokenMessage, requireToken, resolveSession } from '../context.js';
import { command } from '../invocation.js';
import { ChatApp } from '../tui/chat-app.js';
import type { IO } from './auth.js';

/** Enough to fill a tall terminal and scroll back a little before paging history. */
const HISTORY_ON_START = 100;

export async function chat(args: string[], options: OptionValues, io: IO & { stdout: NodeJS.WriteStream }): Promise<number> {
  const session = resolveSession(options, io.env);
  const room = args[0];
  if (!io.stdin.isTTY || !io.stdout.isTTY) {
    throw new CliError(`The full-screen chat needs a terminal. In scripts use \`${command('send')}\` and \`${command('tail')}\`.`, EXIT.usage);
  }
  const token = requireToken(session);

  // A bad token is worth saying before taking over the screen. A server that is down is not:
  // the chat opens anyway and shows itself retrying.
  const api = new ChatterApi({ baseUrl: session.server, token });
  try {
    await api.me();
  } catch (error) {
    if (error instanceof ChatterApiError && error.status === 401) throw new CliError(rejectedTokenMessage(session));
  }

  // A person is watching the status bar: cap the wait between retries lower than the SDK's 30 s.
  const client = new ChatterClient({ url: session.server, token, WebSocket, history: HISTORY_ON_START, reconnect: { maxDelayMs: 10_000 }, api });
  const terminal = new Terminal(io.stdin, io.stdout);
  const color = colorMode(io.stdout, io.env, options.color as boolean | undefined);

  return new Promise<number>((resolve) => {
    let done = false;
    const finish = (code: number) => {
      if (done) return;
      done = true;
      client.close();
      terminal.restore();
      resolve(code);
    };
    const app = new ChatApp({
      client,
      api,
      output: io.stdout,
      color,
      serverLabel: session.server.replace(/^https?:\/\//, ''),
      server: session.server,
      ...(room !== undefined && { room }),
      onQuit: () => finish(EXIT.ok),
    });
    terminal.enter({
      onKeys: (keys) => app.handleKeys(keys),
      onResize: () => app.resized(),
      onSignal: (signal) => {
        finish(signal === 'SIGINT' ? EXIT.interrupted : exitCodeForSignal(signal));
        app.quit();
      },
    });
    client.connect();
    app.render();
  });
}
