import { listEvents as readEvents } from '../../operators/events.js';
import type { OperationHandler } from './handler.js';

export const listEvents: OperationHandler = async (request, _reply, ctx) => {
  // Refuses to run if the operator hook did not: these reads cross every organization.
  ctx.operator(request);
  return readEvents(ctx.db, request.query as { cursor?: string; limit?: number });
};
