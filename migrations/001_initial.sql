-- eipd schema, version 1. Runs unchanged on PostgreSQL 15+ and on PGlite.
--
-- Addresses are stored as numeric(39,0) integers (an IPv6 address needs 128 bits, more than int8)
-- next to their family; the canonical text is computed once by eipd's own parser and stored for
-- display and lookups. The database never parses address text: its inet type accepts ambiguous
-- spellings such as 010.0.0.1.

CREATE TABLE idcs (
  name text PRIMARY KEY CHECK (name ~ '^[a-zA-Z0-9._-]+$' AND length(name) <= 50),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
  name text PRIMARY KEY CHECK (name ~ '^[a-zA-Z0-9._-]+$' AND length(name) <= 256),
  internet_connection_type text NOT NULL
    CHECK (internet_connection_type IN ('BGP', 'Dual-Homed')),
  max_bandwidth text NOT NULL CHECK (length(max_bandwidth) BETWEEN 1 AND 1048576),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pools (
  name text PRIMARY KEY CHECK (name ~ '^[a-zA-Z0-9._-]+$' AND length(name) <= 100),
  idc text NOT NULL REFERENCES idcs (name),
  family smallint NOT NULL CHECK (family IN (4, 6)),
  cidr text NOT NULL,
  network numeric(39, 0) NOT NULL,
  prefix_length smallint NOT NULL,
  -- The addresses the allocator may hand out: the prefix minus network/broadcast (IPv4 shorter
  -- than /31) or minus the subnet-router anycast address (IPv6 shorter than /127).
  first_usable numeric(39, 0) NOT NULL,
  last_usable numeric(39, 0) NOT NULL,
  -- The whole prefix on one number line shared by both families (IPv4 at its IPv4-mapped IPv6
  -- position, ::ffff:a.b.c.d), so that this one constraint keeps every pool disjoint from every
  -- other pool, in any IDC and across families.
  span numrange NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT pools_do_not_overlap EXCLUDE USING gist (span WITH &&),
  CHECK (
    (family = 4 AND prefix_length BETWEEN 0 AND 32) OR (family = 6 AND prefix_length BETWEEN 0 AND 128)
  ),
  CHECK (network <= first_usable AND first_usable <= last_usable)
);

-- Which products a pool serves. A product is offered in an IDC when one of its pools is there.
CREATE TABLE pool_products (
  pool text NOT NULL REFERENCES pools (name) ON DELETE CASCADE,
  product text NOT NULL REFERENCES products (name),
  PRIMARY KEY (pool, product)
);
CREATE INDEX pool_products_by_product ON pool_products (product, pool);

-- Addresses inside a pool that are never handed out (gateways, abuse-listed addresses).
CREATE TABLE pool_reserved_addresses (
  pool text NOT NULL REFERENCES pools (name) ON DELETE CASCADE,
  address numeric(39, 0) NOT NULL,
  PRIMARY KEY (pool, address)
);

-- The never-used addresses of each pool, as disjoint ranges. A row covers [lo, hi]; of those,
-- [next_free, hi] are still free and [lo, next_free) were handed out. `lo` never changes once the
-- row exists, so the primary key is stable and advancing next_free is a HOT update that leaves
-- the index alone (see src/ipam/allocator.ts for the whole argument). Exhausted rows are deleted.
CREATE TABLE pool_free_ranges (
  pool text NOT NULL REFERENCES pools (name) ON DELETE CASCADE,
  lo numeric(39, 0) NOT NULL,
  next_free numeric(39, 0) NOT NULL,
  hi numeric(39, 0) NOT NULL,
  PRIMARY KEY (pool, lo),
  CHECK (lo <= next_free AND next_free <= hi)
);

-- Released addresses waiting out their quarantine, then reusable oldest-release first
-- (contract rule 7). An address is here only while no live EIP holds it.
CREATE TABLE released_addresses (
  pool text NOT NULL REFERENCES pools (name) ON DELETE CASCADE,
  address numeric(39, 0) NOT NULL,
  released_at timestamptz NOT NULL,
  released_by_org uuid NOT NULL,
  PRIMARY KEY (pool, address)
);
CREATE INDEX released_addresses_reuse_order ON released_addresses (pool, released_at, address);

CREATE TABLE elastic_ips (
  id uuid PRIMARY KEY,
  org_id uuid NOT NULL,
  name text NOT NULL CHECK (length(name) <= 255),
  idc text NOT NULL REFERENCES idcs (name),
  product text NOT NULL REFERENCES products (name),
  pool text NOT NULL REFERENCES pools (name),
  family smallint NOT NULL CHECK (family IN (4, 6)),
  address numeric(39, 0) NOT NULL,
  ip_address text NOT NULL CHECK (length(ip_address) BETWEEN 7 AND 39),
  status text NOT NULL CHECK (status IN ('disassociated', 'associated', 'released')),
  instance_id uuid,
  instance_type text CHECK (instance_type IN ('baremetal', 'container')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  released_at timestamptz,
  CONSTRAINT elastic_ips_instance_pair CHECK ((instance_id IS NULL) = (instance_type IS NULL)),
  CONSTRAINT elastic_ips_associated_has_instance
    CHECK ((status = 'associated') = (instance_id IS NOT NULL)),
  CONSTRAINT elastic_ips_released_at CHECK ((status = 'released') = (released_at IS NOT NULL))
);

-- Contract rule 1: an address belongs to at most one non-released EIP, whatever the code above
-- does. This index, not the allocator, is the last word on double allocation.
CREATE UNIQUE INDEX elastic_ips_one_live_holder ON elastic_ips (family, address)
  WHERE status <> 'released';
-- Tenant lists are keyset-paginated on (created_at, id) within one organization.
CREATE INDEX elastic_ips_by_org ON elastic_ips (org_id, created_at, id);
-- Address history: every EIP that ever held an address, in order.
CREATE INDEX elastic_ips_by_address ON elastic_ips (family, address, created_at);

-- Contract rule 8: every state change writes one row here in the same transaction. tx_id records
-- the writing transaction so that a reader can follow commit order rather than seq order.
CREATE TABLE eip_events (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
  occurred_at timestamptz NOT NULL DEFAULT now(),
  type text NOT NULL
    CHECK (type IN ('allocated', 'renamed', 'associated', 'disassociated', 'released')),
  eip_id uuid NOT NULL REFERENCES elastic_ips (id),
  org_id uuid NOT NULL,
  actor text,
  idc text NOT NULL,
  ip_address text NOT NULL,
  instance_id uuid,
  instance_type text,
  detail jsonb
);
CREATE INDEX eip_events_by_eip ON eip_events (eip_id, seq);
