import { disassociateElasticIp } from '../../elastic-ips/associate.js';
import type { OperationHandler } from './handler.js';

export const disassociateElasticIP: OperationHandler = async (request, _reply, ctx) => {
  const { id } = request.params as { id: string };
  return disassociateElasticIp(ctx.db, ctx.caller(request), id);
};
