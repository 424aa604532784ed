/**
 * The start every state change of an EIP shares: lock the caller's EIP for the rest of the
 * transaction (so no other change interleaves), answer 404 when it is not theirs, and refuse
 * changes to a released one (released is terminal).
 */
import type { Queryable } from '../db/database.js';
import { ApiError } from '../errors.js';
import type { Caller } from './allocate.js';
import { elasticIpNotFound } from './get.js';
import { type ElasticIpRow, lockElasticIp } from './repository.js';

export async function lockOwnElasticIp(
  tx: Queryable,
  caller: Caller,
  id: string,
): Promise<ElasticIpRow> {
  const eip = await lockElasticIp(tx, caller.orgId, id);
  if (eip === undefined) throw elasticIpNotFound(id);
  return eip;
}

export function refuseIfReleased(eip: ElasticIpRow): void {
  if (eip.status === 'released') {
    throw new ApiError('ELASTIC_IP_RELEASED', `elastic IP ${eip.id} is released`);
  }
}
