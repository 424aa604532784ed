/**
 * listElasticIPs: one page of the caller's EIPs in (createdAt, id) order, keyset-paginated, and
 * the query string of the next page when there is one.
 */
import type { Database } from '../db/database.js';
import { ValidationError } from '../errors.js';
import { type Address, AddressError, parseAddress } from '../ipam/address.js';
import { isUuid } from '../uuid.js';
import { violation } from '../validation-detail.js';
import { decodeCursor, encodeCursor, fingerprint } from './cursor.js';
import { type ElasticIpResponse, listElasticIpRows, toResponse } from './repository.js';

/** The validated query string (the schema has checked types, enums, lengths and limit's range). */
export interface ListQuery {
  idc?: string;
  product?: string;
  status?: ElasticIpResponse['status'];
  name?: string;
  ipAddress?: string;
  instanceID?: string;
  limit?: number;
  cursor?: string;
}

export interface ListPage {
  items: ElasticIpResponse[];
  /** The next page's query string (filters and limit kept), or undefined on the last page. */
  nextQuery: string | undefined;
}

export const DEFAULT_LIST_LIMIT = 100;

/** The filters in the order they are echoed into the next page's URL. */
const FILTERS = ['idc', 'product', 'status', 'name', 'ipAddress', 'instanceID'] as const;

export async function listElasticIps(
  db: Database,
  orgId: string,
  query: ListQuery,
): Promise<ListPage> {
  const address = query.ipAddress === undefined ? undefined : parseFilterAddress(query.ipAddress);
  const instanceId = query.instanceID === undefined ? undefined : parseInstanceId(query.instanceID);
  // Bound to what the filters mean, not how they were spelt: `2001:DB8::1` and `2001:db8::1`
  // share cursors. The limit may change between pages.
  const scope = fingerprint([
    orgId,
    query.idc ?? null,
    query.product ?? null,
    query.status ?? null,
    query.name ?? null,
    address === undefined ? null : `${address.family}:${address.value}`,
    instanceId ?? null,
  ]);
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, scope);
  const limit = query.limit ?? DEFAULT_LIST_LIMIT;
  // PostgreSQL text cannot hold a NUL (the query would fail), so no EIP is named with one: the
  // exact-match filter matches nothing.
  if (query.name?.includes('\u0000')) return { items: [], nextQuery: undefined };
  // One row more than asked tells whether a next page exists without a second query.
  const rows = await listElasticIpRows(db, {
    orgId,
    ...(query.idc === undefined ? {} : { idc: query.idc }),
    ...(query.product === undefined ? {} : { product: query.product }),
    ...(query.status === undefined ? {} : { status: query.status }),
    ...(query.name === undefined ? {} : { name: query.name }),
    ...(address === undefined ? {} : { address }),
    ...(instanceId === undefined ? {} : { instanceId }),
    ...(after === undefined ? {} : { after }),
    limit: limit + 1,
  });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  let nextQuery: string | undefined;
  if (rows.length > limit && last !== undefined) {
    const cursor = encodeCursor({ createdAt: last.cursor_created_at, id: last.id }, scope);
    const parts: string[] = [];
    for (const key of FILTERS) {
      const value = query[key];
      if (value !== undefined) parts.push(`${key}=${encodeURIComponent(value)}`);
    }
    if (query.limit !== undefined) parts.push(`limit=${query.limit}`);
    parts.push(`cursor=${cursor}`);
    nextQuery = parts.join('&');
  }
  return { items: page.map(toResponse), nextQuery };
}

function parseFilterAddress(text: string): Address {
  try {
    return parseAddress(text);
  } catch (error) {
    if (error instanceof AddressError) throw formatError('ipAddress', 'ip-address', text);
    throw error;
  }
}

/** The schema's `format: uuid` also lets `urn:uuid:` through; ids are only ever the bare form. */
function parseInstanceId(text: string): string {
  if (!isUuid(text)) throw formatError('instanceID', 'uuid', text);
  return text.toLowerCase();
}

function formatError(field: string, format: string, value: string): ValidationError {
  return new ValidationError([violation(field, 'format', format, value)], 'query');
}
