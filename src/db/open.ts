import type { Config } from '../config.js';
import { lockDataDir } from './data-dir-lock.js';
import type { Database } from './database.js';
import { openPglite } from './pglite.js';
import { openPostgres } from './postgres.js';

/**
 * The configured database. The embedded one is locked to this process for as long as it is open
 * (closing the returned Database releases the lock).
 */
export async function openDatabase(config: Config): Promise<Database> {
  if (config.database.kind === 'postgres') {
    return openPostgres({ url: config.database.url, ...config.db });
  }
  const unlock = await lockDataDir(config.dataDir);
  try {
    const db = await openPglite(config.database.dataDir);
    return {
      ...db,
      async close() {
        try {
          await db.close();
        } finally {
          await unlock();
        }
      },
    };
  } catch (error) {
    await unlock();
    throw error;
  }
}
