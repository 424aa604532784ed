/**
 * associateElasticIP and disassociateElasticIP. Both lock the EIP row for the whole transaction,
 * so the state they check is the state they change (compare-and-set in the database): of two
 * parallel associations of a free EIP to different instances, the second sees the first's result
 * and is refused instead of silently stealing the address (field case C3).
 */
import type { Database } from '../db/database.js';
import { ApiError } from '../errors.js';
import type { InstanceDirectory, InstanceType } from '../instances/directory.js';
import { databaseInstanceDirectory } from '../instances/repository.js';
import type { Caller } from './allocate.js';
import { parseElasticIpId } from './get.js';
import { markAssociated, markDisassociated } from './lifecycle-repository.js';
import { type ElasticIpResponse, toResponse } from './repository.js';
import { lockOwnElasticIp, refuseIfReleased } from './transition.js';

export interface AssociateRequest {
  instanceID: string;
  instanceType: InstanceType;
  allowReassociation?: boolean;
}

export async function associateElasticIp(
  db: Database,
  caller: Caller,
  rawId: string,
  request: AssociateRequest,
  directory: InstanceDirectory = databaseInstanceDirectory,
): Promise<ElasticIpResponse> {
  const id = parseElasticIpId(rawId);
  const instanceId = request.instanceID.toLowerCase();
  return db.transaction(async (tx) => {
    // The instance is looked up (and held against removal) before the EIP is locked, the same
    // order removeInstance takes, so the two never deadlock. Its answer is judged only after the
    // EIP checks, which come first in the order of refusals.
    const instance = await directory.findForAssociation(tx, instanceId);
    const eip = await lockOwnElasticIp(tx, caller, id);
    refuseIfReleased(eip);
    // Another organization's instance, one in another IDC or of another type: all answered as
    // missing, in the same words, so that tenants learn nothing about instances not theirs.
    if (
      instance === undefined ||
      instance.orgId !== caller.orgId ||
      instance.idc !== eip.idc ||
      instance.instanceType !== request.instanceType
    ) {
      throw new ApiError(
        'INSTANCE_NOT_FOUND',
        `${request.instanceType} instance ${instanceId} was not found in IDC ${eip.idc}`,
      );
    }
    // Already there: success with no change and no event (field case C4).
    if (eip.status === 'associated' && eip.instance_id === instanceId) return toResponse(eip);
    if (eip.status === 'associated' && request.allowReassociation !== true) {
      throw new ApiError(
        'REASSOCIATION_REFUSED',
        `elastic IP ${id} is associated with ${eip.instance_type ?? 'instance'} ${eip.instance_id ?? ''}; set allowReassociation to move it`,
      );
    }
    const updated = await markAssociated(
      tx,
      { id, from: { instanceId: eip.instance_id } },
      { instanceId, instanceType: instance.instanceType },
      caller.subject,
    );
    // The row is locked by this transaction, so the compare-and-set cannot miss.
    if (updated === undefined) throw new Error(`elastic IP ${id} changed while locked`);
    return toResponse(updated);
  });
}

export async function disassociateElasticIp(
  db: Database,
  caller: Caller,
  rawId: string,
): Promise<ElasticIpResponse> {
  const id = parseElasticIpId(rawId);
  return db.transaction(async (tx) => {
    const eip = await lockOwnElasticIp(tx, caller, id);
    refuseIfReleased(eip);
    // Already disassociated: success with no change and no event (field case C4).
    if (eip.status === 'disassociated' || eip.instance_id === null) return toResponse(eip);
    const updated = await markDisassociated(
      tx,
      { id, instanceId: eip.instance_id, instanceType: eip.instance_type },
      caller.subject,
    );
    if (updated === undefined) throw new Error(`elastic IP ${id} changed while locked`);
    return toResponse(updated);
  });
}
