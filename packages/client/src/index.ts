export { ChatterApi, type ChatterApiOptions } from './api.js';
export { ChatterApiError, type ChatterApiErrorInit } from './errors.js';
export {
  ChatterClient,
  type ChatterClientEvents,
  type ChatterClientOptions,
  type ConnectionStatus,
  type HistoryEvent,
  type StatusEvent,
  type WebSocketConstructor,
} from './client.js';
export type { OutboxStore, PendingMessage } from './outbox.js';
export { backoffCeiling, backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
// Re-exported so apps can type their handlers without importing the protocol package themselves.
export type {
  AckFrame,
  AuthResponse,
  ChangePasswordBody,
  HelloFrame,
  HistoryResponse,
  LoginBody,
  MeResponse,
  Message,
  PublicUser,
  RegisterBody,
  RegisterResponse,
  RoomSummary,
  RoomsResponse,
  SelfUser,
  ServerFrame,
  UserJoinedFrame,
  UserLeftFrame,
  UserUpdatedFrame,
} from '@chatter/protocol';
