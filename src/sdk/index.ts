/**
 * eipd/sdk: a typed client for eipd's HTTP API, generated from openapi/eipd.yaml. It imports
 * nothing from the server.
 *
 *   import { createEipdClient, EipdApiError } from 'eipd/sdk';
 *   const eipd = createEipdClient({ baseUrl: 'http://127.0.0.1:8080', token });
 *   const { ids } = await eipd.allocate({ idc: 'demo-west1', product: 'eip.ipv4.standard', name: 'web-1', count: 2 });
 */
export {
  type AllocateOptions,
  type AllocateResult,
  type CallOptions,
  createEipdClient,
  type EipdClient,
  type EipdClientOptions,
  type FollowOptions,
  type ListPage,
} from './client.js';
export {
  EipdApiError,
  EipdError,
  EipdNetworkError,
  ERROR_CODES,
  isRetryable,
} from './errors.js';
export { DEFAULT_RETRY, type RetryEvent, type RetryPolicy } from './retry.js';
export type * from './types.js';
