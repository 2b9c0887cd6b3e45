import { ChatterApiError, ChatterClient, type Message } from '@chatter/client';
import { LIMITS } from '@chatter/protocol';
import { WebSocket } from 'ws';
import type { OptionValues } from '../args.js';
import { colorMode } from '../term/ansi.js';
import { CliError, EXIT, rejectedTokenMessage, requireToken, resolveSession } from '../context.js';
import { formatTailLine } from '../format.js';
import type { IO } from './auth.js';
import { targetOptions, targetRoom } from './send.js';

const DEFAULT_LINES = 10;

/**
 * `chatter tail [room]`: the last N messages, then every new one as it arrives, each exactly once
 * and in order (the SDK resumes from the last message after a reconnect). `--json` prints each
 * message as one JSON object per line (the protocol's Message) for jq and scripts.
 */
export async function tail(args: string[], options: OptionValues, io: IO & { stdout: NodeJS.WriteStream }): Promise<number> {
  const session = resolveSession(options, io.env);
  const target = targetOptions(options);
  if (args[0] !== undefined) {
    if (target.room !== undefined || target.dm !== undefined) throw new CliError('Name the room once: as an argument, or with --room or --dm.', EXIT.usage);
    target.room = args[0];
  }
  const count = options.lines === undefined ? DEFAULT_LINES : Number(options.lines);
  if (!Number.isInteger(count) || count < 0 || count > LIMITS.historyPageMax) {
    throw new CliError(`-n takes a whole number from 0 to ${LIMITS.historyPageMax}.`, EXIT.usage);
  }
  const follow = options.follow !== false;
  const json = Boolean(options.json);
  const color = json ? 'plain' : colorMode(io.stdout, io.env, options.color as boolean | undefined);
  const token = requireToken(session);
  const { id: room, label } = await targetRoom(session, token, target);

  // Recently active rooms come with the connection (`history`); any other room is loaded on hello.
  const client = new ChatterClient({ url: session.server, token, WebSocket, history: count });

  return new Promise<number>((resolve, reject) => {
    let started = false;
    let lastPrinted = 0;
    let everOnline = false;
    let outage = false;
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
    /** The room's newest messages are in the store: print the last `count`, then follow. */
    const start = () => {
      const view = client.store.room(room);
      if (started || !view?.loaded) return;
      started = true;
      const shown = view.messages.filter((m) => !m.deleted);
      lastPrinted = view.messages.at(-1)?.seq ?? 0;
      if (count > 0) {
        lastPrinted = 0;
        print(shown.slice(-count));
        lastPrinted = Math.max(lastPrinted, view.messages.at(-1)?.seq ?? 0);
      }
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
        if (!client.store.room(room)) return finish(EXIT.failure, new CliError(`Cannot read ${label}: you are not in it.`));
        if (client.store.room(room)?.loaded) return start();
        client.loadRoom(room, Math.max(1, count)).then(start, (error: unknown) => {
          const message = error instanceof ChatterApiError ? error.message : String(error);
          finish(EXIT.failure, new CliError(`Cannot read ${label}: ${message}`));
        });
      }),
      client.store.subscribeRoom(room, start),
      // Each new message once, in order: live, or replayed after a reconnect.
      client.on('message', (m) => {
        // A replayed message deleted since is a tombstone: nothing to print.
        if (started && m.room === room && !m.deleted) print([m]);
      }),
      // Too far behind to replay: the room was reloaded; print what is newer than the last line.
      client.on('reset', (e) => {
        if (started && e.room === room) print(client.store.room(room)?.messages.filter((m) => !m.deleted) ?? []);
      }),
      client.on('session_ended', () => finish(EXIT.failure, new CliError(rejectedTokenMessage(session)))),
    ];
    client.connect();
  });
}
