/**
 * The instance directory: which instances exist, whose they are, where they run. Associate asks it
 * before attaching an EIP. Today it is eipd's own `instances` table (see repository.ts); the
 * interface exists so that an adapter can answer from the compute service instead.
 */
import type { Queryable } from '../db/database.js';
import type { components } from '../generated/openapi.js';

export type Instance = components['schemas']['instance'];
export type InstanceType = Instance['instanceType'];

export interface InstanceDirectory {
  /**
   * The instance, or undefined when the directory does not know it. Called inside associate's
   * transaction: an implementation that can (the database one) keeps the instance from being
   * removed until `tx` ends, so that an EIP is never left associated with a removed instance.
   */
  findForAssociation(tx: Queryable, instanceId: string): Promise<Instance | undefined>;
}
