/*
 * test_malformed.c: hostile and malformed input, one case per test, each
 * on a fresh connection.
 *
 * Every test asserts the broker's answer (a close, or the return code the
 * specification asks for), then check_intact(): a separate well-behaved
 * client can still connect, subscribe, publish and receive, the retained
 * message set up at the start is still delivered, and the database (read
 * with the sqlite3 C API while the broker runs, which WAL allows) holds
 * exactly what it held before the bad packet.
 *
 * Stored state set up once for the file (group_setup):
 *   - "mal-keeper": a persistent session, two subscriptions, one message
 *     queued while it is offline;
 *   - "mal-victim": a persistent session subscribed to "mal/victim/#";
 *     most bad packets are sent on a connection that resumed it, so that
 *     a bad packet that changed its session would show;
 *   - a retained message on "mal/retained" (QoS 1).
 * Bad packets that must leave nothing behind try to change exactly this
 * (a retained PUBLISH to "mal/retained", a SUBSCRIBE or UNSUBSCRIBE of the
 * victim's filters, a CONNECT of a persistent session).
 *
 * Tests that check the broker's log line use a client id (or, before
 * CONNECT, the peer address) of their own, so the line found is theirs.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "harness.h"

#define RETAINED_TOPIC		"mal/retained"
#define RETAINED_PAYLOAD	"kept-retained"
#define VICTIM_ID		"mal-victim"
#define VICTIM_FILTER		"mal/victim/#"
#define MAX_TOPIC_LENGTH	4096
#define MAX_TOPIC_LEVELS	128

static const char group_ini[] =
    "[limits]\nmax_topic_length = 4096\nmax_topic_levels = 128\n";

static struct harness_broker broker;
static char *snapshot;		/* digest of the database after setup */
static int probe_seq;		/* makes each round trip's topic unique */

/* ===== Building raw packets ===== */

struct body {
	uint8_t		*p;
	size_t		 len;
	size_t		 cap;
};

static void
put_bytes(struct body *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = b->cap ? b->cap : 256;
		while (b->cap < b->len + n)
			b->cap *= 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void
put_u8(struct body *b, uint8_t v)
{
	put_bytes(b, &v, 1);
}

static void
put_u16(struct body *b, uint16_t v)
{
	put_u8(b, (uint8_t)(v >> 8));
	put_u8(b, (uint8_t)(v & 0xff));
}

/* A string field with bytes given explicitly (may hold NUL or bad UTF-8). */
static void
put_field(struct body *b, const void *data, size_t n)
{
	put_u16(b, (uint16_t)n);
	put_bytes(b, data, n);
}

static void
put_str(struct body *b, const char *s)
{
	put_field(b, s, strlen(s));
}

/* Sends byte1 + Remaining Length + the body, then frees the body. */
static void
send_body(struct tclient *c, uint8_t byte1, struct body *b)
{
	assert_int_equal(tclient_send_packet(c, byte1, b->p, b->len), 0);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void
send_raw(struct tclient *c, const void *bytes, size_t n)
{
	assert_int_equal(tclient_send_raw(c, bytes, n), 0);
}

/* A 3.1.1 CONNECT body: name, level, flags, keep-alive 0, client id. */
static void
connect_head(struct body *b, const char *name, uint8_t level, uint8_t flags,
    const char *id)
{
	put_str(b, name);
	put_u8(b, level);
	put_u8(b, flags);
	put_u16(b, 0);
	if (id != NULL)
		put_str(b, id);
}

/* A string of n levels separated by '/', each level "x" (or empty). */
static char *
make_levels(size_t levels, const char *level)
{
	size_t n = strlen(level), i;
	char *s = malloc(levels * (n + 1) + 1), *p;

	assert_non_null(s);
	p = s;
	for (i = 0; i < levels; i++) {
		if (i > 0)
			*p++ = '/';
		memcpy(p, level, n);
		p += n;
	}
	*p = '\0';
	return s;
}

/* ===== The database, read while the broker runs ===== */

static sqlite3 *
db_open(const struct harness_broker *b)
{
	char path[PATH_MAX + 16];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/mqttd.db", b->dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		fail_msg("cannot open %s: %s", path, db ? sqlite3_errmsg(db) :
		    "out of memory");
	sqlite3_busy_timeout(db, 5000);
	return db;
}

/* Appends every row of sql to *out as "a|b|c\n". */
static void
db_dump(sqlite3 *db, const char *sql, struct body *out)
{
	sqlite3_stmt *st;
	const unsigned char *v;
	int i, n, rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	put_bytes(out, sql, strlen(sql));
	put_u8(out, '\n');
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		n = sqlite3_column_count(st);
		for (i = 0; i < n; i++) {
			v = sqlite3_column_text(st, i);
			if (i > 0)
				put_u8(out, '|');
			if (v != NULL)
				put_bytes(out, v, strlen((const char *)v));
		}
		put_u8(out, '\n');
	}
	if (rc != SQLITE_DONE)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(st);
}

/*
 * What the store holds that a client could change, as text: sessions,
 * subscriptions, retained messages, deliveries, incoming QoS 2 ids and
 * message bodies (times, which change with each connection, left out).
 */
static char *
db_digest(const struct harness_broker *b)
{
	static const char *const queries[] = {
		"SELECT client_id, protocol_level FROM sessions "
		    "ORDER BY client_id",
		"SELECT client_id, filter, qos FROM subscriptions "
		    "ORDER BY client_id, filter",
		"SELECT r.topic, hex(m.payload), m.qos FROM retained r "
		    "JOIN messages m ON m.id = r.message_id ORDER BY r.topic",
		"SELECT d.client_id, m.topic, hex(m.payload), d.qos, d.state, "
		    "d.packet_id FROM deliveries d JOIN messages m "
		    "ON m.id = d.message_id ORDER BY d.id",
		"SELECT client_id, packet_id FROM incoming "
		    "ORDER BY client_id, packet_id",
		"SELECT count(*) FROM messages",
	};
	struct body out = { NULL, 0, 0 };
	sqlite3 *db = db_open(b);
	size_t i;

	for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++)
		db_dump(db, queries[i], &out);
	put_u8(&out, '\0');
	sqlite3_close(db);
	return (char *)out.p;
}

/* ===== After each bad packet ===== */

/*
 * A separate, well-behaved client still gets the retained message (when
 * retained is true), and a message published by another one (QoS 1, on a
 * topic of its own).
 */
static void
round_trip(const struct harness_broker *b, bool retained)
{
	struct tclient *sub, *pub;
	char topic[64], payload[64];
	uint16_t id;

	snprintf(topic, sizeof(topic), "mal/probe/%d", ++probe_seq);
	snprintf(payload, sizeof(payload), "probe-%d", probe_seq);
	sub = tclient_new(b, "mal-good-sub", true, NULL);
	if (retained) {
		tclient_sub(sub, RETAINED_TOPIC, 1, 1);
		tclient_expect_publish(sub, RETAINED_TOPIC, RETAINED_PAYLOAD,
		    1, 1, 0, &id);
		tclient_ack_received(sub, 1, id);
	}
	tclient_sub(sub, topic, 1, 1);
	pub = tclient_new(b, "mal-good-pub", true, NULL);
	tclient_pub(pub, topic, payload, 1, false);
	tclient_expect_publish(sub, topic, payload, 1, 0, 0, &id);
	tclient_ack_received(sub, 1, id);
	tclient_bye(pub);
	tclient_bye(sub);
}

/* The round trip, then the database is what it was after setup. */
static void
check_intact(void)
{
	char *now;

	round_trip(&broker, true);
	if (harness_mosquitto())
		return;
	harness_store_barrier(&broker, "mal-barrier");
	now = db_digest(&broker);
	if (strcmp(now, snapshot) != 0)
		fail_msg("the store changed.\nbefore:\n%s\nafter:\n%s",
		    snapshot, now);
	free(now);
}

/* "127.0.0.1:<port>" as the broker names this connection in its log. */
static void
peer_name(const struct tclient *c, char *buf, size_t len)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	assert_int_equal(getsockname(c->fd, (struct sockaddr *)&sin, &sl), 0);
	snprintf(buf, len, "127.0.0.1:%u", ntohs(sin.sin_port));
}

/* Expects the close, and the broker's log line naming the reason. */
static void
expect_closed_logged(struct tclient *c, const char *who, const char *reason)
{
	char needle[512];

	tclient_expect_closed(c);
	tclient_close(c);
	if (harness_mosquitto())
		return;
	snprintf(needle, sizeof(needle), "%s: %s", who, reason);
	if (!harness_log_contains(&broker, needle, HARNESS_TIMEOUT_MS))
		fail_msg("no log line \"%s\"", needle);
}

static void
expect_closed_now(struct tclient *c)
{
	tclient_expect_closed(c);
	tclient_close(c);
}

/* Resumes the victim's persistent session. */
static struct tclient *
victim(void)
{
	int present = 0;
	struct tclient *c = tclient_new(&broker, VICTIM_ID, false, &present);

	assert_int_equal(present, 1);
	return c;
}

/* A connected clean-session client with an id of the test's own. */
static struct tclient *
clean_client(const char *id)
{
	return tclient_new(&broker, id, true, NULL);
}

/* Where a case sends its bad packet. */
enum on {
	ON_CLEAN,		/* clean_client(id) */
	ON_VICTIM,		/* victim(); id is not used */
	BEFORE_CONNECT		/* tclient_open(id), no CONNECT sent */
};

static struct tclient *
case_client(enum on on, const char *id)
{
	switch (on) {
	case ON_CLEAN:
		return clean_client(id);
	case ON_VICTIM:
		return victim();
	case BEFORE_CONNECT:
		break;
	}
	return tclient_open(&broker, id);
}

/* Who the broker's log line names: the client id, or before CONNECT the
 * peer address. */
enum named {
	BY_ID,
	BY_PEER
};

/*
 * The end of a case: the broker closes c (with a log line "<who>:
 * <reason>" when reason is not NULL; who is id or, by peer, c's address
 * in peer), then check_intact().
 */
static void
case_closes(struct tclient *c, enum named named, const char *id,
    const char *peer, const char *reason)
{
	if (reason == NULL)
		expect_closed_now(c);
	else
		expect_closed_logged(c, named == BY_PEER ? peer : id, reason);
	check_intact();
}

/* Sends bytes as they are on a client as on says, then case_closes(). */
static void
bad_bytes(enum on on, const char *id, const void *bytes, size_t n,
    enum named named, const char *reason)
{
	struct tclient *c = case_client(on, id);
	char peer[64];

	peer_name(c, peer, sizeof(peer));
	send_raw(c, bytes, n);
	case_closes(c, named, id, peer, reason);
}

#define BAD_BYTES(on, id, named, reason, ...) do {			\
	static const uint8_t bad_[] = { __VA_ARGS__ };			\
	bad_bytes((on), (id), bad_, sizeof(bad_), (named), (reason));	\
} while (0)

/* Sends byte1 and the body (freed) as on says, then case_closes(). */
static void
bad_body(enum on on, const char *id, uint8_t byte1, struct body *b,
    enum named named, const char *reason)
{
	struct tclient *c = case_client(on, id);
	char peer[64];

	peer_name(c, peer, sizeof(peer));
	send_body(c, byte1, b);
	case_closes(c, named, id, peer, reason);
}

/* ===== Group setup ===== */

static int
group_setup(void **state)
{
	struct tclient *c;

	(void)state;
	if (harness_broker_start(&broker, group_ini) == -1)
		return -1;
	c = tclient_new(&broker, "mal-keeper", false, NULL);
	tclient_sub(c, "mal/keep/#", 2, 2);
	tclient_sub(c, "mal/keep/+/x", 1, 1);
	tclient_bye(c);
	c = tclient_new(&broker, VICTIM_ID, false, NULL);
	tclient_sub(c, VICTIM_FILTER, 1, 1);
	tclient_bye(c);
	c = tclient_new(&broker, "mal-setup-pub", true, NULL);
	tclient_pub(c, RETAINED_TOPIC, RETAINED_PAYLOAD, 1, true);
	tclient_pub(c, "mal/keep/a", "queued-for-keeper", 1, false);
	tclient_bye(c);
	if (harness_mosquitto())
		return 0;
	harness_store_barrier(&broker, "mal-barrier");
	snapshot = db_digest(&broker);
	/* The state the tests guard is really there. */
	if (strstr(snapshot, "mal-victim|mal/victim/#|1\n") == NULL ||
	    strstr(snapshot, "mal-keeper|mal/keep/a|") == NULL ||
	    strstr(snapshot, "mal/retained|") == NULL) {
		print_error("unexpected store after setup:\n%s\n", snapshot);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	free(snapshot);
	snapshot = NULL;
	return harness_broker_finish(&broker);
}

/* ===== Remaining Length ===== */

/* 3.1.1 section 2.2.3: at most four bytes of Remaining Length; a fifth
 * continuation byte is malformed and closes the connection. */
static void
test_rl_five_byte_varint_closes(void **state)
{
	(void)state;
	BAD_BYTES(ON_CLEAN, "mal-rl5", BY_PEER,
	    "bad fixed header: malformed variable byte integer",
	    0x30, 0xff, 0xff, 0xff, 0xff, 0x01);
}

/* The same before CONNECT. */
static void
test_rl_five_byte_varint_before_connect_closes(void **state)
{
	(void)state;
	BAD_BYTES(BEFORE_CONNECT, "mal-rl5-pre", BY_PEER,
	    "bad fixed header: malformed variable byte integer",
	    0x10, 0x80, 0x80, 0x80, 0x80, 0x01);
}

/*
 * A retained PUBLISH declaring 2 MiB (max_packet_size is 1 MiB): closed
 * as soon as the length header arrives. Only the header is sent, so the
 * close cannot be waiting for the body.
 */
static void
test_rl_length_past_max_closes_at_header(void **state)
{
	(void)state;
	/* 0x33: PUBLISH QoS 1 retain; 2097152 = 0x80 0x80 0x80 0x01 */
	BAD_BYTES(ON_VICTIM, VICTIM_ID, BY_PEER,
	    "bad fixed header: packet too large",
	    0x33, 0x80, 0x80, 0x80, 0x01);
}

/* A CONNECT declaring the largest length MQTT can frame, header only. */
static void
test_rl_connect_length_past_max_closes_at_header(void **state)
{
	(void)state;
	BAD_BYTES(BEFORE_CONNECT, "mal-rl-max-pre", BY_PEER,
	    "bad fixed header: packet too large",
	    0x10, 0xff, 0xff, 0xff, 0x7f);
}

/*
 * A retained PUBLISH whose Remaining Length promises more than is sent,
 * then the client closes its side: the partial packet is never acted on
 * (the retained message stays) and the broker closes too.
 */
static void
test_rl_length_larger_than_data_then_eof(void **state)
{
	struct tclient *c = victim();
	struct body b = { NULL, 0, 0 };
	uint8_t hdr[2] = { 0x33, 100 };

	(void)state;
	put_str(&b, RETAINED_TOPIC);
	put_u16(&b, 7);
	put_bytes(&b, "partial", 7);
	send_raw(c, hdr, sizeof(hdr));
	send_raw(c, b.p, b.len);
	free(b.p);
	assert_int_equal(shutdown(c->fd, SHUT_WR), 0);
	expect_closed_now(c);
	check_intact();
}

/* A PUBACK with Remaining Length 1: the packet id runs past its end. */
static void
test_rl_length_shorter_than_fields_closes(void **state)
{
	(void)state;
	BAD_BYTES(ON_CLEAN, "mal-rl-short", BY_ID,
	    "malformed PUBACK: packet ends inside a field", 0x40, 0x01, 0x00);
}

/* [MQTT-3.12.4-1] does not apply to a PINGREQ with a body: Remaining
 * Length 1 is malformed, closed without a PINGRESP. */
static void
test_rl_pingreq_with_body_closes(void **state)
{
	(void)state;
	BAD_BYTES(ON_VICTIM, NULL, BY_ID, NULL, 0xc0, 0x01, 0x00);
}

/* A PUBLISH whose topic length runs past the end of the packet. */
static void
test_rl_topic_length_past_end_closes(void **state)
{
	(void)state;
	BAD_BYTES(ON_VICTIM, NULL, BY_ID, NULL, 0x31, 0x03, 0x00, 0x10, 'm');
}

/* ===== Reserved and server-only packet types ===== */

/* 3.1.1 table 2.1: type 0 is reserved; a protocol violation closes the
 * connection [MQTT-4.8.0-1]. */
static void
test_type0_closes(void **state)
{
	(void)state;
	BAD_BYTES(ON_CLEAN, "mal-type0", BY_ID,
	    "malformed RESERVED: reserved packet type", 0x00, 0x00);
}

/* Type 15 is reserved in 3.1.1 (AUTH only exists from 5.0). */
static void
test_type15_closes(void **state)
{
	(void)state;
	BAD_BYTES(ON_CLEAN, "mal-type15", BY_ID,
	    "malformed AUTH: reserved packet type", 0xf0, 0x00);
}

/* [MQTT-3.1.0-1] type 0 as the first packet. */
static void
test_type0_before_connect_closes(void **state)
{
	(void)state;
	BAD_BYTES(BEFORE_CONNECT, "mal-type0-pre", BY_ID, NULL, 0x00, 0x00);
}

/* [MQTT-3.1.0-1] type 15 as the first packet. */
static void
test_type15_before_connect_closes(void **state)
{
	(void)state;
	BAD_BYTES(BEFORE_CONNECT, "mal-type15-pre", BY_ID, NULL, 0xf0, 0x00);
}

/* [MQTT-4.8.0-1] CONNACK is sent by servers only. */
static void
test_connack_from_client_closes(void **state)
{
	(void)state;
	BAD_BYTES(ON_CLEAN, "mal-connack", BY_ID,
	    "unexpected CONNACK from a client", 0x20, 0x02, 0x00, 0x00);
}

/* [MQTT-4.8.0-1] SUBACK is sent by servers only. */
static void
test_suback_from_client_closes(void **state)
{
	(void)state;
	BAD_BYTES(ON_VICTIM, NULL, BY_ID, NULL, 0x90, 0x03, 0x00, 0x01, 0x00);
}

/* [MQTT-4.8.0-1] UNSUBACK is sent by servers only. */
static void
test_unsuback_from_client_closes(void **state)
{
	(void)state;
	BAD_BYTES(ON_VICTIM, NULL, BY_ID, NULL, 0xb0, 0x02, 0x00, 0x01);
}

/* [MQTT-4.8.0-1] PINGRESP is sent by servers only. */
static void
test_pingresp_from_client_closes(void **state)
{
	(void)state;
	BAD_BYTES(ON_CLEAN, "mal-pingresp", BY_ID,
	    "unexpected PINGRESP from a client", 0xd0, 0x00);
}

/* ===== Reserved fixed-header flags [MQTT-2.2.2-1] [MQTT-2.2.2-2] ===== */

/* A packet of a 2-byte packet id with the given first byte, as on says,
 * then case_closes() (the log line, if any, by id). */
static void
bad_id_packet(enum on on, const char *id, uint8_t byte1, uint16_t pid,
    const char *reason)
{
	struct body b = { NULL, 0, 0 };

	put_u16(&b, pid);
	bad_body(on, id, byte1, &b, BY_ID, reason);
}

/* [MQTT-2.2.2-2] PUBACK flags 0010 instead of 0000. */
static void
test_flags_puback_closes(void **state)
{
	(void)state;
	bad_id_packet(ON_CLEAN, "mal-flags-puback", 0x42, 1,
	    "malformed PUBACK: reserved fixed-header flag bits");
}

/* [MQTT-2.2.2-2] PUBREC flags 0001. */
static void
test_flags_pubrec_closes(void **state)
{
	(void)state;
	bad_id_packet(ON_VICTIM, NULL, 0x51, 1, NULL);
}

/* [MQTT-3.6.1-1] PUBREL flags must be 0010; 0000 is malformed. */
static void
test_flags_pubrel_0000_closes(void **state)
{
	(void)state;
	bad_id_packet(ON_CLEAN, "mal-flags-pubrel", 0x60, 1,
	    "malformed PUBREL: reserved fixed-header flag bits");
}

/* [MQTT-2.2.2-2] PUBCOMP flags 1000. */
static void
test_flags_pubcomp_closes(void **state)
{
	(void)state;
	bad_id_packet(ON_VICTIM, NULL, 0x78, 1, NULL);
}

/* [MQTT-3.8.1-1] SUBSCRIBE flags 0000: closed, and the (valid) filter it
 * carries is not subscribed. */
static void
test_flags_subscribe_0000_closes(void **state)
{
	struct body b = { NULL, 0, 0 };

	(void)state;
	put_u16(&b, 1);
	put_str(&b, "mal/victim/new");
	put_u8(&b, 1);
	bad_body(ON_VICTIM, NULL, 0x80, &b, BY_ID, NULL);
}

/* [MQTT-3.10.1-1] UNSUBSCRIBE flags 0000: closed, the victim's
 * subscription stays. */
static void
test_flags_unsubscribe_0000_closes(void **state)
{
	struct body b = { NULL, 0, 0 };

	(void)state;
	put_u16(&b, 1);
	put_str(&b, VICTIM_FILTER);
	bad_body(ON_VICTIM, NULL, 0xa0, &b, BY_ID, NULL);
}

/* [MQTT-2.2.2-2] PINGREQ flags 0001: closed without a PINGRESP. */
static void
test_flags_pingreq_closes(void **state)
{
	(void)state;
	BAD_BYTES(ON_VICTIM, NULL, BY_ID, NULL, 0xc1, 0x00);
}

/* [MQTT-3.14.1-1] DISCONNECT flags 0010: not a DISCONNECT but a protocol
 * violation, so the will is published [MQTT-3.1.2-8]. */
static void
test_flags_disconnect_closes_and_publishes_will(void **state)
{
	static const uint8_t bad[] = { 0xe2, 0x00 };
	struct tconnect o = { .client_id = "mal-flags-disc", .clean = true,
	    .will_topic = "mal/will/disc", .will_payload = "gone" };
	struct tclient *w = clean_client("mal-will-watch");
	struct tclient *c;

	(void)state;
	tclient_sub(w, "mal/will/disc", 0, 0);
	c = tclient_open(&broker, "mal-flags-disc");
	assert_int_equal(tclient_connect(c, &o), 0);
	tclient_expect_connack(c, 0, 0);
	send_raw(c, bad, sizeof(bad));
	expect_closed_logged(c, "mal-flags-disc",
	    "malformed DISCONNECT: reserved fixed-header flag bits");
	tclient_expect_publish(w, "mal/will/disc", "gone", 0, 0, 0, NULL);
	tclient_bye(w);
	check_intact();
}

/* [MQTT-2.2.2-2] CONNECT flags 0010, for a persistent session: closed
 * without CONNACK and no session stored. */
static void
test_flags_connect_closes(void **state)
{
	struct body b = { NULL, 0, 0 };

	(void)state;
	connect_head(&b, "MQTT", 4, 0x00, "mal-flags-connect");
	bad_body(BEFORE_CONNECT, "mal-flags-connect", 0x12, &b, BY_ID, NULL);
}

/* ===== QoS ===== */

/* [MQTT-3.3.1-4] A retained PUBLISH with QoS 3: closed, the retained
 * message is not replaced. */
static void
test_publish_qos3_closes(void **state)
{
	struct body b = { NULL, 0, 0 };

	(void)state;
	put_str(&b, RETAINED_TOPIC);
	put_u16(&b, 1);
	put_bytes(&b, "qos3", 4);
	bad_body(ON_CLEAN, "mal-qos3", 0x37, &b, BY_ID,
	    "malformed PUBLISH: PUBLISH with QoS 3");
}

/* [MQTT-3.3.1-2] DUP set on a QoS 0 PUBLISH. */
static void
test_publish_dup_on_qos0_closes(void **state)
{
	struct body b = { NULL, 0, 0 };

	(void)state;
	put_str(&b, RETAINED_TOPIC);
	put_bytes(&b, "dup0", 4);
	bad_body(ON_VICTIM, NULL, 0x39, &b, BY_ID, NULL);
}

/* ===== Packet identifier 0 [MQTT-2.3.1-1] ===== */

/* [MQTT-2.3.1-1] A retained QoS 1 PUBLISH with packet id 0. */
static void
test_id0_publish_qos1_closes(void **state)
{
	struct body b = { NULL, 0, 0 };

	(void)state;
	put_str(&b, RETAINED_TOPIC);
	put_u16(&b, 0);
	put_bytes(&b, "id0", 3);
	bad_body(ON_CLEAN, "mal-id0-pub1", 0x33, &b, BY_ID,
	    "malformed PUBLISH: packet identifier 0");
}

/* [MQTT-2.3.1-1] A QoS 2 PUBLISH with packet id 0. */
static void
test_id0_publish_qos2_closes(void **state)
{
	struct body b = { NULL, 0, 0 };

	(void)state;
	put_str(&b, RETAINED_TOPIC);
	put_u16(&b, 0);
	put_bytes(&b, "id0", 3);
	bad_body(ON_VICTIM, NULL, 0x35, &b, BY_ID, NULL);
}

/* [MQTT-2.3.1-1] A SUBSCRIBE with packet id 0: nothing subscribed. */
static void
test_id0_subscribe_closes(void **state)
{
	struct body b = { NULL, 0, 0 };

	(void)state;
	put_u16(&b, 0);
	put_str(&b, "mal/victim/id0");
	put_u8(&b, 1);
	bad_body(ON_VICTIM, NULL, 0x82, &b, BY_ID, NULL);
}

/* [MQTT-2.3.1-1] An UNSUBSCRIBE with packet id 0: nothing unsubscribed. */
static void
test_id0_unsubscribe_closes(void **state)
{
	struct body b = { NULL, 0, 0 };

	(void)state;
	put_u16(&b, 0);
	put_str(&b, VICTIM_FILTER);
	bad_body(ON_VICTIM, NULL, 0xa2, &b, BY_ID, NULL);
}

/* [MQTT-2.3.1-1] PUBACK with packet id 0. */
static void
test_id0_puback_closes(void **state)
{
	(void)state;
	bad_id_packet(ON_VICTIM, NULL, 0x40, 0, NULL);
}

/* [MQTT-2.3.1-1] PUBREC with packet id 0. */
static void
test_id0_pubrec_closes(void **state)
{
	(void)state;
	bad_id_packet(ON_VICTIM, NULL, 0x50, 0, NULL);
}

/* [MQTT-2.3.1-1] PUBREL with packet id 0: no PUBCOMP, closed. */
static void
test_id0_pubrel_closes(void **state)
{
	(void)state;
	bad_id_packet(ON_VICTIM, NULL, 0x62, 0, NULL);
}

/* [MQTT-2.3.1-1] PUBCOMP with packet id 0. */
static void
test_id0_pubcomp_closes(void **state)
{
	(void)state;
	bad_id_packet(ON_VICTIM, NULL, 0x70, 0, NULL);
}

/* ===== CONNECT ===== */

/* Sends a CONNECT of a persistent session (so that a wrongly accepted
 * one would leave a row) built from name, level, flags and id. */
static struct tclient *
send_connect_raw(const char *name, uint8_t level, uint8_t flags,
    const char *id)
{
	struct tclient *c = tclient_open(&broker, id);
	struct body b = { NULL, 0, 0 };

	connect_head(&b, name, level, flags, id);
	send_body(c, 0x10, &b);
	return c;
}

/* A CONNECT of "MQTT" level 4 with flags, as send_connect_raw(), then
 * case_closes() (the log line, if any, names the peer). */
static void
bad_connect(uint8_t flags, const char *id, const char *reason)
{
	struct tclient *c = send_connect_raw("MQTT", 4, flags, id);
	char peer[64];

	peer_name(c, peer, sizeof(peer));
	case_closes(c, BY_PEER, id, peer, reason);
}

/* [MQTT-3.1.2-1] Protocol name "MQTX": mqttd answers CONNACK 0x01 and
 * closes; no session is stored. */
static void
test_connect_wrong_protocol_name_0x01(void **state)
{
	struct tclient *c = send_connect_raw("MQTX", 4, 0x00, "mal-name");
	char peer[64];

	(void)state;
	harness_mqttd_only("mosquitto closes without CONNACK");
	peer_name(c, peer, sizeof(peer));
	tclient_expect_connack(c, 0, 1);
	expect_closed_logged(c, peer, "CONNECT refused: protocol name is "
	    "neither MQTT nor MQIsdp");
	check_intact();
}

/* [MQTT-3.1.2-1] The name is case-sensitive: "mqtt" is not "MQTT". */
static void
test_connect_lowercase_protocol_name_0x01(void **state)
{
	struct tclient *c = send_connect_raw("mqtt", 4, 0x00, "mal-lcname");

	(void)state;
	harness_mqttd_only("mosquitto closes without CONNACK");
	tclient_expect_connack(c, 0, 1);
	expect_closed_now(c);
	check_intact();
}

/* [MQTT-3.1.2-2] Protocol level 2: CONNACK 0x01, then close. */
static void
test_connect_level2_0x01(void **state)
{
	struct tclient *c = send_connect_raw("MQTT", 2, 0x00, "mal-level2");
	char peer[64];

	(void)state;
	peer_name(c, peer, sizeof(peer));
	tclient_expect_connack(c, 0, 1);
	expect_closed_logged(c, peer, "CONNECT refused: unsupported protocol "
	    "level");
	check_intact();
}

/* [MQTT-3.1.2-2] Level 5 (a well-formed MQTT 5 CONNECT): not spoken yet,
 * answered as a 3.1.1 server answers an unknown level. */
static void
test_connect_level5_0x01(void **state)
{
	struct tclient *c = tclient_open(&broker, "mal-level5");
	struct body b = { NULL, 0, 0 };

	(void)state;
	harness_mqttd_only("mosquitto speaks MQTT 5");
	connect_head(&b, "MQTT", 5, 0x00, NULL);
	put_u8(&b, 0);			/* Property Length */
	put_str(&b, "mal-level5");
	send_body(c, 0x10, &b);
	tclient_expect_connack(c, 0, 1);
	expect_closed_now(c);
	check_intact();
}

/* [MQTT-3.1.2-3] Reserved connect flag set: closed without CONNACK. */
static void
test_connect_reserved_flag_closes(void **state)
{
	(void)state;
	bad_connect(0x01, "mal-resflag",
	    "malformed CONNECT: reserved CONNECT flag set");
}

/* [MQTT-3.1.2-13] Will QoS 1 with the Will Flag 0. */
static void
test_connect_will_qos_without_will_closes(void **state)
{
	(void)state;
	bad_connect(0x08, "mal-wqos", NULL);
}

/* [MQTT-3.1.2-15] Will Retain with the Will Flag 0. */
static void
test_connect_will_retain_without_will_closes(void **state)
{
	(void)state;
	bad_connect(0x20, "mal-wret", NULL);
}

/* [MQTT-3.1.2-14] Will QoS 3, with a will that would be retained on
 * "mal/retained": closed, nothing published or retained. */
static void
test_connect_will_qos3_closes(void **state)
{
	struct body b = { NULL, 0, 0 };

	(void)state;
	connect_head(&b, "MQTT", 4, 0x04 | 0x18 | 0x20, "mal-wq3");
	put_str(&b, RETAINED_TOPIC);
	put_str(&b, "will-qos3");
	bad_body(BEFORE_CONNECT, "mal-wq3", 0x10, &b, BY_ID, NULL);
}

/* [MQTT-3.1.2-9] [MQTT-3.3.2-2] A will topic with a wildcard is no topic
 * name: closed without CONNACK. */
static void
test_connect_will_topic_wildcard_closes(void **state)
{
	struct body b = { NULL, 0, 0 };

	(void)state;
	connect_head(&b, "MQTT", 4, 0x04, "mal-wwild");
	put_str(&b, "mal/+/will");
	put_str(&b, "x");
	bad_body(BEFORE_CONNECT, "mal-wwild", 0x10, &b, BY_PEER,
	    "CONNECT with invalid will topic");
}

/* [MQTT-3.1.2-9] Will Flag set but no Will Topic or Message follows. */
static void
test_connect_will_fields_missing_closes(void **state)
{
	(void)state;
	bad_connect(0x04, "mal-wmiss", NULL);
}

/* [MQTT-3.1.2-22] Password Flag without User Name Flag. */
static void
test_connect_password_without_username_closes(void **state)
{
	struct body b = { NULL, 0, 0 };

	(void)state;
	connect_head(&b, "MQTT", 4, 0x40, "mal-pw");
	put_str(&b, "secret");
	bad_body(BEFORE_CONNECT, "mal-pw", 0x10, &b, BY_PEER,
	    "malformed CONNECT: Password Flag without User Name Flag");
}

/* [MQTT-3.1.2-19] User Name Flag set but no user name in the payload. */
static void
test_connect_username_missing_closes(void **state)
{
	(void)state;
	bad_connect(0x80, "mal-nouser", NULL);
}

/* [MQTT-3.1.3-5] A persistent session's id of 257 bytes (over
 * max_client_id_length, 256): CONNACK 0x02, close, nothing stored. */
static void
test_connect_client_id_too_long_0x02(void **state)
{
	char id[258];
	struct tclient *c;
	char peer[64];

	(void)state;
	harness_mqttd_only("no limit on client id length");
	memset(id, 'i', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	c = send_connect_raw("MQTT", 4, 0x00, id);
	peer_name(c, peer, sizeof(peer));
	tclient_expect_connack(c, 0, 2);
	expect_closed_logged(c, peer, "CONNECT refused: client id too long");
	check_intact();
}

/* Sends a CONNECT whose client id is the given bytes, then
 * case_closes() (the log line, if any, names the peer). */
static void
bad_connect_id(const void *id, size_t len, const char *reason)
{
	struct body b = { NULL, 0, 0 };

	connect_head(&b, "MQTT", 4, 0x00, NULL);
	put_field(&b, id, len);
	bad_body(BEFORE_CONNECT, "mal-id-bytes", 0x10, &b, BY_PEER, reason);
}

/* [MQTT-3.1.3-4] [MQTT-1.5.3-1] A client id with a lone continuation
 * byte is malformed: closed without CONNACK. */
static void
test_connect_client_id_bad_utf8_closes(void **state)
{
	static const uint8_t id[] = { 'm', 'a', 'l', 0x80, 'x' };

	(void)state;
	bad_connect_id(id, sizeof(id), "malformed CONNECT: malformed UTF-8");
}

/* [MQTT-1.5.3-2] A client id holding U+0000. */
static void
test_connect_client_id_nul_closes(void **state)
{
	static const uint8_t id[] = { 'm', 'a', 'l', 0x00, 'x' };

	(void)state;
	bad_connect_id(id, sizeof(id), NULL);
}

/* [MQTT-1.5.3-1] A client id holding an encoded surrogate (U+D800). */
static void
test_connect_client_id_surrogate_closes(void **state)
{
	static const uint8_t id[] = { 'm', 0xed, 0xa0, 0x80 };

	(void)state;
	bad_connect_id(id, sizeof(id), NULL);
}

/* [MQTT-3.1.0-2] A second CONNECT, asking for a clean session, on the
 * victim's connection: closed, and the persistent session is not
 * cleaned. */
static void
test_connect_second_connect_keeps_session(void **state)
{
	struct tconnect o = { .client_id = VICTIM_ID, .clean = true };
	struct tclient *c = victim();

	(void)state;
	assert_int_equal(tclient_connect(c, &o), 0);
	expect_closed_logged(c, VICTIM_ID, "second CONNECT");
	check_intact();
}

/* [MQTT-3.1.0-1] A retained PUBLISH before CONNECT: closed, not kept. */
static void
test_publish_before_connect_closes(void **state)
{
	struct tclient *c = tclient_open(&broker, "mal-pub-first");
	char peer[64];

	(void)state;
	peer_name(c, peer, sizeof(peer));
	assert_int_equal(tclient_publish_str(c, RETAINED_TOPIC, "first", 0,
	    true, 0), 0);
	expect_closed_logged(c, peer, "connection closed before CONNECT "
	    "(first packet is not CONNECT)");
	check_intact();
}

/* [MQTT-3.1.0-1] A PUBREL before CONNECT gets no PUBCOMP. */
static void
test_pubrel_before_connect_closes(void **state)
{
	struct tclient *c = tclient_open(&broker, "mal-pubrel-first");

	(void)state;
	assert_int_equal(tclient_pubrel(c, 7), 0);
	expect_closed_now(c);
	check_intact();
}

/* A CONNECT cut short: Remaining Length 2, only the name's length. */
static void
test_connect_truncated_closes(void **state)
{
	(void)state;
	BAD_BYTES(BEFORE_CONNECT, "mal-connect-short", BY_ID, NULL,
	    0x10, 0x02, 0x00, 0x04);
}

/* ===== PUBLISH topic names ===== */

/* Sends a retained QoS 1 PUBLISH with the given topic bytes, as on
 * says, then case_closes() (the log line, if any, by id). */
static void
bad_topic(enum on on, const char *id, const void *topic, size_t len,
    const char *reason)
{
	struct body b = { NULL, 0, 0 };

	put_field(&b, topic, len);
	put_u16(&b, 9);
	put_bytes(&b, "bad-topic", 9);
	bad_body(on, id, 0x33, &b, BY_ID, reason);
}

/* [MQTT-3.3.2-2] [MQTT-4.7.1-1] '+' in a topic name. */
static void
test_publish_topic_plus_closes(void **state)
{
	(void)state;
	bad_topic(ON_CLEAN, "mal-pub-plus", "mal/+", 5,
	    "PUBLISH with invalid topic: wildcard in a topic name");
}

/* [MQTT-3.3.2-2] '#' in a topic name. */
static void
test_publish_topic_hash_closes(void **state)
{
	(void)state;
	bad_topic(ON_VICTIM, NULL, "mal/#", 5, NULL);
}

/* [MQTT-4.7.3-1] An empty topic name. */
static void
test_publish_topic_empty_closes(void **state)
{
	(void)state;
	bad_topic(ON_CLEAN, "mal-pub-empty", "", 0,
	    "PUBLISH with invalid topic: topic is empty");
}

/* [MQTT-1.5.3-1] A topic name that is not UTF-8 (an overlong '/'). */
static void
test_publish_topic_bad_utf8_closes(void **state)
{
	static const uint8_t topic[] = { 'm', 'a', 'l', 0xc0, 0xaf, 'x' };

	(void)state;
	bad_topic(ON_VICTIM, NULL, topic, sizeof(topic), NULL);
}

/* [MQTT-1.5.3-2] U+0000 in a topic name ("mal/retained\0x" would
 * otherwise be "mal/retained" to C code). */
static void
test_publish_topic_nul_closes(void **state)
{
	static const char topic[] = "mal/retained\0x";

	(void)state;
	bad_topic(ON_VICTIM, NULL, topic, sizeof(topic) - 1, NULL);
}

/* A topic name one byte over max_topic_length (4096 here). */
static void
test_publish_topic_over_max_length_closes(void **state)
{
	char *topic = malloc(MAX_TOPIC_LENGTH + 2);

	(void)state;
	assert_non_null(topic);
	memset(topic, 't', MAX_TOPIC_LENGTH + 1);
	topic[MAX_TOPIC_LENGTH + 1] = '\0';
	bad_topic(ON_CLEAN, "mal-pub-long", topic, MAX_TOPIC_LENGTH + 1,
	    "PUBLISH with invalid topic: topic is too long");
	free(topic);
}

/* A topic name one level over max_topic_levels (128 here). */
static void
test_publish_topic_over_max_levels_closes(void **state)
{
	char *topic = make_levels(MAX_TOPIC_LEVELS + 1, "l");

	(void)state;
	bad_topic(ON_CLEAN, "mal-pub-deep", topic, strlen(topic),
	    "PUBLISH with invalid topic: topic has too many levels");
	free(topic);
}

/* ===== Acknowledgements for unknown packet ids ===== */

/* [MQTT-4.3.3-2] PUBREL for an id never received: PUBCOMP with that id,
 * and the connection stays. */
static void
test_pubrel_unknown_id_gets_pubcomp(void **state)
{
	struct tclient *c = victim();

	(void)state;
	assert_int_equal(tclient_pubrel(c, 4242), 0);
	tclient_expect_ack(c, MQTT_PUBCOMP, 4242);
	tclient_sync(c);
	tclient_bye(c);
	check_intact();
}

/* PUBACK for an id never sent: ignored, the connection stays. */
static void
test_puback_unknown_id_ignored(void **state)
{
	struct tclient *c = victim();

	(void)state;
	assert_int_equal(tclient_puback(c, 4243), 0);
	tclient_sync(c);
	tclient_bye(c);
	check_intact();
}

/* PUBREC for an id never sent: PUBREL, so the client can end its flow. */
static void
test_pubrec_unknown_id_gets_pubrel(void **state)
{
	struct tclient *c = victim();

	(void)state;
	harness_mqttd_only("mosquitto answers differently");
	assert_int_equal(tclient_pubrec(c, 4244), 0);
	tclient_expect_ack(c, MQTT_PUBREL, 4244);
	tclient_sync(c);
	tclient_bye(c);
	check_intact();
}

/* PUBCOMP for an id never sent: ignored, the connection stays. */
static void
test_pubcomp_unknown_id_ignored(void **state)
{
	struct tclient *c = victim();

	(void)state;
	assert_int_equal(tclient_pubcomp(c, 4245), 0);
	tclient_sync(c);
	tclient_bye(c);
	check_intact();
}

/*
 * A flood of QoS 2 PUBLISH never released. With max_inflight 2 and
 * max_queued_messages 3 the broker keeps at most 5 ids awaiting PUBREL
 * (then disconnects): the first 5 get PUBREC [MQTT-4.3.3-2] and are
 * routed, the 6th closes the connection, is not routed and not stored.
 * Its own broker (the limits are small).
 */
static void
test_qos2_flood_never_released_disconnects(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *sub, *c;
	struct body body = { NULL, 0, 0 };
	char payload[16];
	int i;

	harness_mqttd_only("bound on unreleased QoS 2 ids");
	sub = tclient_new(b, "mal-flood-sub", true, NULL);
	tclient_sub(sub, "mal/flood", 0, 0);
	c = tclient_new(b, "mal-flood", false, NULL);
	for (i = 1; i <= 6; i++) {
		snprintf(payload, sizeof(payload), "f%d", i);
		put_str(&body, "mal/flood");
		put_u16(&body, (uint16_t)i);
		put_bytes(&body, payload, strlen(payload));
		send_body(c, 0x34, &body);
	}
	for (i = 1; i <= 5; i++)
		tclient_expect_ack(c, MQTT_PUBREC, (uint16_t)i);
	tclient_expect_closed(c);
	tclient_close(c);
	assert_true(harness_log_contains(b, "mal-flood: more than 5 QoS 2 "
	    "messages awaiting PUBREL", HARNESS_TIMEOUT_MS));
	for (i = 1; i <= 5; i++) {
		snprintf(payload, sizeof(payload), "f%d", i);
		tclient_expect_publish(sub, "mal/flood", payload, 0, 0, 0,
		    NULL);
	}
	tclient_expect_nothing(sub, HARNESS_QUIET_MS);

	/* Five ids are stored, not six; releasing one makes room again. */
	c = tclient_new(b, "mal-flood", false, NULL);
	assert_int_equal(harness_db_query(b->db_path, "SELECT count(*) "
	    "FROM incoming WHERE client_id = 'mal-flood'"), 5);
	assert_int_equal(tclient_pubrel(c, 1), 0);
	tclient_expect_ack(c, MQTT_PUBCOMP, 1);
	assert_int_equal(tclient_publish_str(c, "mal/flood", "f6", 2, false,
	    6), 0);
	tclient_expect_ack(c, MQTT_PUBREC, 6);
	tclient_expect_publish(sub, "mal/flood", "f6", 0, 0, 0, NULL);
	for (i = 2; i <= 6; i++) {
		assert_int_equal(tclient_pubrel(c, (uint16_t)i), 0);
		tclient_expect_ack(c, MQTT_PUBCOMP, (uint16_t)i);
	}
	tclient_bye(c);
	tclient_bye(sub);
	round_trip(b, false);
}

/* ===== SUBSCRIBE ===== */

/* A SUBSCRIBE body: packet id 1, then (filter, options) pairs. */
static void
sub_entry(struct body *b, const char *filter, uint8_t options)
{
	put_str(b, filter);
	put_u8(b, options);
}

/* [MQTT-3.8.3-3] A SUBSCRIBE with no topic filter at all. */
static void
test_subscribe_no_topics_closes(void **state)
{
	struct body b = { NULL, 0, 0 };

	(void)state;
	put_u16(&b, 1);
	bad_body(ON_CLEAN, "mal-sub-none", 0x82, &b, BY_ID,
	    "malformed SUBSCRIBE: SUBSCRIBE without a topic filter");
}

/* [MQTT-3-8.3-4] Requested QoS 3 after a valid filter: closed, and the
 * valid filter is not subscribed either. */
static void
test_subscribe_qos3_closes(void **state)
{
	struct body b = { NULL, 0, 0 };

	(void)state;
	put_u16(&b, 1);
	sub_entry(&b, "mal/victim/ok", 1);
	sub_entry(&b, "mal/victim/q3", 3);
	bad_body(ON_VICTIM, NULL, 0x82, &b, BY_ID, NULL);
}

/* [MQTT-3-8.3-4] Reserved bits of the requested QoS byte set. */
static void
test_subscribe_reserved_option_bits_closes(void **state)
{
	struct body b = { NULL, 0, 0 };

	(void)state;
	put_u16(&b, 1);
	sub_entry(&b, "mal/victim/rsv", 0x05);
	bad_body(ON_VICTIM, NULL, 0x82, &b, BY_ID, NULL);
}

/* Sends the victim a SUBSCRIBE of a valid filter, then bad, and expects
 * the close with nothing subscribed [MQTT-4.7.3-1] [MQTT-4.8.0-1]. */
static void
subscribe_bad_filter(const char *bad)
{
	struct body b = { NULL, 0, 0 };

	put_u16(&b, 1);
	sub_entry(&b, "mal/victim/ok", 1);
	sub_entry(&b, bad, 1);
	bad_body(ON_VICTIM, VICTIM_ID, 0x82, &b, BY_ID,
	    "SUBSCRIBE with invalid filter");
}

/* [MQTT-4.7.1-2] '#' must be the last level: "a/#/b". */
static void
test_subscribe_hash_not_last_closes(void **state)
{
	(void)state;
	subscribe_bad_filter("a/#/b");
}

/* [MQTT-4.7.1-3] '+' must be alone in its level: "a+". */
static void
test_subscribe_plus_not_alone_closes(void **state)
{
	(void)state;
	subscribe_bad_filter("a+");
}

/* [MQTT-4.7.1-2] "#/a": '#' followed by another level. */
static void
test_subscribe_hash_first_closes(void **state)
{
	(void)state;
	subscribe_bad_filter("#/a");
}

/* [MQTT-4.7.1-2] "a/b#": '#' not alone in its level. */
static void
test_subscribe_hash_in_level_closes(void **state)
{
	(void)state;
	subscribe_bad_filter("a/b#");
}

/* [MQTT-4.7.3-1] An empty filter: closed. */
static void
test_subscribe_empty_filter_closes(void **state)
{
	(void)state;
	subscribe_bad_filter("");
}

/* [MQTT-1.5.3-1] A filter that is not UTF-8: closed. */
static void
test_subscribe_bad_utf8_filter_closes(void **state)
{
	static const uint8_t filter[] = { 'm', 'a', 'l', '/', 0xfe };
	struct body b = { NULL, 0, 0 };

	(void)state;
	put_u16(&b, 1);
	sub_entry(&b, "mal/victim/ok", 1);
	put_field(&b, filter, sizeof(filter));
	put_u8(&b, 1);
	bad_body(ON_VICTIM, NULL, 0x82, &b, BY_ID, NULL);
}

/* A filter of 3,000 (empty) levels, over max_topic_levels (128) but well
 * within max_topic_length: SUBACK 0x80 for it [MQTT-3.9.3-1], the
 * connection stays, and nothing is stored. */
static void
test_subscribe_thousands_of_levels_0x80(void **state)
{
	char *deep = make_levels(3000, "");
	const int want = 0x80;
	int qos = 1;
	const char *f = deep;
	struct tclient *c = victim();

	(void)state;
	harness_mqttd_only("no max_topic_levels in mosquitto");
	assert_int_equal(strlen(deep), 2999);
	assert_int_equal(tclient_subscribe(c, 77, 1, &f, &qos), 0);
	tclient_expect_suback(c, 77, 1, &want);
	tclient_sync(c);
	tclient_bye(c);
	free(deep);
	check_intact();
}

/* [MQTT-3.8.4-4] [MQTT-3.9.3-1] Among valid filters, only the one over
 * max_topic_levels gets 0x80, in its place; it receives nothing. */
static void
test_subscribe_deep_filter_among_valid_ones(void **state)
{
	char *deep = make_levels(MAX_TOPIC_LEVELS + 1, "d");
	const char *filters[3] = { "mal/mixed/a", NULL, "mal/mixed/b" };
	const int qos[3] = { 1, 1, 0 };
	const int want[3] = { 1, 0x80, 0 };
	struct tclient *c = clean_client("mal-sub-mixed"), *pub;

	(void)state;
	harness_mqttd_only("no max_topic_levels in mosquitto");
	filters[1] = deep;
	assert_int_equal(tclient_subscribe(c, 78, 3, filters, qos), 0);
	tclient_expect_suback(c, 78, 3, want);
	pub = clean_client("mal-sub-mixed-pub");
	/* deep minus its last level is a valid topic name: not matched */
	deep[strlen(deep) - 2] = '\0';
	tclient_pub(pub, deep, "not-for-you", 0, false);
	tclient_pub(pub, "mal/mixed/b", "for-you", 0, false);
	tclient_expect_publish(c, "mal/mixed/b", "for-you", 0, 0, 0, NULL);
	tclient_bye(pub);
	tclient_bye(c);
	free(deep);
	check_intact();
}

/* A filter of 5,000 bytes: the packet is far below max_packet_size but
 * the filter is over max_topic_length (4096): SUBACK 0x80, not stored. */
static void
test_subscribe_filter_over_max_length_0x80(void **state)
{
	char *f = malloc(5001);
	const char *filter = f;
	const int want = 0x80;
	int qos = 2;
	struct tclient *c = victim();

	(void)state;
	harness_mqttd_only("no max_topic_length in mosquitto");
	assert_non_null(f);
	memset(f, 'f', 5000);
	f[5000] = '\0';
	assert_int_equal(tclient_subscribe(c, 79, 1, &filter, &qos), 0);
	tclient_expect_suback(c, 79, 1, &want);
	tclient_sync(c);
	tclient_bye(c);
	free(f);
	check_intact();
}

/* ===== UNSUBSCRIBE ===== */

/*
 * [MQTT-4.8.0-1] An UNSUBSCRIBE of the victim's filter followed by an
 * invalid filter is a protocol violation as a whole: closed, and the
 * valid filter before the bad one is not unsubscribed.
 */
static void
test_unsubscribe_valid_then_invalid_keeps_subscription(void **state)
{
	const char *filters[2] = { VICTIM_FILTER, "a/#/b" };
	struct tclient *c = victim();

	(void)state;
	assert_int_equal(tclient_unsubscribe(c, 80, 2, filters), 0);
	expect_closed_logged(c, VICTIM_ID, "UNSUBSCRIBE with invalid filter");
	check_intact();
}

/* [MQTT-3.10.3-2] An UNSUBSCRIBE with no topic filter. */
static void
test_unsubscribe_no_topics_closes(void **state)
{
	struct body b = { NULL, 0, 0 };

	(void)state;
	put_u16(&b, 1);
	bad_body(ON_VICTIM, NULL, 0xa2, &b, BY_ID, NULL);
}

/* [MQTT-4.7.3-1] An UNSUBSCRIBE of an empty filter. */
static void
test_unsubscribe_empty_filter_closes(void **state)
{
	const char *filters[2] = { VICTIM_FILTER, "" };
	struct tclient *c = victim();

	(void)state;
	assert_int_equal(tclient_unsubscribe(c, 81, 2, filters), 0);
	expect_closed_now(c);
	check_intact();
}

static const char flood_ini[] =
    "[session]\nmax_inflight = 2\nmax_queued_messages = 3\n"
    "[limits]\nmax_topic_length = 4096\nmax_topic_levels = 128\n";

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rl_five_byte_varint_closes),
		cmocka_unit_test(test_rl_five_byte_varint_before_connect_closes),
		cmocka_unit_test(test_rl_length_past_max_closes_at_header),
		cmocka_unit_test(test_rl_connect_length_past_max_closes_at_header),
		cmocka_unit_test(test_rl_length_larger_than_data_then_eof),
		cmocka_unit_test(test_rl_length_shorter_than_fields_closes),
		cmocka_unit_test(test_rl_pingreq_with_body_closes),
		cmocka_unit_test(test_rl_topic_length_past_end_closes),
		cmocka_unit_test(test_type0_closes),
		cmocka_unit_test(test_type15_closes),
		cmocka_unit_test(test_type0_before_connect_closes),
		cmocka_unit_test(test_type15_before_connect_closes),
		cmocka_unit_test(test_connack_from_client_closes),
		cmocka_unit_test(test_suback_from_client_closes),
		cmocka_unit_test(test_unsuback_from_client_closes),
		cmocka_unit_test(test_pingresp_from_client_closes),
		cmocka_unit_test(test_flags_puback_closes),
		cmocka_unit_test(test_flags_pubrec_closes),
		cmocka_unit_test(test_flags_pubrel_0000_closes),
		cmocka_unit_test(test_flags_pubcomp_closes),
		cmocka_unit_test(test_flags_subscribe_0000_closes),
		cmocka_unit_test(test_flags_unsubscribe_0000_closes),
		cmocka_unit_test(test_flags_pingreq_closes),
		cmocka_unit_test(test_flags_disconnect_closes_and_publishes_will),
		cmocka_unit_test(test_flags_connect_closes),
		cmocka_unit_test(test_publish_qos3_closes),
		cmocka_unit_test(test_publish_dup_on_qos0_closes),
		cmocka_unit_test(test_id0_publish_qos1_closes),
		cmocka_unit_test(test_id0_publish_qos2_closes),
		cmocka_unit_test(test_id0_subscribe_closes),
		cmocka_unit_test(test_id0_unsubscribe_closes),
		cmocka_unit_test(test_id0_puback_closes),
		cmocka_unit_test(test_id0_pubrec_closes),
		cmocka_unit_test(test_id0_pubrel_closes),
		cmocka_unit_test(test_id0_pubcomp_closes),
		cmocka_unit_test(test_connect_wrong_protocol_name_0x01),
		cmocka_unit_test(test_connect_lowercase_protocol_name_0x01),
		cmocka_unit_test(test_connect_level2_0x01),
		cmocka_unit_test(test_connect_level5_0x01),
		cmocka_unit_test(test_connect_reserved_flag_closes),
		cmocka_unit_test(test_connect_will_qos_without_will_closes),
		cmocka_unit_test(test_connect_will_retain_without_will_closes),
		cmocka_unit_test(test_connect_will_qos3_closes),
		cmocka_unit_test(test_connect_will_topic_wildcard_closes),
		cmocka_unit_test(test_connect_will_fields_missing_closes),
		cmocka_unit_test(test_connect_password_without_username_closes),
		cmocka_unit_test(test_connect_username_missing_closes),
		cmocka_unit_test(test_connect_client_id_too_long_0x02),
		cmocka_unit_test(test_connect_client_id_bad_utf8_closes),
		cmocka_unit_test(test_connect_client_id_nul_closes),
		cmocka_unit_test(test_connect_client_id_surrogate_closes),
		cmocka_unit_test(test_connect_second_connect_keeps_session),
		cmocka_unit_test(test_publish_before_connect_closes),
		cmocka_unit_test(test_pubrel_before_connect_closes),
		cmocka_unit_test(test_connect_truncated_closes),
		cmocka_unit_test(test_publish_topic_plus_closes),
		cmocka_unit_test(test_publish_topic_hash_closes),
		cmocka_unit_test(test_publish_topic_empty_closes),
		cmocka_unit_test(test_publish_topic_bad_utf8_closes),
		cmocka_unit_test(test_publish_topic_nul_closes),
		cmocka_unit_test(test_publish_topic_over_max_length_closes),
		cmocka_unit_test(test_publish_topic_over_max_levels_closes),
		cmocka_unit_test(test_pubrel_unknown_id_gets_pubcomp),
		cmocka_unit_test(test_puback_unknown_id_ignored),
		cmocka_unit_test(test_pubrec_unknown_id_gets_pubrel),
		cmocka_unit_test(test_pubcomp_unknown_id_ignored),
		cmocka_unit_test_prestate_setup_teardown(
		    test_qos2_flood_never_released_disconnects,
		    harness_setup_broker, harness_teardown_broker,
		    (void *)flood_ini),
		cmocka_unit_test(test_subscribe_no_topics_closes),
		cmocka_unit_test(test_subscribe_qos3_closes),
		cmocka_unit_test(test_subscribe_reserved_option_bits_closes),
		cmocka_unit_test(test_subscribe_hash_not_last_closes),
		cmocka_unit_test(test_subscribe_plus_not_alone_closes),
		cmocka_unit_test(test_subscribe_hash_first_closes),
		cmocka_unit_test(test_subscribe_hash_in_level_closes),
		cmocka_unit_test(test_subscribe_empty_filter_closes),
		cmocka_unit_test(test_subscribe_bad_utf8_filter_closes),
		cmocka_unit_test(test_subscribe_thousands_of_levels_0x80),
		cmocka_unit_test(test_subscribe_deep_filter_among_valid_ones),
		cmocka_unit_test(test_subscribe_filter_over_max_length_0x80),
		cmocka_unit_test(test_unsubscribe_valid_then_invalid_keeps_subscription),
		cmocka_unit_test(test_unsubscribe_no_topics_closes),
		cmocka_unit_test(test_unsubscribe_empty_filter_closes),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
