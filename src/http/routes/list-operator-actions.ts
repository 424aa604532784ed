import { listOperatorActions as readActions } from '../../operators/actions.js';
import type { OperationHandler } from './handler.js';

export const listOperatorActions: OperationHandler = async (request, _reply, ctx) => {
  // Refuses to run if the operator hook did not: the history crosses every organization.
  ctx.operator(request);
  return readActions(ctx.db, request.query as { cursor?: string; limit?: number });
};
