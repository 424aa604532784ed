/**
 * One log line per request instead of Fastify's two ("incoming request" and "request
 * completed"): the completed line carries the request (method, url, remote address) as well as
 * the status and the response time. Writing and serializing log lines was about a tenth of
 * eipd's CPU per request (see BENCHMARKS.md); the incoming line stays available at debug level,
 * for when a request that never completes must be found.
 */
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

export class OneLinePerRequest extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.isLogDisabled(request)) return;
    const fields = { req: request, res: reply, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...fields, err: error }, 'request errored');
    else reply.log.info(fields, 'request completed');
  }
}
