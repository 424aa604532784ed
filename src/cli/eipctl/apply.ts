/**
 * `eipctl apply <catalog.yaml>`: writes a catalog file into the database, exactly as eipd does at
 * start (the same checks, idempotent, never deleting), without restarting anything. It talks to
 * the database directly, configured like eipd: DATABASE_URL, or the embedded database in
 * EIPD_DATA_DIR (which only one process may open: stop eipd first, or restart eipd with
 * EIPD_CATALOG instead). Pending migrations are applied first, as eipd does at start.
 *
 * It never creates the embedded database: only eipd does, as it never creates the demo secret
 * (token-command.ts). A mistyped EIPD_DATA_DIR, or apply run from another directory than eipd,
 * would otherwise write the catalog into a new database that no eipd serves, and report success.
 */
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { applyCatalog } from '../../catalog/apply.js';
import { readCatalogFile } from '../../catalog/catalog-file.js';
import { type Config, loadConfig } from '../../config.js';
import { migrate } from '../../db/migrate.js';
import { openDatabase } from '../../db/open.js';
import { helpText, type Io, parseCommand } from './context.js';
import { UsageError } from './exit-codes.js';
import { writeJson } from './output.js';

const USAGE = `usage: eipctl apply <catalog.yaml>

Applies the catalog file to the database of DATABASE_URL (or the embedded one in EIPD_DATA_DIR,
which eipd must have created, while no eipd runs on it): IDCs, products, pools and quotas,
idempotently; nothing is deleted. Replicas that are running serve the new pools at once.
`;

export async function runApply(io: Io, args: string[]): Promise<number> {
  const { context, positionals, help } = parseCommand(io, args, {}, [1, 1], USAGE);
  if (help) return helpText(io, USAGE);
  const path = positionals[0] ?? '';
  const config = loadConfig(io.env);
  const doc = await readCatalogFile(path);
  await requireEmbeddedDatabase(config);
  const db = await openDatabase(config);
  let summary: Awaited<ReturnType<typeof applyCatalog>>;
  let migrations: string[];
  try {
    migrations = (await migrate(db)).applied;
    summary = await applyCatalog(db, doc, path, (done, total) =>
      context.progress.update(`pools ${done}/${total}`, done === total),
    );
  } finally {
    context.progress.done();
    await db.close();
  }
  if (context.format === 'json') {
    writeJson(context.out, { catalog: path, migrationsApplied: migrations, ...summary });
    return 0;
  }
  const list = (names: string[]) => (names.length === 0 ? '' : ` (${names.join(', ')})`);
  const lines = [
    `applied ${path}`,
    ...(migrations.length > 0 ? [`  migrations applied: ${migrations.join(', ')}`] : []),
    `  IDCs added: ${summary.idcsAdded}`,
    `  products added: ${summary.productsAdded}, updated: ${summary.productsUpdated}`,
    `  pools added: ${summary.poolsAdded.length}${list(summary.poolsAdded)}`,
    `  pools updated: ${summary.poolsUpdated.length}${list(summary.poolsUpdated)}`,
    `  quotas set: ${summary.quotasSet}`,
    ...(summary.reservedStillHeld.length > 0
      ? [
          `  newly reserved but still held by an EIP, which keeps it until released: ${summary.reservedStillHeld.join(', ')}`,
        ]
      : []),
  ];
  context.out.write(`${lines.join('\n')}\n`);
  return 0;
}

/**
 * Refuses (exit 2) an embedded data directory without a database in it. PG_VERSION is the file
 * PGlite itself looks for to tell an existing database from one it must initialize.
 */
async function requireEmbeddedDatabase(config: Config): Promise<void> {
  if (config.database.kind !== 'pglite') return;
  try {
    await access(join(config.database.dataDir, 'PG_VERSION'));
  } catch {
    const dir = resolve(config.dataDir);
    throw new UsageError(
      `no embedded database in ${dir} (EIPD_DATA_DIR): apply does not create one. ` +
        `Start eipd once with EIPD_DATA_DIR=${dir} to create it, or set DATABASE_URL`,
    );
  }
}
