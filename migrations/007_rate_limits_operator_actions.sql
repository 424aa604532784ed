-- Rate limits (requests per organization, failed authentications per client address) and the
-- history of operators' actions.

-- One row per (bucket, window): `bucket` is `org:<uuid>` or `auth:<address>`, `window_index` the
-- number of whole windows since the epoch on the database's clock, so every replica counts in the
-- same row. UNLOGGED: counters are worth nothing after a crash (the table comes back empty, which
-- at worst lets one window through unlimited), and skipping the WAL keeps the one UPSERT per
-- request cheap. Rows older than the previous window are deleted by the replica that first counts
-- in a new window, so the table holds at most two windows of buckets.
CREATE UNLOGGED TABLE rate_limit_counters (
  bucket text NOT NULL,
  window_index bigint NOT NULL,
  hits bigint NOT NULL,
  PRIMARY KEY (bucket, window_index)
);

-- Changes operators make through /v1/admin/ that are not EIP state changes (those are in
-- eip_events, with the actor): instances, pools, quotas. `actor` is the token's `sub`.
CREATE TABLE operator_actions (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  occurred_at timestamptz NOT NULL DEFAULT statement_timestamp(),
  actor text,
  action text NOT NULL CHECK (action IN ('instance_registered', 'instance_removed',
    'pool_updated', 'quota_set', 'quota_override_removed')),
  target text NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}'
);
