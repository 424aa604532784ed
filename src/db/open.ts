import { mkdir } from 'node:fs/promises';
import type { Config } from '../config.js';
import type { Database } from './database.js';
import { openPglite } from './pglite.js';
import { openPostgres } from './postgres.js';

export async function openDatabase(config: Config): Promise<Database> {
  if (config.database.kind === 'postgres') {
    return openPostgres({ url: config.database.url, ...config.db });
  }
  await mkdir(config.database.dataDir, { recursive: true });
  return openPglite({ dataDir: config.database.dataDir });
}
