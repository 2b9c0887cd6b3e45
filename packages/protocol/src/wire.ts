import type { ServerFrame } from './frames.js';

/** Separator between frames coalesced into one WebSocket message. JSON.stringify never emits it raw. */
export const FRAME_SEPARATOR = '\n';

/**
 * Split one WebSocket message from the server into its frames. The server coalesces the frames
 * of one event-loop turn into one message to save a write per frame per socket.
 */
export function decodeServerMessage(data: string): ServerFrame[] {
  if (data.indexOf(FRAME_SEPARATOR) === -1) return [JSON.parse(data) as ServerFrame];
  const frames: ServerFrame[] = [];
  for (const line of data.split(FRAME_SEPARATOR)) {
    if (line.length > 0) frames.push(JSON.parse(line) as ServerFrame);
  }
  return frames;
}
