import type { OperationHandler } from './handler.js';

export const getHealth: OperationHandler = async () => ({ status: 'ok' });

export const getReadiness: OperationHandler = async (_request, _reply, ctx) =>
  ctx.readiness.check();
