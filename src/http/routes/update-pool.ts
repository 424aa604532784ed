import { updatePool as setEnabled } from '../../operators/pools.js';
import type { OperationHandler } from './handler.js';

export const updatePool: OperationHandler = async (request, _reply, ctx) => {
  // Refuses to run if the operator hook did not: these reads cross every organization.
  ctx.operator(request);
  const { pool } = request.params as { pool: string };
  return setEnabled(ctx.db, pool, request.body as { enabled: boolean }, ctx.quarantineSeconds);
};
