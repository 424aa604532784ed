/**
 * `eipctl products`, and the operator commands (the token needs the admin scope): `pools`,
 * `history <address>`, `events [--follow]`.
 */
import type {
  AddressHolding,
  EipdEvent,
  ElasticIPProduct,
  PoolUtilization,
} from '../../sdk/index.js';
import { sleep } from '../../sdk/retry.js';
import { helpText, type Io, optionalCount, parseCommand } from './context.js';
import { UsageError } from './exit-codes.js';
import { type Column, fixedRow, print, writeJson } from './output.js';

export async function runProducts(io: Io, args: string[]): Promise<number> {
  const usage = 'usage: eipctl products [--idc <idc>]\n\nProducts with an enabled pool, per IDC.\n';
  const { context, flags, help } = parseCommand(
    io,
    args,
    { idc: { type: 'string' } },
    [0, 0],
    usage,
  );
  if (help) return helpText(io, usage);
  const products = await (await context.client()).products(flags.string('idc'));
  const columns: Column<ElasticIPProduct>[] = [
    { header: 'NAME', value: (p) => p.name },
    { header: 'IDC', value: (p) => p.idc },
    { header: 'VERSION', value: (p) => p.ipVersion },
    { header: 'CONNECTION', value: (p) => p.internetConnectionType },
    { header: 'BANDWIDTH', value: (p) => p.maxBandwidth },
  ];
  print(context.out, context.format, columns, products);
  return 0;
}

export async function runPools(io: Io, args: string[]): Promise<number> {
  const usage =
    'usage: eipctl pools [--idc <idc>]\n\nUtilization of every pool (operator token). Counts are exact integers.\n';
  const { context, flags, help } = parseCommand(
    io,
    args,
    { idc: { type: 'string' } },
    [0, 0],
    usage,
  );
  if (help) return helpText(io, usage);
  const pools = await (await context.client()).pools(flags.string('idc'));
  const columns: Column<PoolUtilization>[] = [
    { header: 'NAME', value: (p) => p.name },
    { header: 'IDC', value: (p) => p.idc },
    { header: 'CIDR', value: (p) => p.cidr },
    { header: 'ENABLED', value: (p) => (p.enabled ? 'yes' : 'no') },
    { header: 'USABLE', value: (p) => p.usable },
    { header: 'USED', value: (p) => p.used },
    { header: 'QUARANTINED', value: (p) => p.quarantined },
    { header: 'FREE', value: (p) => p.free },
    { header: 'PRODUCTS', value: (p) => p.products.join(',') },
  ];
  print(context.out, context.format, columns, pools);
  return 0;
}

export async function runHistory(io: Io, args: string[]): Promise<number> {
  const usage = `usage: eipctl history <address> [--at <time>]

Every elastic IP that held the address, across organizations, oldest first; with --at (an
RFC 3339 time such as 2026-12-01T09:30:00Z), only the holder at that instant (operator token).
`;
  const { context, flags, positionals, help } = parseCommand(
    io,
    args,
    { at: { type: 'string' } },
    [1, 1],
    usage,
  );
  if (help) return helpText(io, usage);
  const holdings = await (await context.client()).addressHistory(
    positionals[0] ?? '',
    flags.string('at'),
  );
  const columns: Column<AddressHolding>[] = [
    { header: 'ADDRESS', value: (h) => h.ipAddress },
    { header: 'EIP', value: (h) => h.eipId },
    { header: 'ORG', value: (h) => h.orgId },
    { header: 'FROM', value: (h) => h.from },
    { header: 'UNTIL', value: (h) => h.until },
  ];
  print(context.out, context.format, columns, holdings);
  return 0;
}

const EVENTS_USAGE = `usage: eipctl events [--cursor <cursor> | --from-now] [--limit <n>] [--follow] [--interval <seconds>]

Every state change in commit order (operator token), from the oldest retained event, after
--cursor, or (--from-now) from the current end of the stream. Without --follow, reads until
caught up (or until --limit n events) and prints the events, then the cursor to continue from,
after the last event printed (on stderr for tables, in the object for -o json). With --follow,
keeps printing events as they commit (-o json: one JSON object per line), polling every
--interval seconds (default 1) when caught up, until stopped, or until it has printed --limit n
events; it then prints the cursor to continue from on stderr and exits 0. A page refused with
429 and Retry-After is asked for again after the wait, with a note on stderr (none with -q).
`;

/** The API's largest page (listEvents `limit`). */
const MAX_EVENT_PAGE = 1000;

const EVENT_WIDTHS = [8, 24, 13, 39, 36, 36, 36];

function eventRow(e: EipdEvent): string[] {
  return [
    e.seq,
    e.occurredAt,
    e.type,
    e.ipAddress,
    e.eipId,
    e.orgId,
    e.instanceID ?? '-',
    e.actor ?? '-',
  ];
}
const EVENT_HEADERS = ['SEQ', 'TIME', 'TYPE', 'ADDRESS', 'EIP', 'ORG', 'INSTANCE', 'ACTOR'];

export async function runEvents(io: Io, args: string[]): Promise<number> {
  const { context, flags, help } = parseCommand(
    io,
    args,
    {
      cursor: { type: 'string' },
      'from-now': { type: 'boolean' },
      limit: { type: 'string' },
      follow: { type: 'boolean', short: 'f' },
      interval: { type: 'string' },
    },
    [0, 0],
    EVENTS_USAGE,
  );
  if (help) return helpText(io, EVENTS_USAGE);
  // Both say where to start; taking one and dropping the other silently would read from a place
  // the caller did not ask for.
  if (flags.string('cursor') !== undefined && flags.boolean('from-now')) {
    throw new UsageError('--cursor and --from-now are alternatives: give one', EVENTS_USAGE);
  }
  // At most this many events printed, in pages of up to 1000 that never overshoot it, so that
  // each page's cursor (after its last event) is the cursor after the last event printed.
  const limit = optionalCount(flags, 'limit', 1, Number.MAX_SAFE_INTEGER);
  const interval = optionalCount(flags, 'interval', 1, 3600) ?? 1;
  const client = await context.client();
  let cursor = flags.string('cursor');
  if (flags.boolean('from-now')) {
    cursor = (await context.rateLimits.run('listAssociations', () => client.associations())).cursor;
  }
  let printed = 0;
  const nextPage = async (signal?: AbortSignal) => {
    const pageSize = Math.min(
      MAX_EVENT_PAGE,
      limit === undefined ? MAX_EVENT_PAGE : limit - printed,
    );
    const query = { ...(cursor === undefined ? {} : { cursor }), limit: pageSize };
    const page = await context.rateLimits.run(
      'listEvents',
      () => client.events(query, signal === undefined ? {} : { signal }),
      signal,
    );
    cursor = page.cursor;
    printed += page.events.length;
    return { events: page.events, caughtUp: page.events.length < pageSize };
  };

  if (flags.boolean('follow')) {
    const stopped = io.untilStopped();
    if (context.format === 'table') context.out.write(fixedRow(EVENT_HEADERS, EVENT_WIDTHS));
    try {
      while (printed !== limit) {
        const { events } = await nextPage(stopped);
        for (const event of events) {
          context.out.write(
            context.format === 'json'
              ? `${JSON.stringify(event)}\n`
              : fixedRow(eventRow(event), EVENT_WIDTHS),
          );
        }
        if (events.length === 0) await sleep(interval * 1000, stopped);
      }
    } catch (error) {
      // Stopped by SIGINT/SIGTERM: the normal end of a follow.
      if (!stopped.aborted) throw error;
    }
    if (cursor !== undefined) io.err.write(`cursor: ${cursor}\n`);
    return 0;
  }

  const events: EipdEvent[] = [];
  for (;;) {
    const page = await nextPage();
    events.push(...page.events);
    if (page.caughtUp || printed === limit) break;
    context.progress.update(`read ${events.length} events`);
  }
  context.progress.done();
  if (context.format === 'json') {
    writeJson(context.out, { events, cursor });
  } else {
    const columns = EVENT_HEADERS.map((header, i) => ({
      header,
      value: (e: EipdEvent) => eventRow(e)[i],
    }));
    print(context.out, 'table', columns, events);
    io.err.write(`cursor: ${cursor}\n`);
  }
  return 0;
}
