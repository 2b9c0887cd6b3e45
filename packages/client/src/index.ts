export { ChatterApi, type ChatterApiOptions } from './api.js';
export { ChatterApiError, type ChatterApiErrorInit } from './errors.js';
export {
  ChatterClient,
  type ChatterClientEvents,
  type ChatterClientOptions,
  type ConnectionStatus,
  type StatusEvent,
  type WebSocketConstructor,
} from './client.js';
export {
  ChatterStore,
  describeMembership,
  describeTyping,
  type ChatterStoreOptions,
  type MembershipEvent,
  type RoomMember,
  type RoomView,
  type TimelineItem,
} from './store.js';
export { actionText, isAction, ME_PREFIX } from './text.js';
export type { OutboxStore, PendingChange, PendingMessage } from './outbox.js';
export { backoffCeiling, backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
// Re-exported so apps can type their handlers without importing the protocol package themselves.
export type {
  AckFrame,
  AuthResponse,
  ChangePasswordBody,
  ChangeResponse,
  HelloFrame,
  HistoryResponse,
  LoginBody,
  MeResponse,
  Member,
  MembersResponse,
  Message,
  MessageResponse,
  MyRoom,
  MyRoomsResponse,
  MembershipUpdatedFrame,
  NotifyLevel,
  PublicUser,
  Reaction,
  ReadResponse,
  RegisterBody,
  RegisterResponse,
  Room,
  RoomEvent,
  RoomResponse,
  SelfUser,
  ServerFrame,
  UserUpdatedFrame,
} from '@chatter/protocol';
