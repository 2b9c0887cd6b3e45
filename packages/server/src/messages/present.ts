import type { Message } from '@chatter/protocol';
import type { MessageRecord, MessageWithAuthor } from '../storage/types.js';
import { avatarUrl } from '../users/present.js';

export function presentStored(m: MessageWithAuthor): Message {
  return {
    id: m.id,
    room: m.roomId,
    seq: m.seq,
    author: { id: m.authorId, username: m.authorUsername, avatarUrl: avatarUrl(m.authorAvatarKey) },
    text: m.text,
    clientId: m.clientId,
    createdAt: new Date(m.createdAt).toISOString(),
  };
}

export function present(m: MessageRecord, author: Message['author']): Message {
  return { id: m.id, room: m.roomId, seq: m.seq, author, text: m.text, clientId: m.clientId, createdAt: new Date(m.createdAt).toISOString() };
}
