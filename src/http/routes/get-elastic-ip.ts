import { getElasticIp } from '../../elastic-ips/get.js';
import type { OperationHandler } from './handler.js';

export const getElasticIP: OperationHandler = async (request, _reply, ctx) => {
  const { id } = request.params as { id: string };
  return getElasticIp(ctx.db, ctx.caller(request).orgId, id);
};
