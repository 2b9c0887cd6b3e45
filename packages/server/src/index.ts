export { buildApp, VERSION, type AppDeps } from './app.js';
export { loadConfig, ConfigError, type Config } from './config.js';
export type { ChatStore } from './storage/types.js';
export { SqliteStore } from './storage/sqlite.js';
export type { FanoutBus, BusEvent } from './bus/types.js';
export { InProcessBus } from './bus/memory.js';
