/**
 * The SDK's names for the schemas of openapi/eipd.yaml. They are aliases of the generated types
 * (src/generated/openapi.ts), never hand-written copies: when the document changes, code that no
 * longer agrees with it stops compiling.
 */
import type { components, operations } from '../generated/openapi.js';

type Schemas = components['schemas'];

export type ElasticIP = Schemas['elasticIPResp'];
export type ElasticIPStatus = ElasticIP['status'];
export type AllocateRequest = Schemas['elasticIPAllocateReq'];
export type AssociateRequest = Schemas['elasticIPAssociateReq'];
export type InstanceType = AssociateRequest['instanceType'];
export type ElasticIPProduct = Schemas['elasticIPProduct'];
export type Instance = Schemas['instance'];
export type InstanceRequest = Schemas['instanceReq'];
export type EipdEvent = Schemas['event'];
export type EventPage = Schemas['eventPage'];
export type Association = Schemas['association'];
export type AssociationSnapshot = Schemas['associationSnapshot'];
export type AddressHolding = Schemas['addressHolding'];
export type PoolUtilization = Schemas['poolUtilization'];
export type Quota = Schemas['quota'];
export type ValidationDetail = Schemas['validationDetail'];
/** The two error body shapes of the published API. */
export type ErrorBody = Schemas['error'] | Schemas['errorStatusMessage'];

/** listElasticIPs filters, minus the paging parameters the client drives itself. */
export type ListFilters = Omit<
  NonNullable<operations['listElasticIPs']['parameters']['query']>,
  'cursor' | 'limit'
>;
