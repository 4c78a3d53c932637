/** `keyvend serve [--config F]` — run the server (the same as `node dist/server.js`). */
import { serve } from '../server.js';
import type { Command } from './io.js';

export const run: Command = async (args) => {
  await serve(args);
  // serve() keeps the process alive until a signal closes it.
  return new Promise<number>(() => {});
};
