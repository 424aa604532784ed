/** getAddressHistory: who held an address, across organizations ("who had 203.0.113.7 on Tuesday?"). */
import type { Database } from '../db/database.js';
import { ValidationError } from '../errors.js';
import type { components } from '../generated/openapi.js';
import { type Address, AddressError, parseAddress } from '../ipam/address.js';
import { violation } from '../validation-detail.js';
import { listHoldings } from './repository.js';

type AddressHolding = components['schemas']['addressHolding'];

export async function getAddressHistory(
  db: Database,
  query: { ipAddress: string; at?: string },
): Promise<AddressHolding[]> {
  const address = parseQueryAddress(query.ipAddress);
  const rows = await listHoldings(db, address, query.at);
  return rows.map((r) => ({
    eipId: r.id,
    orgId: r.org_id,
    ipAddress: r.ip_address,
    from: r.created_at.toISOString(),
    until: r.released_at === null ? null : r.released_at.toISOString(),
  }));
}

/**
 * eipd's own parser, not the database's: it accepts any spelling of an IPv6 address but refuses
 * ambiguous IPv4 text (leading zeros), which the schema's format check lets through.
 */
function parseQueryAddress(text: string): Address {
  try {
    return parseAddress(text);
  } catch (error) {
    if (error instanceof AddressError) {
      throw new ValidationError([violation('ipAddress', 'format', 'ip-address', text)], 'query');
    }
    throw error;
  }
}
