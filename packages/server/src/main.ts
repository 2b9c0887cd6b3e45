#!/usr/bin/env node
import { prepareEmojiCheck } from '@chatter/protocol';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { startBanner } from './logger.js';

let config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`chatter: ${err.message}`);
    process.exit(2);
  }
  throw err;
}

const app = await buildApp(config);
// Here rather than in buildApp: the tests build hundreds of apps and react in few of them.
prepareEmojiCheck();
const terminal = Boolean(process.stdout.isTTY);
const level = app.log.level;
// On a terminal the banner below says where Chatter listens: Fastify's JSON line would say it again.
if (terminal && ['trace', 'debug', 'info'].includes(level)) app.log.level = 'warn';
try {
  await app.listen({ host: config.host, port: config.port, backlog: config.listenBacklog });
} catch (err) {
  app.log.fatal({ err }, 'could not listen');
  process.exit(1);
} finally {
  app.log.level = level;
}
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : config.port;
const url = `http://${config.host}:${port}`;
// A person at a terminal wants to know where to point the browser and where the data went; log
// files and pipes keep the JSON line that log tools parse.
if (terminal) process.stdout.write(`${startBanner(config.host, port, config.dataDir)}\n`);
else app.log.info({ url, db: config.dbFile }, `Chatter listening on ${url}`);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    if (terminal) process.stdout.write('\nStopping Chatter...\n');
    else app.log.info({ signal }, 'shutting down');
    // A stuck shutdown must not hang the process forever.
    setTimeout(() => process.exit(1), 10_000).unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
