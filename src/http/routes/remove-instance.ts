import { removeInstance as remove } from '../../instances/remove.js';
import type { OperationHandler } from './handler.js';

export const removeInstance: OperationHandler = async (request, _reply, ctx) => {
  const { instanceID } = request.params as { instanceID: string };
  return remove(ctx.db, ctx.operator(request).subject, instanceID);
};
