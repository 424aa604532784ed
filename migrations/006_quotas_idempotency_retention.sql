-- Quotas (contract rule 3) and idempotency keys (rule 9).

-- The limit on non-released EIPs an organization may hold in one IDC: the operator's override
-- (setQuota) if there is one, else the catalog file's entry for it, else the default. A null
-- default means no limit. The file's values and the operators' are kept apart so that applying
-- the file at a restart never undoes what an operator set through the API; see src/quotas/.
CREATE TABLE quota_default (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  max_eips integer CHECK (max_eips >= 0),
  updated_at timestamptz NOT NULL DEFAULT statement_timestamp()
);
INSERT INTO quota_default (max_eips) VALUES (NULL);

CREATE TABLE quota_overrides (
  org_id uuid NOT NULL,
  idc text NOT NULL REFERENCES idcs (name),
  operator_max_eips integer CHECK (operator_max_eips >= 0),
  catalog_max_eips integer CHECK (catalog_max_eips >= 0),
  updated_at timestamptz NOT NULL DEFAULT statement_timestamp(),
  -- The operator (token subject) who last set operator_max_eips.
  updated_by text,
  PRIMARY KEY (org_id, idc),
  CHECK (operator_max_eips IS NOT NULL OR catalog_max_eips IS NOT NULL)
);

-- Counting an organization's live EIPs in one IDC is the quota check: this index keeps it to the
-- live ones (released EIPs stay forever, for history) and lets it be an index-only scan.
CREATE INDEX elastic_ips_live_by_org_idc ON elastic_ips (org_id, idc) WHERE status <> 'released';

-- An allocation's Idempotency-Key, inserted first thing in the allocation's own transaction, so a
-- second request with the same key waits on this row and then finds the first one's answer; it
-- exists only if that allocation committed (only 200 answers are kept). Keys are per
-- organization; request_hash is the SHA-256 of the body's canonical JSON.
CREATE TABLE idempotency_keys (
  org_id uuid NOT NULL,
  key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  request_hash text NOT NULL,
  response jsonb,
  created_at timestamptz NOT NULL DEFAULT statement_timestamp(),
  PRIMARY KEY (org_id, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- Retention: events are pruned as a prefix of the stream, in (tx_id, seq) order, and the last
-- pruned position is kept, so that a reader whose cursor is behind it is told it missed events
-- (and resynchronizes from the association snapshot) instead of silently skipping them.
CREATE TABLE event_prune_state (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  pruned_through_tx xid8 NOT NULL,
  pruned_through_seq bigint NOT NULL,
  pruned_at timestamptz NOT NULL DEFAULT statement_timestamp()
);
