/**
 * registerInstance (operator): adds an instance to the directory. Registering the same instance
 * with the same attributes again is a success that changes nothing; different attributes are
 * refused, because EIPs may already be associated on the strength of the old ones (remove the
 * instance first, which disassociates them).
 */
import type { Database } from '../db/database.js';
import { ApiError } from '../errors.js';
import { recordOperatorAction } from '../operators/actions.js';
import type { Instance, InstanceType } from './directory.js';
import { parseInstanceId } from './errors.js';
import { idcExists, insertInstanceIfAbsent } from './repository.js';

export interface RegisterInstanceRequest {
  orgId: string;
  idc: string;
  instanceType: InstanceType;
}

export async function registerInstance(
  db: Database,
  actor: string | null,
  rawId: string,
  request: RegisterInstanceRequest,
): Promise<Instance> {
  const wanted: Instance = {
    instanceID: parseInstanceId(rawId),
    orgId: request.orgId.toLowerCase(),
    idc: request.idc,
    instanceType: request.instanceType,
  };
  return db.transaction(async (tx) => {
    if (!(await idcExists(tx, wanted.idc)))
      throw new ApiError('IDC_NOT_FOUND', `IDC ${wanted.idc} was not found`);
    const { inserted, instance } = await insertInstanceIfAbsent(tx, wanted);
    // ON CONFLICT found a row that a concurrent removal deleted before we read it: rare, and a
    // plain retry of the request does the right thing.
    if (instance === undefined)
      throw new Error(`instance ${wanted.instanceID} vanished during registration`);
    if (inserted) {
      await recordOperatorAction(tx, actor, 'instance_registered', instance.instanceID, {
        orgId: instance.orgId,
        idc: instance.idc,
        instanceType: instance.instanceType,
      });
      return instance;
    }
    if (
      instance.orgId !== wanted.orgId ||
      instance.idc !== wanted.idc ||
      instance.instanceType !== wanted.instanceType
    ) {
      throw new ApiError(
        'INSTANCE_CONFLICT',
        `instance ${wanted.instanceID} is registered with orgId ${instance.orgId}, idc ${instance.idc}, instanceType ${instance.instanceType}; remove it before registering it with other attributes`,
      );
    }
    return instance;
  });
}
