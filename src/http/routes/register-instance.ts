import type { components } from '../../generated/openapi.js';
import { registerInstance as register } from '../../instances/register.js';
import type { OperationHandler } from './handler.js';

type InstanceBody = components['schemas']['instanceReq'];

export const registerInstance: OperationHandler = async (request, _reply, ctx) => {
  const { instanceID } = request.params as { instanceID: string };
  return register(ctx.db, ctx.operator(request).subject, instanceID, request.body as InstanceBody);
};
