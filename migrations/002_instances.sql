-- eipd schema, version 2: the instance directory that associate checks against.
--
-- elastic_ips.instance_id deliberately has no foreign key to this table: the directory may later
-- be backed by the compute service instead. Association and removal keep the two consistent with
-- row locks (associate holds the instance FOR KEY SHARE, removal takes it FOR UPDATE).

CREATE TABLE instances (
  id uuid PRIMARY KEY,
  org_id uuid NOT NULL,
  idc text NOT NULL REFERENCES idcs (name),
  type text NOT NULL CHECK (type IN ('baremetal', 'container')),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Removing an instance disassociates every EIP on it; this finds them without a scan.
CREATE INDEX elastic_ips_by_instance ON elastic_ips (instance_id) WHERE instance_id IS NOT NULL;
