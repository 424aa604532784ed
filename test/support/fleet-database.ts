/**
 * A fresh PostgreSQL database with a fleet of eipd processes on it, always torn down whatever the
 * test body does.
 */
import assert from 'node:assert/strict';
import { createPostgres, type TestDatabase } from './databases.js';
import { type Fleet, type FleetProcess, startFleet } from './fleet.js';

export async function withFleet(
  options: { processes: number; catalogYaml: string; env?: Record<string, string> },
  body: (fleet: Fleet, database: TestDatabase) => Promise<void>,
): Promise<void> {
  const database = await createPostgres();
  let fleet: Fleet | undefined;
  try {
    const databaseUrl = database.url;
    assert.ok(databaseUrl !== undefined);
    fleet = await startFleet({ databaseUrl, ...options });
    await body(fleet, database);
  } finally {
    try {
      await fleet?.stop();
    } finally {
      await database.dispose();
    }
  }
}

export function nth(fleet: Fleet, i: number): FleetProcess {
  const p = fleet.processes[i % fleet.processes.length];
  assert.ok(p !== undefined, `no process #${i + 1}`);
  return p;
}

/** No process logged a 500 ("unexpected error"). */
export function assertNoUnexpectedErrors(fleet: Fleet): void {
  for (const p of fleet.processes) {
    assert.doesNotMatch(p.output(), /"msg":"unexpected error"/, p.output());
  }
}
