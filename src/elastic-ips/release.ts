/**
 * releaseElasticIP: ends an EIP's life. The address goes into quarantine (contract rule 7) and
 * the `released` event commits with the change (rule 8). Releasing a released EIP is a success
 * that changes nothing; releasing an associated one is refused (disassociate first).
 */
import type { Database } from '../db/database.js';
import { ApiError } from '../errors.js';
import type { Caller } from './allocate.js';
import { elasticIpNotFound, parseElasticIpId } from './get.js';
import { markReleased } from './lifecycle-repository.js';
import { type ElasticIpResponse, findElasticIp } from './repository.js';
import { lockOwnElasticIp } from './transition.js';

export async function releaseElasticIp(
  db: Database,
  caller: Caller,
  rawId: string,
): Promise<ElasticIpResponse> {
  const id = parseElasticIpId(rawId);
  return db.transaction(async (tx) => {
    // Locked so that a concurrent associate cannot slip in between the check and the change.
    const eip = await lockOwnElasticIp(tx, caller, id);
    if (eip.status === 'associated') {
      throw new ApiError(
        'RELEASE_WHILE_ASSOCIATED',
        `elastic IP ${id} is associated with ${eip.instance_type ?? 'instance'} ${eip.instance_id ?? ''}; disassociate it first`,
      );
    }
    if (eip.status === 'disassociated') await markReleased(tx, id, caller.subject);
    const released = await findElasticIp(tx, caller.orgId, id);
    // The row is locked by this transaction, so it cannot have vanished since it was locked.
    if (released === undefined) throw elasticIpNotFound(id);
    return released;
  });
}
