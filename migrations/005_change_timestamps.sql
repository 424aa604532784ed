-- Timestamps of state changes are the time of the statement that made the change, not the start
-- of its transaction: a transaction that waited for an elastic IP's row lock would otherwise
-- stamp its change earlier than the change it waited for, and "who held this address at instant
-- t" would answer wrongly. The statement runs after the lock is taken, so per elastic IP these
-- times follow the order of its changes. Within one statement the value is constant, so the rows
-- and events one allocation writes share it.
ALTER TABLE elastic_ips ALTER COLUMN created_at SET DEFAULT statement_timestamp();
ALTER TABLE elastic_ips ALTER COLUMN updated_at SET DEFAULT statement_timestamp();
ALTER TABLE eip_events ALTER COLUMN occurred_at SET DEFAULT statement_timestamp();
