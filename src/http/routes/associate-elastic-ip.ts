import { associateElasticIp } from '../../elastic-ips/associate.js';
import type { components } from '../../generated/openapi.js';
import type { OperationHandler } from './handler.js';

type AssociateBody = components['schemas']['elasticIPAssociateReq'];

export const associateElasticIP: OperationHandler = async (request, _reply, ctx) => {
  const { id } = request.params as { id: string };
  return associateElasticIp(ctx.db, ctx.caller(request), id, request.body as AssociateBody);
};
