import { ChatterApi, ChatterApiError, ChatterClient, type AckFrame } from '@chatter/client';
import { DEFAULT_ROOM, codePointLength } from '@chatter/protocol';
import { WebSocket } from 'ws';
import type { OptionValues } from '../args.js';
import { CliError, EXIT, rejectedTokenMessage, requireToken, resolveSession, type Session } from '../context.js';
import { command } from '../invocation.js';
import { resolveTarget, TargetError } from '../rooms.js';
import type { IO } from './auth.js';

const DEFAULT_TIMEOUT_S = 15;

/** `--room` and `--dm` name one place; both at once is a usage error. */
export function targetOptions(options: OptionValues): { room?: string; dm?: string } {
  const room = typeof options.room === 'string' ? options.room : undefined;
  const dm = typeof options.dm === 'string' ? options.dm : undefined;
  if (room !== undefined && dm !== undefined) throw new CliError('Give --room or --dm, not both.', EXIT.usage);
  if (room !== undefined && !room.trim()) throw new CliError('--room needs a room name or id.', EXIT.usage);
  return { ...(room !== undefined && { room }), ...(dm !== undefined && { dm }) };
}

/** The room id a script's `--room NAME|ID` or `--dm USER[,USER]` names, as a CliError when it names none. */
export async function targetRoom(session: Session, token: string, target: { room?: string; dm?: string }): Promise<{ id: string; label: string }> {
  try {
    return await resolveTarget(new ChatterApi({ baseUrl: session.server, token }), target, DEFAULT_ROOM);
  } catch (error) {
    if (error instanceof TargetError) throw new CliError(error.message);
    if (error instanceof ChatterApiError) {
      if (error.status === 401) throw new CliError(rejectedTokenMessage(session));
      if (error.code === 'network_error') throw new CliError(`Cannot reach ${session.server}: ${error.message}`);
      throw new CliError(error.message);
    }
    throw error;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  stream.setEncoding('utf8');
  let text = '';
  for await (const chunk of stream) text += chunk as string;
  return text;
}

/**
 * `chatter send [room] <text>`: with two or more arguments the first is the room; with one it is
 * the text (so `chatter send "$msg"` never mistakes a one-word message for a room). The text comes
 * from stdin when none is given (or it is "-") and stdin is not a terminal.
 */
export async function send(args: string[], options: OptionValues, io: IO): Promise<number> {
  const session = resolveSession(options, io.env);
  const target = targetOptions(options);
  let text: string | undefined;
  if (args.length >= 2 && target.room === undefined && target.dm === undefined) {
    target.room = args[0]!;
    text = args.slice(1).join(' ');
  } else if (args.length >= 1) text = args.join(' ');
  if (text === undefined || text === '-') {
    if (io.stdin.isTTY) {
      throw new CliError(`Nothing to send: give the text (\`${command('send "hello"')}\`) or pipe it in (\`echo hello | ${command('send')}\`).`, EXIT.usage);
    }
    text = (await readAll(io.stdin)).replace(/\s+$/, '');
  }
  if (!text.trim()) throw new CliError('Nothing to send: the message is empty.', EXIT.usage);
  // The length limit is the server's (CHATTER_MESSAGE_MAX_CHARS, in its hello): checked once connected.
  const length = codePointLength(text.trim());
  const timeoutS = options.timeout === undefined ? DEFAULT_TIMEOUT_S : Number(options.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new CliError('--timeout takes a number of seconds > 0.', EXIT.usage);
  const token = requireToken(session);
  const room = (await targetRoom(session, token, target)).id;

  const client = new ChatterClient({ url: session.server, token, WebSocket, history: 0 });
  const ack = await new Promise<AckFrame>((resolve, reject) => {
    let clientId = '';
    let everOnline = false;
    let warned = false;
    const finish = (error: CliError | null, value?: AckFrame) => {
      clearTimeout(timer);
      for (const off of offs) off();
      client.close();
      if (error) reject(error);
      else resolve(value!);
    };
    const timer = setTimeout(() => {
      finish(
        new CliError(
          everOnline
            ? `No confirmation from ${session.server} within ${timeoutS} s; the message may not have been stored.`
            : `Gave up after ${timeoutS} s: could not connect to ${session.server}. The message was not sent.`,
        ),
      );
    }, timeoutS * 1000);
    const offs = [
      client.on('status', (s) => {
        if (s.status === 'online') everOnline = true;
        if (s.status === 'reconnecting' && s.retryAt !== undefined && !warned) {
          warned = true;
          io.stderr.write(`chatter: cannot reach ${session.server} yet; retrying for up to ${timeoutS} s...\n`);
        }
      }),
      client.on('ack', (a) => {
        if (a.clientId === clientId) finish(null, a);
      }),
      client.on('outbox', (items) => {
        const mine = items.find((i) => i.clientId === clientId);
        if (mine?.state === 'failed') finish(new CliError(`The server refused the message: ${mine.error ?? 'no reason given'}`));
      }),
      client.on('session_ended', () => finish(new CliError(rejectedTokenMessage(session)))),
    ];
    // Sent once the server has said hello, and with it its limits; a resumed connection says hello
    // again, but the message is queued by then (the outbox resends it with the same client id).
    offs.push(
      client.on('hello', () => {
        if (clientId) return;
        const max = client.messageMaxChars;
        if (length > max) return finish(new CliError(`The message is ${length} characters long; the limit on ${session.server} is ${max}. Nothing was sent.`));
        try {
          clientId = client.send(room, text!).clientId;
        } catch (error) {
          finish(new CliError(error instanceof ChatterApiError ? error.message : String(error), EXIT.usage));
        }
      }),
    );
    client.connect();
  });
  if (options.json) {
    // The shape scripts already read (the README's): the message's id as `id`, whatever the frame calls it.
    const { clientId, room: stored, messageId, seq, createdAt, duplicate } = ack;
    io.stdout.write(`${JSON.stringify({ clientId, room: stored, id: messageId, seq, createdAt, duplicate })}\n`);
  }
  return EXIT.ok;
}
