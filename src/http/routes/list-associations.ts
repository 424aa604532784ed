import { listAssociations as snapshot } from '../../operators/events.js';
import type { OperationHandler } from './handler.js';

export const listAssociations: OperationHandler = async (request, _reply, ctx) => {
  // Refuses to run if the operator hook did not: these reads cross every organization.
  ctx.operator(request);
  return snapshot(ctx.db);
};
