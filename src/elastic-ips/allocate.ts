/**
 * allocateElasticIP: `count` new addresses of a product in an IDC for the caller's organization,
 * all in one transaction (contract rule 2), each with its `allocated` event (rule 8); or, with
 * `ipAddress`, that one exact address (a free one, one past its quarantine, or one the caller's
 * own organization released: recovery, which creates a new EIP since released is terminal).
 */
import { randomUUID } from 'node:crypto';
import type { Database, Queryable } from '../db/database.js';
import { isUniqueViolation, TransactionContentionError } from '../db/errors.js';
import { ApiError, ValidationError } from '../errors.js';
import { type Address, AddressError, formatAddress, parseAddress } from '../ipam/address.js';
import {
  ClaimContention,
  type ClaimedAddress,
  carveAddress,
  claimAddresses,
  type ReusePolicy,
} from '../ipam/allocator.js';
import { lockQuota } from '../quotas/quota-check.js';
import { type ValidationDetail, violation } from '../validation-detail.js';
import { claimIdempotencyKey, type IdempotencyKey, storeIdempotentAnswer } from './idempotency.js';
import {
  findPoolOfAddress,
  isHeld,
  lockQuarantineEntry,
  removeQuarantineEntry,
} from './lifecycle-repository.js';
import { findOffering, insertAllocated, type Offering } from './repository.js';

/**
 * One reason whether another elastic IP holds the address or another organization released it
 * within the quarantine: telling the two apart would let a tenant map who holds what.
 */
const ADDRESS_TAKEN = 'it is held, or was released recently and is in quarantine';

export interface AllocateRequest {
  idc: string;
  product: string;
  name: string;
  count: number;
  /** An exact address in any spelling; validated here, since the schema only bounds its length. */
  ipAddress?: string | undefined;
}

export interface Caller {
  orgId: string;
  /** The token's `sub`, recorded as the actor in history. */
  subject: string | null;
}

export interface AllocateOutcome {
  ids: { id: string }[];
  /** True when this is the stored answer of an earlier request with the same Idempotency-Key. */
  replayed: boolean;
}

/** How long a client should wait before asking an exhausted pool again. */
const EXHAUSTED_RETRY_AFTER_SECONDS = 60;

export async function allocateElasticIps(
  db: Database,
  caller: Caller,
  request: AllocateRequest,
  reuse: ReusePolicy,
  idempotency?: IdempotencyKey,
): Promise<AllocateOutcome> {
  // Validation comes before any existence check (contract: order of checks).
  const explicit = request.ipAddress === undefined ? undefined : validateExplicit(request);
  try {
    return await allocateOnce(db, caller, request, reuse, explicit, idempotency);
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

/**
 * `count` must be 1 and the address must parse strictly; both failures are reported together, in
 * the schema's property order (count before ipAddress), like schema violations.
 */
function validateExplicit(request: AllocateRequest): Address {
  const details: ValidationDetail[] = [];
  if (request.count !== 1) {
    details.push(violation('count', 'maximum', '1', request.count));
  }
  let address: Address | undefined;
  try {
    address = parseAddress(request.ipAddress ?? '');
  } catch (error) {
    if (!(error instanceof AddressError)) throw error;
    details.push(violation('ipAddress', 'format', 'ip-address', request.ipAddress));
  }
  if (details.length > 0 || address === undefined) throw new ValidationError(details);
  return address;
}

function checkOffering(offering: Offering, request: AllocateRequest): void {
  if (!offering.idcExists) throw new ApiError('IDC_NOT_FOUND', `IDC ${request.idc} was not found`);
  if (!offering.productExists) {
    throw new ApiError('PRODUCT_NOT_FOUND', `product ${request.product} was not found`);
  }
  if (offering.pools.length === 0) {
    throw new ApiError(
      'PRODUCT_NOT_OFFERED',
      `product ${request.product} is not offered in IDC ${request.idc}`,
    );
  }
}

async function allocateOnce(
  db: Database,
  caller: Caller,
  request: AllocateRequest,
  reuse: ReusePolicy,
  explicit: Address | undefined,
  idempotency: IdempotencyKey | undefined,
): Promise<AllocateOutcome> {
  return db.transaction(async (tx) => {
    // Locks in this order only: idempotency key, quota, then allocator rows (see each module).
    if (idempotency !== undefined) {
      const stored = await claimIdempotencyKey<{ id: string }[]>(tx, caller.orgId, idempotency);
      if (stored !== undefined) return { ids: stored, replayed: true };
    }
    const offering = await findOffering(tx, request.idc, request.product);
    checkOffering(offering, request);
    // Existence before capacity (contract: order of checks): an address outside the pools is a
    // 404 even when the quota is used up.
    const explicitPool =
      explicit === undefined ? undefined : await poolOfExplicit(tx, request, explicit);
    await checkQuota(tx, caller, request);
    const claimed =
      explicit === undefined || explicitPool === undefined
        ? await claimAny(tx, offering, request, reuse)
        : [await claimExact(tx, caller, reuse, explicit, explicitPool)];
    const eips = claimed.map((a) => ({
      id: randomUUID(),
      pool: a.pool,
      family: a.family,
      address: a.address,
      ipAddress: formatAddress({ family: a.family, value: a.address }),
    }));
    try {
      await insertAllocated(
        tx,
        { orgId: caller.orgId, actor: caller.subject },
        { name: request.name, idc: request.idc, product: request.product },
        eips,
      );
    } catch (error) {
      // Two explicit requests for one address can both pass the checks above when the address
      // appears between them; the unique index then refuses the second, which is a plain
      // "unavailable", not a server error.
      if (explicit !== undefined && isUniqueViolation(error, 'elastic_ips_one_live_holder')) {
        throw addressUnavailable(explicit, ADDRESS_TAKEN);
      }
      throw error;
    }
    const ids = eips.map((e) => ({ id: e.id }));
    if (idempotency !== undefined) {
      await storeIdempotentAnswer(tx, caller.orgId, idempotency.key, ids);
    }
    return { ids, replayed: false };
  });
}

/** Quota before capacity (contract): checked before any address is claimed. */
async function checkQuota(tx: Queryable, caller: Caller, request: AllocateRequest): Promise<void> {
  const quota = await lockQuota(tx, caller.orgId, request.idc);
  if (quota.limit === null || quota.held + request.count <= quota.limit) return;
  throw new ApiError(
    'QUOTA_EXCEEDED',
    `quota exceeded: the organization may hold ${quota.limit} elastic IPs in IDC ${request.idc}; it holds ${quota.held} and requested ${request.count}`,
  );
}

function noFreeAddress(request: AllocateRequest, available: bigint, why = ''): ApiError {
  return new ApiError(
    'NO_FREE_ADDRESS',
    `no free address for product ${request.product} in IDC ${request.idc}: requested ${request.count}, available ${available}${why}`,
    { 'Retry-After': String(EXHAUSTED_RETRY_AFTER_SECONDS) },
  );
}

function addressUnavailable(address: Address, why: string): ApiError {
  return new ApiError(
    'ADDRESS_UNAVAILABLE',
    `address ${formatAddress(address)} is not available: ${why}`,
  );
}

/**
 * One exact address. A disabled pool answers ADDRESS_UNAVAILABLE rather than NO_FREE_ADDRESS: the
 * address exists in the product's pools but will not be handed out, and retrying later (what the
 * 503's Retry-After suggests) would not help.
 * Locking: the quarantine entry is read FOR UPDATE before anything else is locked, and the free
 * range only when there is no entry, so the transaction waits for at most one allocator row and
 * holds none while it waits (the deadlock argument in src/ipam/allocator.ts).
 */
async function poolOfExplicit(
  tx: Queryable,
  request: AllocateRequest,
  address: Address,
): Promise<ExplicitPool> {
  const pool = await findPoolOfAddress(tx, request.idc, request.product, address);
  if (pool === undefined) {
    throw new ApiError(
      'ADDRESS_NOT_IN_POOLS',
      `address ${formatAddress(address)} is not in the pools of product ${request.product} in IDC ${request.idc}`,
    );
  }
  return pool;
}

type ExplicitPool = NonNullable<Awaited<ReturnType<typeof findPoolOfAddress>>>;

async function claimExact(
  tx: Queryable,
  caller: Caller,
  reuse: ReusePolicy,
  address: Address,
  pool: ExplicitPool,
): Promise<ClaimedAddress> {
  if (!pool.enabled) throw addressUnavailable(address, 'its pool is disabled');
  if (pool.reserved) throw addressUnavailable(address, 'it is reserved');
  if (await isHeld(tx, address)) {
    throw addressUnavailable(address, ADDRESS_TAKEN);
  }
  const claimed = { pool: pool.name, family: address.family, address: address.value };
  const entry = await lockQuarantineEntry(
    tx,
    pool.name,
    address.value,
    caller.orgId,
    reuse.quarantineSeconds,
  );
  if (entry !== undefined) {
    // Quarantine protects a new tenant from the old one's stale DNS; the old tenant itself may
    // take its address back at once.
    if (!entry.ownRelease && !entry.pastQuarantine) {
      throw addressUnavailable(address, ADDRESS_TAKEN);
    }
    await removeQuarantineEntry(tx, pool.name, address.value);
    return claimed;
  }
  if (await carveAddress(tx, pool.name, address.value)) return claimed;
  // Neither free nor quarantined: another transaction took it after isHeld looked.
  throw addressUnavailable(address, ADDRESS_TAKEN);
}

async function claimAny(
  tx: Queryable,
  offering: Offering,
  request: AllocateRequest,
  reuse: ReusePolicy,
): Promise<ClaimedAddress[]> {
  const pools = offering.pools.filter((p) => p.enabled);
  if (pools.length === 0) throw noFreeAddress(request, 0n, ' (its pools there are disabled)');
  const claim = await claimAddresses(tx, pools, request.count, reuse);
  if (!claim.ok) {
    // Throwing rolls back whatever part of the request was claimed.
    throw noFreeAddress(request, claim.available);
  }
  return claim.addresses;
}
