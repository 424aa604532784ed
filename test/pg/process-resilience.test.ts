/**
 * The process survives what production throws at it: a database backend killed in the middle of
 * a transaction, and a client that never finishes its request while the server shuts down.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { DatabaseUnavailableError } from '../../src/db/errors.js';
import { createPostgres } from '../support/databases.js';
import { startFleet } from '../support/fleet.js';

const CATALOG = `
idcs: [{ name: res-1 }]
products: [{ name: eip.res, internetConnectionType: BGP, maxBandwidth: 1 Gbps }]
pools: [{ name: res-a, idc: res-1, cidr: 198.51.100.0/28, products: [eip.res] }]
`;

describe('process resilience (postgres)', () => {
  test('a backend terminated mid-transaction fails that transaction, not the process', async () => {
    const database = await createPostgres();
    try {
      // The backend dies while the transaction is between two statements (idle in transaction):
      // node-postgres then emits 'error' on the checked-out client.
      let killed: () => void = () => {};
      const backendGone = new Promise<void>((resolve) => {
        killed = resolve;
      });
      let pidReady: (pid: number) => void = () => {};
      const backendPid = new Promise<number>((resolve) => {
        pidReady = resolve;
      });
      const running = database.db.transaction(async (tx) => {
        const [row] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        pidReady(row?.pid ?? 0);
        await backendGone;
        await tx.query('SELECT 1');
      });
      await database.db.query('SELECT pg_terminate_backend($1)', [await backendPid]);
      await new Promise((r) => setTimeout(r, 200));
      killed();
      await assert.rejects(running, DatabaseUnavailableError);
      // The pool still works afterwards.
      const [ok] = await database.db.query<{ one: number }>('SELECT 1 AS one');
      assert.equal(ok?.one, 1);
    } finally {
      await database.dispose();
    }
  });

  test('SIGTERM with a client stuck mid-request exits within the shutdown grace period', async () => {
    const database = await createPostgres();
    assert.ok(database.url);
    const fleet = await startFleet({
      databaseUrl: database.url,
      catalogYaml: CATALOG,
      processes: 1,
      env: { EIPD_SHUTDOWN_GRACE_MS: '1000' },
    });
    try {
      const [server] = fleet.processes;
      assert.ok(server);
      const { port } = new URL(server.url);
      const token = await fleet.token();
      // Headers and half a body, then silence.
      const socket = connect(Number(port), '127.0.0.1');
      socket.on('error', () => {});
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(
        `POST /v1/elastic-ips HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"idc":',
      );
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      await server.stop('SIGTERM');
      const took = Date.now() - started;
      socket.destroy();
      // stop() falls back to SIGKILL after 5 s; a clean exit well before that is the point.
      assert.ok(took < 4000, `shutdown took ${took} ms`);
      assert.match(server.output(), /shutdown grace period over/);
      assert.match(server.output(), /exited: code 0/);
    } finally {
      await fleet.stop();
      await database.dispose();
    }
  });
});
