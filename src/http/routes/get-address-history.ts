import { getAddressHistory as history } from '../../operators/history.js';
import type { OperationHandler } from './handler.js';

export const getAddressHistory: OperationHandler = async (request, _reply, ctx) => {
  // Refuses to run if the operator hook did not: these reads cross every organization.
  ctx.operator(request);
  return history(ctx.db, request.query as { ipAddress: string; at?: string });
};
