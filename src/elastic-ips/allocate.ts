/**
 * allocateElasticIP: `count` new addresses of a product in an IDC for the caller's organization,
 * all in one transaction (contract rule 2), each with its `allocated` event (rule 8).
 */
import { randomUUID } from 'node:crypto';
import type { Database } from '../db/database.js';
import { TransactionContentionError } from '../db/errors.js';
import { ApiError } from '../errors.js';
import { formatAddress } from '../ipam/address.js';
import { ClaimContention, claimAddresses } from '../ipam/allocator.js';
import { findOffering, insertAllocated } from './repository.js';

export interface AllocateRequest {
  idc: string;
  product: string;
  name: string;
  count: number;
}

export interface Caller {
  orgId: string;
  /** The token's `sub`, recorded as the actor in history. */
  subject: string | null;
}

/** How long a client should wait before asking an exhausted pool again. */
const EXHAUSTED_RETRY_AFTER_SECONDS = 60;

export async function allocateElasticIps(
  db: Database,
  caller: Caller,
  request: AllocateRequest,
): Promise<{ id: string }[]> {
  try {
    return await allocateOnce(db, caller, request);
  } catch (error) {
    // The database is fine; other requests kept the last free ranges busy for longer than the
    // retries lasted. Say so, rather than "database is unavailable".
    if (error instanceof TransactionContentionError && error.cause instanceof ClaimContention) {
      throw new ApiError(
        'ADDRESSES_BUSY',
        `the free addresses of product ${request.product} in IDC ${request.idc} are being taken by other requests; retry`,
        { 'Retry-After': '1' },
      );
    }
    throw error;
  }
}

async function allocateOnce(
  db: Database,
  caller: Caller,
  request: AllocateRequest,
): Promise<{ id: string }[]> {
  return db.transaction(async (tx) => {
    const offering = await findOffering(tx, request.idc, request.product);
    if (!offering.idcExists)
      throw new ApiError('IDC_NOT_FOUND', `IDC ${request.idc} was not found`);
    if (!offering.productExists) {
      throw new ApiError('PRODUCT_NOT_FOUND', `product ${request.product} was not found`);
    }
    if (offering.pools.length === 0) {
      throw new ApiError(
        'PRODUCT_NOT_OFFERED',
        `product ${request.product} is not offered in IDC ${request.idc}`,
      );
    }
    const pools = offering.pools.filter((p) => p.enabled);
    if (pools.length === 0) {
      throw new ApiError(
        'NO_FREE_ADDRESS',
        `no free address for product ${request.product} in IDC ${request.idc}: requested ${request.count}, available 0 (its pools there are disabled)`,
        { 'Retry-After': String(EXHAUSTED_RETRY_AFTER_SECONDS) },
      );
    }
    const claim = await claimAddresses(tx, pools, request.count);
    if (!claim.ok) {
      // Throwing rolls back whatever part of the request was claimed.
      throw new ApiError(
        'NO_FREE_ADDRESS',
        `no free address for product ${request.product} in IDC ${request.idc}: requested ${request.count}, available ${claim.available}`,
        { 'Retry-After': String(EXHAUSTED_RETRY_AFTER_SECONDS) },
      );
    }
    const eips = claim.addresses.map((a) => ({
      id: randomUUID(),
      pool: a.pool,
      family: a.family,
      address: a.address,
      ipAddress: formatAddress({ family: a.family, value: a.address }),
    }));
    await insertAllocated(
      tx,
      { orgId: caller.orgId, actor: caller.subject },
      { name: request.name, idc: request.idc, product: request.product },
      eips,
    );
    return eips.map((e) => ({ id: e.id }));
  });
}
