/**
 * `eipctl elastic-ips allocate|get|list|rename|associate|disassociate|release`: the tenant API.
 * Every subcommand prints the elastic IPs it touched, as a table or (-o json) as the API's
 * elasticIPResp objects.
 */
import type { EipdClient, ElasticIP, ElasticIPStatus, InstanceType } from '../../sdk/index.js';
import {
  type Context,
  helpText,
  type Io,
  optionalCount,
  parseCommand,
  required,
} from './context.js';
import { UsageError } from './exit-codes.js';
import { type Column, print } from './output.js';

const COLUMNS: readonly Column<ElasticIP>[] = [
  { header: 'ID', value: (e) => e.id },
  { header: 'NAME', value: (e) => e.name },
  { header: 'ADDRESS', value: (e) => e.ipAddress },
  { header: 'STATUS', value: (e) => e.status },
  { header: 'IDC', value: (e) => e.idc },
  { header: 'PRODUCT', value: (e) => e.product },
  { header: 'INSTANCE', value: (e) => e.instanceID },
  { header: 'CREATED', value: (e) => e.createdAt },
];

export const ELASTIC_IPS_USAGE = `usage: eipctl elastic-ips <command> [options]

  allocate --idc <idc> --product <product> --name <name> [--count <n>] [--ip-address <addr>]
           [--idempotency-key <key>] [--batch-size <n>]
      Allocates n addresses (default 1). Up to --batch-size (default 100, the server's usual
      EIPD_MAX_ALLOCATE_COUNT) in one all-or-nothing request; more are allocated in batches of
      that size, each all or nothing, with progress. Every request carries an Idempotency-Key
      (derived from --idempotency-key when given: run the same command again with the same key
      to finish an interrupted bulk allocation without allocating twice). The new elastic IPs
      are then read back in full from list pages (1000 a request), not one request each.
  get <id>
  list [--idc <idc>] [--product <p>] [--status released|associated|disassociated] [--name <name>]
       [--ip-address <addr>] [--instance <uuid>] [--limit <n>]
      Every matching elastic IP (all pages), or the first n with --limit.
  rename <id> <name>
  associate <id> --instance <uuid> --type baremetal|container [--allow-reassociation]
  disassociate <id>
  release <id>

allocate and list wait out a rate limit (429 with Retry-After) and continue, with a note on
stderr (none with -q); the single-request commands fail with exit 6 instead.
`;

const MAX_KEY_LENGTH = 255;
/** The API's largest page (listElasticIPs `limit`). */
const MAX_PAGE_SIZE = 1000;
/** Allocations of at most this many addresses are read back with a GET each, not list pages. */
const FEW_TO_GET = 2;
/** GETs in flight at once when reading back what list pages did not show. */
const DETAIL_CONCURRENCY = 8;

export async function runElasticIps(io: Io, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'allocate':
      return allocate(io, rest);
    case 'get':
      return byId(io, rest, 'get <id>', (c, id) => c.get(id));
    case 'list':
      return list(io, rest);
    case 'rename':
      return rename(io, rest);
    case 'associate':
      return associate(io, rest);
    case 'disassociate':
      return byId(io, rest, 'disassociate <id>', (c, id) => c.disassociate(id));
    case 'release':
      return byId(io, rest, 'release <id>', (c, id) => c.release(id));
    case 'help':
    case '--help':
    case '-h':
      io.out.write(ELASTIC_IPS_USAGE);
      return 0;
    case undefined:
      throw new UsageError('missing command', ELASTIC_IPS_USAGE);
    default:
      throw new UsageError(`unknown command elastic-ips ${sub}`, ELASTIC_IPS_USAGE);
  }
}

function show(ctx: Context, eips: readonly ElasticIP[], single: boolean): number {
  print(ctx.out, ctx.format, COLUMNS, eips, single ? eips[0] : eips);
  return 0;
}

async function byId(
  io: Io,
  args: string[],
  what: string,
  run: (client: EipdClient, id: string) => Promise<ElasticIP>,
): Promise<number> {
  const usage = `usage: eipctl elastic-ips ${what}\n`;
  const { context, positionals, help } = parseCommand(io, args, {}, [1, 1], usage);
  if (help) return helpText(io, usage);
  return show(context, [await run(await context.client(), positionals[0] ?? '')], true);
}

async function rename(io: Io, args: string[]): Promise<number> {
  const usage = 'usage: eipctl elastic-ips rename <id> <name>\n';
  const { context, positionals, help } = parseCommand(io, args, {}, [2, 2], usage);
  if (help) return helpText(io, usage);
  const [id = '', name = ''] = positionals;
  return show(context, [await (await context.client()).rename(id, name)], true);
}

async function associate(io: Io, args: string[]): Promise<number> {
  const usage =
    'usage: eipctl elastic-ips associate <id> --instance <uuid> --type baremetal|container [--allow-reassociation]\n';
  const { context, positionals, flags, help } = parseCommand(
    io,
    args,
    {
      instance: { type: 'string' },
      type: { type: 'string' },
      'allow-reassociation': { type: 'boolean' },
    },
    [1, 1],
    usage,
  );
  if (help) return helpText(io, usage);
  const instanceID = required(flags, 'instance', usage);
  const instanceType = required(flags, 'type', usage);
  if (instanceType !== 'baremetal' && instanceType !== 'container') {
    throw new UsageError('--type must be baremetal or container', usage);
  }
  const eip = await (await context.client()).associate(positionals[0] ?? '', {
    instanceID,
    instanceType: instanceType satisfies InstanceType,
    ...(flags.boolean('allow-reassociation') ? { allowReassociation: true } : {}),
  });
  return show(context, [eip], true);
}

async function list(io: Io, args: string[]): Promise<number> {
  const { context, flags, help } = parseCommand(
    io,
    args,
    {
      idc: { type: 'string' },
      product: { type: 'string' },
      status: { type: 'string' },
      name: { type: 'string' },
      'ip-address': { type: 'string' },
      instance: { type: 'string' },
      limit: { type: 'string' },
    },
    [0, 0],
    ELASTIC_IPS_USAGE,
  );
  if (help) return helpText(io, ELASTIC_IPS_USAGE);
  const status = flags.string('status');
  if (status !== undefined && !['released', 'associated', 'disassociated'].includes(status)) {
    throw new UsageError('--status must be released, associated or disassociated');
  }
  const limit = optionalCount(flags, 'limit', 1, Number.MAX_SAFE_INTEGER);
  const filters = {
    ...optional('idc', flags.string('idc')),
    ...optional('product', flags.string('product')),
    ...optional('status', status as ElasticIPStatus | undefined),
    ...optional('name', flags.string('name')),
    ...optional('ipAddress', flags.string('ip-address')),
    ...optional('instanceID', flags.string('instance')),
  };
  const client = await context.client();
  const eips: ElasticIP[] = [];
  let cursor: string | undefined;
  do {
    const pageSize = Math.min(limit === undefined ? 500 : limit - eips.length, MAX_PAGE_SIZE);
    const query = { ...filters, limit: pageSize, ...(cursor === undefined ? {} : { cursor }) };
    const page = await context.rateLimits.run('listElasticIPs', () => client.listPage(query));
    eips.push(...page.items);
    cursor = page.nextCursor;
    if (cursor !== undefined) context.progress.update(`listed ${eips.length}`);
  } while (cursor !== undefined && eips.length !== limit);
  context.progress.done();
  return show(context, eips, false);
}

async function allocate(io: Io, args: string[]): Promise<number> {
  const { context, flags, help } = parseCommand(
    io,
    args,
    {
      idc: { type: 'string' },
      product: { type: 'string' },
      name: { type: 'string' },
      count: { type: 'string' },
      'ip-address': { type: 'string' },
      'idempotency-key': { type: 'string' },
      'batch-size': { type: 'string' },
    },
    [0, 0],
    ELASTIC_IPS_USAGE,
  );
  if (help) return helpText(io, ELASTIC_IPS_USAGE);
  const idc = required(flags, 'idc', ELASTIC_IPS_USAGE);
  const product = required(flags, 'product', ELASTIC_IPS_USAGE);
  const name = required(flags, 'name', ELASTIC_IPS_USAGE);
  const count = optionalCount(flags, 'count', 1, 1_000_000) ?? 1;
  const batchSize = optionalCount(flags, 'batch-size', 1, 10_000) ?? 100;
  const ipAddress = flags.string('ip-address');
  const batches = Math.ceil(count / batchSize);
  const baseKey = flags.string('idempotency-key') ?? globalThis.crypto.randomUUID();
  // Batch keys are `<key>.<batch>`: the same command with the same key sends the same keys and
  // bodies again, so finished batches are answered from eipd's record instead of allocating.
  const suffix = batches > 1 ? `.${batches}`.length : 0;
  if (baseKey.length + suffix > MAX_KEY_LENGTH) {
    throw new UsageError(`--idempotency-key must be at most ${MAX_KEY_LENGTH - suffix} characters`);
  }
  const client = await context.client();
  const ids: string[] = [];
  for (let batch = 1; batch <= batches; batch++) {
    const size = Math.min(batchSize, count - ids.length);
    const key = batches > 1 ? `${baseKey}.${batch}` : baseKey;
    try {
      const result = await context.rateLimits.run('allocateElasticIP', () =>
        client.allocate(
          { idc, product, name, count: size, ...optional('ipAddress', ipAddress) },
          { idempotencyKey: key },
        ),
      );
      ids.push(...result.ids);
    } catch (error) {
      context.progress.done();
      if (ids.length > 0) {
        io.err.write(
          `allocated ${ids.length} of ${count} before the failure below; run the same command with --idempotency-key ${baseKey} to allocate the rest\n`,
        );
        show(context, await details(context, client, ids, { idc, product, name }), false);
      }
      throw error;
    }
    if (batches > 1) context.progress.update(`allocated ${ids.length}/${count}`, batch === batches);
  }
  context.progress.done();
  let eips: ElasticIP[];
  try {
    eips = await details(context, client, ids, { idc, product, name });
  } catch (error) {
    io.err.write(`allocated ${ids.join(' ')}, but reading them back failed:\n`);
    throw error;
  }
  return show(context, eips, false);
}

/**
 * The allocated elastic IPs in full (allocate answers only ids), in allocation order. A GET per id
 * would send as many requests as addresses and run into the organization's rate limit on any large
 * allocation, so they are picked out of list pages of what was allocated with (idc, product, name)
 * instead, 1000 a page. Pages come oldest first and the new EIPs are the newest, so when the name
 * is shared with many older ones, listing stops once another page would cost more than a GET for
 * each id still missing; those (and any no longer listed, e.g. released meanwhile) are read with
 * GET. 429s are waited out (see rate-limit.ts).
 */
async function details(
  ctx: Context,
  client: EipdClient,
  ids: string[],
  allocatedWith: { idc: string; product: string; name: string },
): Promise<ElasticIP[]> {
  const found = new Map<string, ElasticIP>();
  const wanted = new Set(ids);
  if (ids.length > FEW_TO_GET) {
    let cursor: string | undefined;
    let pages = 0;
    do {
      const query = {
        ...allocatedWith,
        limit: MAX_PAGE_SIZE,
        ...(cursor === undefined ? {} : { cursor }),
      };
      const page = await ctx.rateLimits.run('listElasticIPs', () => client.listPage(query));
      pages++;
      for (const eip of page.items) if (wanted.has(eip.id)) found.set(eip.id, eip);
      ctx.progress.update(`read ${found.size}/${ids.length}`);
      cursor = page.nextCursor;
    } while (cursor !== undefined && found.size < ids.length && pages < ids.length - found.size);
  }
  const missing = ids.filter((id) => !found.has(id));
  let next = 0;
  const worker = async () => {
    while (next < missing.length) {
      const id = missing[next++] ?? '';
      found.set(id, await ctx.rateLimits.run('getElasticIP', () => client.get(id)));
      if (ids.length > FEW_TO_GET) ctx.progress.update(`read ${found.size}/${ids.length}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(DETAIL_CONCURRENCY, missing.length) }, worker));
  ctx.progress.done();
  return ids.map((id) => found.get(id) as ElasticIP);
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
