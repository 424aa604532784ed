import { updatePool as setEnabled } from '../../operators/pools.js';
import type { OperationHandler } from './handler.js';

export const updatePool: OperationHandler = async (request, _reply, ctx) => {
  const operator = ctx.operator(request);
  const { pool } = request.params as { pool: string };
  return setEnabled(
    ctx.db,
    operator.subject,
    pool,
    request.body as { enabled: boolean },
    ctx.quarantineSeconds,
  );
};
