-- Operator views (src/operators/). The event stream is read in (tx_id, seq) order from a cursor
-- position; without this index each page would sort the whole event table.
CREATE INDEX eip_events_stream_order ON eip_events (tx_id, seq);
