-- mqttd schema, version 1.
--
-- Everything an operator needs to read with the sqlite3 CLI: client ids,
-- topics and filters are TEXT and stay text ('007' is not 7), states are
-- words, times are ISO 8601 UTC text. One row per message body, shared by
-- all its deliveries and by the retained table.

-- A persistent session (clean session 0). Clean sessions are never stored.
CREATE TABLE sessions (
	client_id	TEXT NOT NULL PRIMARY KEY,
	protocol_level	INTEGER NOT NULL,	-- 3 = MQTT 3.1, 4 = 3.1.1, 5 = 5.0
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	connected_at	TEXT,
	disconnected_at	TEXT
) WITHOUT ROWID;

CREATE TABLE subscriptions (
	client_id	TEXT NOT NULL REFERENCES sessions(client_id) ON DELETE CASCADE,
	filter		TEXT NOT NULL,
	qos		INTEGER NOT NULL CHECK (qos BETWEEN 0 AND 2),
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	PRIMARY KEY (client_id, filter)
) WITHOUT ROWID;

-- A message body, kept while a delivery or the retained table needs it.
CREATE TABLE messages (
	id		INTEGER PRIMARY KEY,
	topic		TEXT NOT NULL,
	payload		BLOB NOT NULL,
	qos		INTEGER NOT NULL CHECK (qos BETWEEN 0 AND 2),
	retain		INTEGER NOT NULL DEFAULT 0,
	received_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- A message on its way to a persistent session, in order of seq.
CREATE TABLE deliveries (
	id		INTEGER PRIMARY KEY,	-- also the order within a session
	client_id	TEXT NOT NULL REFERENCES sessions(client_id) ON DELETE CASCADE,
	message_id	INTEGER NOT NULL REFERENCES messages(id),
	qos		INTEGER NOT NULL CHECK (qos BETWEEN 0 AND 2),
	retain		INTEGER NOT NULL DEFAULT 0,
	state		TEXT NOT NULL CHECK (state IN ('queued', 'publish_sent', 'pubrel_sent')),
	packet_id	INTEGER CHECK (packet_id BETWEEN 1 AND 65535)
);
CREATE INDEX deliveries_by_client ON deliveries(client_id, id);
CREATE INDEX deliveries_by_message ON deliveries(message_id);

-- Incoming QoS 2 packet ids whose PUBREL has not come yet.
CREATE TABLE incoming (
	client_id	TEXT NOT NULL REFERENCES sessions(client_id) ON DELETE CASCADE,
	packet_id	INTEGER NOT NULL CHECK (packet_id BETWEEN 1 AND 65535),
	state		TEXT NOT NULL DEFAULT 'pubrec_sent' CHECK (state = 'pubrec_sent'),
	PRIMARY KEY (client_id, packet_id)
) WITHOUT ROWID;

CREATE TABLE retained (
	topic		TEXT NOT NULL PRIMARY KEY,
	message_id	INTEGER NOT NULL REFERENCES messages(id)
) WITHOUT ROWID;
CREATE INDEX retained_by_message ON retained(message_id);

-- A body goes with the last delivery or retained row that needs it,
-- also when a session's deliveries go with the session (ON DELETE CASCADE).
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

-- ===== Views for operators =====

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

CREATE VIEW retained_topics AS
	SELECT r.topic, m.qos, length(m.payload) AS bytes, m.received_at
	FROM retained r JOIN messages m ON m.id = r.message_id
	ORDER BY r.topic;
