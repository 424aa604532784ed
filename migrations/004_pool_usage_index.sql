-- Pool utilization counts each pool's live EIPs; without this index that count scans every EIP
-- ever allocated, released history included, once per pool.
CREATE INDEX elastic_ips_live_by_pool ON elastic_ips (pool) WHERE status <> 'released';
