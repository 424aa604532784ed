import { listPools as utilization } from '../../operators/pools.js';
import type { OperationHandler } from './handler.js';

export const listPools: OperationHandler = async (request, _reply, ctx) => {
  // Refuses to run if the operator hook did not: these reads cross every organization.
  ctx.operator(request);
  return utilization(ctx.db, request.query as { idc?: string }, ctx.quarantineSeconds);
};
