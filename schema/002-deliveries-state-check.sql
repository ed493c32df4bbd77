-- mqttd schema, version 2: the same deliveries table with its state check
-- written as comparisons.
--
-- SQLite evaluates "state IN ('queued', ...)" by building a temporary
-- lookup table each time a statement that checks it runs; every stored
-- delivery paid for that, more than for the row itself. The rule is the
-- same. A CHECK cannot be altered in place, so the table is rebuilt, and
-- with it the views and triggers that name it.

DROP VIEW inflight;
DROP VIEW queue_depth;
DROP TRIGGER retained_release_body;
DROP TRIGGER retained_replace_body;

CREATE TABLE deliveries_v2 (
	id		INTEGER PRIMARY KEY,	-- also the order within a session
	client_id	TEXT NOT NULL REFERENCES sessions(client_id) ON DELETE CASCADE,
	message_id	INTEGER NOT NULL REFERENCES messages(id),
	qos		INTEGER NOT NULL CHECK (qos BETWEEN 0 AND 2),
	retain		INTEGER NOT NULL DEFAULT 0,
	state		TEXT NOT NULL CHECK (state = 'queued' OR
			    state = 'publish_sent' OR state = 'pubrel_sent'),
	packet_id	INTEGER CHECK (packet_id BETWEEN 1 AND 65535)
);
INSERT INTO deliveries_v2 (id, client_id, message_id, qos, retain, state,
    packet_id)
	SELECT id, client_id, message_id, qos, retain, state, packet_id
	FROM deliveries;
-- Its trigger and indexes go with it (a dropped table's triggers never fire).
DROP TABLE deliveries;
ALTER TABLE deliveries_v2 RENAME TO deliveries;
CREATE INDEX deliveries_by_client ON deliveries(client_id, id);
CREATE INDEX deliveries_by_message ON deliveries(message_id);

CREATE TRIGGER deliveries_release_body AFTER DELETE ON deliveries
WHEN NOT EXISTS (SELECT 1 FROM deliveries WHERE message_id = OLD.message_id)
    AND NOT EXISTS (SELECT 1 FROM retained WHERE message_id = OLD.message_id)
BEGIN
	DELETE FROM messages WHERE id = OLD.message_id;
END;

CREATE TRIGGER retained_release_body AFTER DELETE ON retained
WHEN NOT EXISTS (SELECT 1 FROM deliveries WHERE message_id = OLD.message_id)
    AND NOT EXISTS (SELECT 1 FROM retained WHERE message_id = OLD.message_id)
BEGIN
	DELETE FROM messages WHERE id = OLD.message_id;
END;

CREATE TRIGGER retained_replace_body AFTER UPDATE OF message_id ON retained
WHEN OLD.message_id <> NEW.message_id
    AND NOT EXISTS (SELECT 1 FROM deliveries WHERE message_id = OLD.message_id)
    AND NOT EXISTS (SELECT 1 FROM retained WHERE message_id = OLD.message_id)
BEGIN
	DELETE FROM messages WHERE id = OLD.message_id;
END;

CREATE VIEW inflight AS
	SELECT d.client_id, d.packet_id, d.state, d.qos, m.topic,
	    length(m.payload) AS bytes, m.received_at
	FROM deliveries d JOIN messages m ON m.id = d.message_id
	WHERE d.state <> 'queued'
	ORDER BY d.client_id, d.id;

CREATE VIEW queue_depth AS
	SELECT s.client_id, count(d.id) AS messages,
	    coalesce(sum(length(m.payload)), 0) AS bytes,
	    min(m.received_at) AS oldest
	FROM sessions s
	LEFT JOIN deliveries d ON d.client_id = s.client_id
	LEFT JOIN messages m ON m.id = d.message_id
	GROUP BY s.client_id;
