/**
 * updateElasticIP: rename. The row is locked so that concurrent renames serialize and each
 * `renamed` event's `from` is the name it really replaced.
 */
import type { Database } from '../db/database.js';
import type { Caller } from './allocate.js';
import { parseElasticIpId } from './get.js';
import { type ElasticIpResponse, toResponse, updateElasticIpName } from './repository.js';
import { lockOwnElasticIp, refuseIfReleased } from './transition.js';

export async function renameElasticIp(
  db: Database,
  caller: Caller,
  rawId: string,
  name: string,
): Promise<ElasticIpResponse> {
  const id = parseElasticIpId(rawId);
  return db.transaction(async (tx) => {
    const eip = await lockOwnElasticIp(tx, caller, id);
    refuseIfReleased(eip);
    // The same name again is success with no change and no event (every transition is idempotent).
    if (eip.name === name) return toResponse(eip);
    return toResponse(
      await updateElasticIpName(tx, { id, from: eip.name, to: name }, caller.subject),
    );
  });
}
