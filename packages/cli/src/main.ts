#!/usr/bin/env node
import { main } from './cli.js';

const code = await main(process.argv.slice(2));
// Sockets and timers are closed by now; exiting explicitly also ends a stdin left open by a prompt.
process.exit(code);
