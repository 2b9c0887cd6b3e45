import { ChatterApiError, ChatterClient, type Message } from '@chatter/client';
import { DEFAULT_ROOM, LIMITS } from '@chatter/protocol';
import { WebSocket } from 'ws';
import type { OptionValues } from '../args.js';
import { colorMode } from '../term/ansi.js';
import { CliError, EXIT, rejectedTokenMessage, requireToken, resolveSession } from '../context.js';
import { formatTailLine } from '../format.js';
import type { IO } from './auth.js';
import { checkRoom } from './send.js';

const DEFAULT_LINES = 10;

/**
 * `chatter tail [room]`: the last N messages, then every new one as it arrives, each exactly once
 * and in order (the SDK resumes from the last message after a reconnect). `--json` prints each
 * message as one JSON object per line (the protocol's Message) for jq and scripts.
 */
export async function tail(args: string[], options: OptionValues, io: IO & { stdout: NodeJS.WriteStream }): Promise<number> {
  const session = resolveSession(options, io.env);
  const room = checkRoom(args[0] ?? DEFAULT_ROOM);
  const count = options.lines === undefined ? DEFAULT_LINES : Number(options.lines);
  if (!Number.isInteger(count) || count < 0 || count > LIMITS.historyPageMax) {
    throw new CliError(`-n takes a whole number from 0 to ${LIMITS.historyPageMax}.`, EXIT.usage);
  }
  const follow = options.follow !== false;
  const json = Boolean(options.json);
  const color = json ? 'plain' : colorMode(io.stdout, io.env, options.color as boolean | undefined);
  const token = requireToken(session);

  // The server sends recent history of the default room on connect; other rooms are fetched.
  const client = new ChatterClient({ url: session.server, token, WebSocket, history: room === DEFAULT_ROOM ? count : 0 });

  return new Promise<number>((resolve, reject) => {
    let started = false;
    let lastPrinted = 0;
    let everOnline = false;
    let outage = false;
    const early: Message[] = [];
    const print = (messages: readonly Message[]) => {
      for (const m of messages) {
        if (m.room !== room || m.seq <= lastPrinted) continue;
        lastPrinted = m.seq;
        io.stdout.write(`${json ? JSON.stringify(m) : formatTailLine(m, color)}\n`);
      }
    };
    const finish = (code: number, error?: CliError) => {
      for (const off of offs) off();
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
      client.close();
      if (error) reject(error);
      else resolve(code);
    };
    const start = (messages: readonly Message[]) => {
      if (started) return;
      started = true;
      print(count === 0 ? [] : messages.slice(-count));
      print(early.sort((a, b) => a.seq - b.seq));
      early.length = 0;
      if (!follow) finish(EXIT.ok);
    };
    const onSigint = () => finish(EXIT.interrupted);
    const onSigterm = () => finish(EXIT.ok);
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigterm);
    // `chatter tail | head -3`: the reader went away; that is a normal way to stop.
    io.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') finish(EXIT.ok);
    });

    const offs = [
      client.on('status', (s) => {
        if (s.status === 'online') {
          if (outage) io.stderr.write('chatter: reconnected.\n');
          outage = false;
          everOnline = true;
        } else if (s.status === 'reconnecting' && s.retryAt !== undefined && !outage) {
          outage = true;
          io.stderr.write(
            everOnline
              ? 'chatter: connection lost; reconnecting (nothing will be missed)...\n'
              : `chatter: cannot reach ${session.server}; retrying until it answers (Ctrl+C to stop)...\n`,
          );
        }
      }),
      client.on('hello', () => {
        if (started) return;
        if (room === DEFAULT_ROOM && count > 0) return; // the initial history event starts it
        if (count === 0) return start([]);
        client.requestHistory(room, { limit: count }).then(
          (page) => start(page.messages),
          (error: unknown) => {
            const message = error instanceof ChatterApiError ? error.message : String(error);
            finish(EXIT.failure, new CliError(`Cannot read #${room}: ${message}`));
          },
        );
      }),
      client.on('history', (h) => {
        if (h.room !== room) return;
        if (!started) start(h.messages);
        else print(h.messages);
      }),
      client.on('message', (m) => {
        if (m.room !== room) return;
        if (started) print([m]);
        else early.push(m);
      }),
      client.on('session_ended', () => finish(EXIT.failure, new CliError(rejectedTokenMessage(session)))),
    ];
    client.connect();
  });
}
