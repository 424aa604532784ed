import { renameElasticIp } from '../../elastic-ips/rename.js';
import type { components } from '../../generated/openapi.js';
import type { OperationHandler } from './handler.js';

type UpdateBody = components['schemas']['elasticIPUpdateReq'];

export const updateElasticIP: OperationHandler = async (request, _reply, ctx) => {
  const { id } = request.params as { id: string };
  const body = request.body as UpdateBody;
  return renameElasticIp(ctx.db, ctx.caller(request), id, body.name);
};
