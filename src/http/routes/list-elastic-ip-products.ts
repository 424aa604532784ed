import { listElasticIpProducts } from '../../elastic-ips/products.js';
import type { OperationHandler } from './handler.js';

export const listElasticIPProducts: OperationHandler = async (request, _reply, ctx) => {
  const { idc } = request.query as { idc?: string };
  return listElasticIpProducts(ctx.db, idc);
};
