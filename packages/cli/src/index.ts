/*
 * The terminal client as a library: the pieces a later feature (new slash commands, another
 * front end) builds on. The `chatter` bin is main.ts.
 */
export { main, version } from './cli.js';
export { CommandRegistry, builtinCommands, type ChatCommand, type CommandContext } from './tui/commands.js';
export { ChatApp, type ChatAppOptions } from './tui/chat-app.js';
export { LineEditor } from './tui/line-editor.js';
export { configDir, configPath, readConfig, writeConfig, normalizeServerUrl, type CliConfig, type StoredSession } from './config.js';
export { KeyDecoder, type Key } from './term/keys.js';
export { Screen } from './term/screen.js';
export { stringWidth, graphemeWidth, truncate } from './term/width.js';
export { wrapSpans } from './term/wrap.js';
