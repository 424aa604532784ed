/**
 * removeInstance (operator): deletes an instance and, in the same transaction, disassociates every
 * EIP on it with one `disassociated` event each, so that no EIP is left pointing at an instance
 * that no longer exists and the network agents hear about every detachment.
 */
import type { Database } from '../db/database.js';
import { disassociateAllOnInstance } from '../elastic-ips/lifecycle-repository.js';
import { recordOperatorAction } from '../operators/actions.js';
import type { Instance } from './directory.js';
import { instanceNotFound, parseInstanceId } from './errors.js';
import { deleteInstance, lockInstanceForRemoval } from './repository.js';

export async function removeInstance(
  db: Database,
  actor: string | null,
  rawId: string,
): Promise<Instance> {
  const id = parseInstanceId(rawId);
  return db.transaction(async (tx) => {
    // Locked first, then its EIPs: associate takes the instance before the EIP too, so the two
    // never wait on each other in a cycle.
    const instance = await lockInstanceForRemoval(tx, id);
    if (instance === undefined) throw instanceNotFound(id);
    const disassociated = await disassociateAllOnInstance(tx, id, actor);
    await deleteInstance(tx, id);
    await recordOperatorAction(tx, actor, 'instance_removed', id, {
      orgId: instance.orgId,
      idc: instance.idc,
      instanceType: instance.instanceType,
      disassociated,
    });
    return instance;
  });
}
