/**
 * SQL for the `instances` table, including the database-backed InstanceDirectory. Functions here
 * run inside the caller's transaction and contain no business rules.
 */
import type { Queryable } from '../db/database.js';
import type { Instance, InstanceDirectory, InstanceType } from './directory.js';

interface InstanceRow extends Record<string, unknown> {
  id: string;
  org_id: string;
  idc: string;
  type: InstanceType;
}

function toInstance(row: InstanceRow): Instance {
  return { instanceID: row.id, orgId: row.org_id, idc: row.idc, instanceType: row.type };
}

export const databaseInstanceDirectory: InstanceDirectory = {
  async findForAssociation(tx, instanceId) {
    // FOR KEY SHARE: concurrent associations to one instance do not block each other, but a
    // removal (FOR UPDATE) waits for them, and they wait for it (then see the row gone).
    const [row] = await tx.query<InstanceRow>(
      'SELECT id, org_id, idc, type FROM instances WHERE id = $1 FOR KEY SHARE',
      [instanceId],
    );
    return row === undefined ? undefined : toInstance(row);
  },
};

export async function idcExists(tx: Queryable, idc: string): Promise<boolean> {
  const [row] = await tx.query<{ found: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM idcs WHERE name = $1) AS found',
    [idc],
  );
  return row?.found === true;
}

/**
 * Inserts the instance unless one with its id exists; answers whichever row is there afterwards
 * (a concurrent registration of the same id is waited for, then read).
 */
export async function insertInstanceIfAbsent(
  tx: Queryable,
  instance: Instance,
): Promise<{ inserted: boolean; instance: Instance | undefined }> {
  // One statement that always returns the row, inserted or existing (and locks the existing
  // one): a separate SELECT could find it removed in between and leave nothing to answer with.
  const [row] = await tx.query<InstanceRow & { inserted: boolean }>(
    `INSERT INTO instances (id, org_id, idc, type) VALUES ($1, $2, $3, $4)
     ON CONFLICT (id) DO UPDATE SET id = instances.id
     RETURNING id, org_id, idc, type, (xmax = 0) AS inserted`,
    [instance.instanceID, instance.orgId, instance.idc, instance.instanceType],
  );
  return {
    inserted: row?.inserted === true,
    instance: row === undefined ? undefined : toInstance(row),
  };
}

/** The instance locked against associations and other removals until the transaction ends. */
export async function lockInstanceForRemoval(
  tx: Queryable,
  instanceId: string,
): Promise<Instance | undefined> {
  const [row] = await tx.query<InstanceRow>(
    'SELECT id, org_id, idc, type FROM instances WHERE id = $1 FOR UPDATE',
    [instanceId],
  );
  return row === undefined ? undefined : toInstance(row);
}

export async function deleteInstance(tx: Queryable, instanceId: string): Promise<void> {
  await tx.query('DELETE FROM instances WHERE id = $1', [instanceId]);
}
