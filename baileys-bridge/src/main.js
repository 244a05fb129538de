// Entry point: node src/main.js
import { loadConfig } from './config.js';
import { createBridge, makeLogger } from './app.js';

const { config, errors } = loadConfig(process.env);
if (errors.length) {
  for (const e of errors) process.stderr.write(`config error: ${e}\n`);
  process.exit(78); // EX_CONFIG
}
const logger = makeLogger(config.logLevel);
let bridge;
try {
  bridge = await createBridge(config, { logger });
} catch (err) {
  logger.fatal({ err: err.message }, 'baileys-bridge failed to start');
  process.exit(1);
}

let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, async () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal: sig }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10000);
    force.unref();
    await bridge.close().catch((err) => logger.error({ err: err.message }, 'shutdown error'));
    process.exit(0);
  });
}
process.on('unhandledRejection', (err) => logger.error({ err: err?.message, stack: err?.stack }, 'unhandled rejection'));
