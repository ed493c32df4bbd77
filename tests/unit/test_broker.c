/*
 * test_broker.c: the protocol layer without sockets. A fake transport
 * collects what the broker sends each client; tests feed encoded packets
 * in and decode what comes out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "config.h"
#include "packet.h"
#include "store.h"

struct fake_conn {
	uint8_t		 out[65536];
	size_t		 outlen;
	size_t		 readpos;
	bool		 closed;
	uint64_t	 last_hold;	/* store batch the last answer waits for */
	unsigned	 keep_alive;
	bool		 connected;
	struct client	*client;
};

static void
fake_send(void *conn, const uint8_t *buf, size_t len, uint64_t hold)
{
	struct fake_conn	*fc = conn;

	fc->last_hold = hold;
	assert_true(fc->outlen + len <= sizeof(fc->out));
	memcpy(fc->out + fc->outlen, buf, len);
	fc->outlen += len;
}

static void
fake_close(void *conn)
{
	struct fake_conn	*fc = conn;

	fc->closed = true;
	fc->client = NULL;
}

static size_t
fake_pending(void *conn)
{
	(void)conn;
	return 0;
}

static void
fake_connected(void *conn, unsigned keep_alive)
{
	struct fake_conn	*fc = conn;

	fc->connected = true;
	fc->keep_alive = keep_alive;
}

static const struct broker_io fake_io = {
	fake_send, fake_close, fake_pending, fake_connected
};

struct fixture {
	struct config	 cfg;
	char		 dir[64];
	struct store	*store;
	struct broker	*broker;
	struct fake_conn conns[8];
	size_t		 nconns;
};

static int
setup(void **state)
{
	struct fixture	*f;
	char		 err[256];

	f = calloc(1, sizeof(*f));
	config_defaults(&f->cfg);
	f->cfg.max_inflight = 2;
	f->cfg.sync = STORAGE_SYNC_OFF;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_broker.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->cfg.db_path, sizeof(f->cfg.db_path), "%s/mqttd.db", f->dir);
	f->store = store_open(&f->cfg, NULL, NULL, NULL, err, sizeof(err));
	assert_non_null(f->store);
	f->broker = broker_new(&f->cfg, &fake_io, f->store);
	broker_tick(f->broker, 1000);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	char		 cmd[128];

	broker_free(f->broker);
	store_close(f->store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static struct fake_conn *
fake_open(struct fixture *f)
{
	struct fake_conn	*fc = &f->conns[f->nconns++];

	memset(fc, 0, sizeof(*fc));
	fc->client = broker_client_new(f->broker, fc, "test");
	return fc;
}

/* Encodes p at level 4 and feeds it; returns the broker's answer. */
static int
feed(struct fake_conn *fc, const struct packet *p)
{
	uint8_t	 buf[4096];
	size_t	 n;

	n = packet_encode(p, MQTT_PROTO_V311, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(fc->client);
	return broker_client_packet(fc->client, buf, n);
}

/* Decodes the next packet fc received into *p; false if none. */
static bool
next_packet(struct fake_conn *fc, struct packet *p)
{
	struct packet_frame	 fr;

	if (fc->readpos == fc->outlen)
		return false;
	assert_int_equal(packet_frame(fc->out + fc->readpos,
	    fc->outlen - fc->readpos, MQTT_MAX_PACKET, &fr), PACKET_OK);
	assert_int_equal(packet_decode(fc->out + fc->readpos, fr.total,
	    MQTT_PROTO_V311, p, NULL), PACKET_OK);
	fc->readpos += fr.total;
	return true;
}

static struct fake_conn *
connect_client(struct fixture *f, const char *id, bool clean,
    bool expect_present)
{
	struct fake_conn	*fc = fake_open(f);
	struct packet		 p = { .type = PACKET_CONNECT }, r;

	p.u.connect.level = MQTT_PROTO_V311;
	p.u.connect.protocol_name.data = (const uint8_t *)"MQTT";
	p.u.connect.protocol_name.len = 4;
	p.u.connect.clean_start = clean;
	p.u.connect.keep_alive = 60;
	p.u.connect.client_id.data = (const uint8_t *)id;
	p.u.connect.client_id.len = strlen(id);
	assert_int_equal(feed(fc, &p), 0);
	assert_true(next_packet(fc, &r));
	assert_int_equal(r.type, PACKET_CONNACK);
	assert_int_equal(r.u.connack.code, CONNACK_ACCEPTED);
	assert_int_equal(r.u.connack.session_present, expect_present);
	assert_true(fc->connected);
	assert_int_equal(fc->keep_alive, 60);
	return fc;
}

/* Connects a client with a will; the CONNACK accepts it. */
static struct fake_conn *
connect_with_will(struct fixture *f, const char *id, bool clean,
    const char *topic, const char *payload, uint8_t qos, bool retain)
{
	struct fake_conn	*fc = fake_open(f);
	struct packet		 p = { .type = PACKET_CONNECT }, r;

	p.u.connect.level = MQTT_PROTO_V311;
	p.u.connect.clean_start = clean;
	p.u.connect.client_id.data = (const uint8_t *)id;
	p.u.connect.client_id.len = strlen(id);
	p.u.connect.will_flag = true;
	p.u.connect.will_qos = qos;
	p.u.connect.will_retain = retain;
	p.u.connect.will_topic.data = (const uint8_t *)topic;
	p.u.connect.will_topic.len = strlen(topic);
	p.u.connect.will_payload.data = (const uint8_t *)payload;
	p.u.connect.will_payload.len = strlen(payload);
	assert_int_equal(feed(fc, &p), 0);
	assert_true(next_packet(fc, &r));
	assert_int_equal(r.type, PACKET_CONNACK);
	assert_int_equal(r.u.connack.code, CONNACK_ACCEPTED);
	return fc;
}

static void
subscribe(struct fake_conn *fc, const char *filter, uint8_t qos)
{
	struct packet		 p = { .type = PACKET_SUBSCRIBE }, r;
	struct sub_request	 req = { 0 };

	req.filter.data = (const uint8_t *)filter;
	req.filter.len = strlen(filter);
	req.qos = qos;
	p.u.subscribe.packet_id = 7;
	p.u.subscribe.topics = &req;
	p.u.subscribe.count = 1;
	assert_int_equal(feed(fc, &p), 0);
	assert_true(next_packet(fc, &r));
	assert_int_equal(r.type, PACKET_SUBACK);
	assert_int_equal(r.u.suback.packet_id, 7);
	assert_int_equal(r.u.suback.count, 1);
	assert_int_equal(r.u.suback.codes[0], qos);
	packet_free(&r);
}

static void
publish(struct fake_conn *fc, const char *topic, const char *payload,
    uint8_t qos, bool retain, uint16_t id)
{
	struct packet	 p = { .type = PACKET_PUBLISH };

	p.u.publish.qos = qos;
	p.u.publish.retain = retain;
	p.u.publish.packet_id = id;
	p.u.publish.topic.data = (const uint8_t *)topic;
	p.u.publish.topic.len = strlen(topic);
	p.u.publish.payload.data = (const uint8_t *)payload;
	p.u.publish.payload.len = strlen(payload);
	assert_int_equal(feed(fc, &p), 0);
}

static void
ack(struct fake_conn *fc, enum packet_type type, uint16_t id)
{
	struct packet	 p = { .type = type };

	p.u.ack.packet_id = id;
	assert_int_equal(feed(fc, &p), 0);
}

static void
expect_ack(struct fake_conn *fc, enum packet_type type, uint16_t id)
{
	struct packet	 r;

	assert_true(next_packet(fc, &r));
	assert_int_equal(r.type, type);
	assert_int_equal(r.u.ack.packet_id, id);
}

/* Expects a PUBLISH; returns its packet id. */
static uint16_t
expect_publish(struct fake_conn *fc, const char *topic, const char *payload,
    uint8_t qos, bool retain, bool dup)
{
	struct packet	 r;

	assert_true(next_packet(fc, &r));
	assert_int_equal(r.type, PACKET_PUBLISH);
	assert_int_equal(r.u.publish.topic.len, strlen(topic));
	assert_memory_equal(r.u.publish.topic.data, topic, strlen(topic));
	assert_int_equal(r.u.publish.payload.len, strlen(payload));
	assert_memory_equal(r.u.publish.payload.data, payload, strlen(payload));
	assert_int_equal(r.u.publish.qos, qos);
	assert_int_equal(r.u.publish.retain, retain);
	assert_int_equal(r.u.publish.dup, dup);
	return r.u.publish.packet_id;
}

static void
expect_nothing(struct fake_conn *fc)
{
	assert_int_equal(fc->readpos, fc->outlen);
}

/* ===== Tests ===== */

static void
test_delivered_qos_is_the_lower_of_publish_and_granted(void **state)
{
	struct fixture		*f = *state;
	struct fake_conn	*sub, *pub;

	sub = connect_client(f, "sub", true, false);
	pub = connect_client(f, "pub", true, false);
	subscribe(sub, "t/+", 1);
	publish(pub, "t/a", "two", 2, false, 5);
	expect_ack(pub, PACKET_PUBREC, 5);
	/* [MQTT-3.8.4-6] min(2, 1) = 1 */
	assert_int_not_equal(expect_publish(sub, "t/a", "two", 1, false,
	    false), 0);
	publish(pub, "t/a", "zero", 0, false, 0);
	expect_publish(sub, "t/a", "zero", 0, false, false);
}

static void
test_overlapping_filters_deliver_one_copy_at_highest_qos(void **state)
{
	struct fixture		*f = *state;
	struct fake_conn	*sub, *pub;

	sub = connect_client(f, "sub", true, false);
	pub = connect_client(f, "pub", true, false);
	subscribe(sub, "a/#", 0);
	subscribe(sub, "a/+", 1);
	subscribe(sub, "a/b", 0);
	/* [MQTT-3.3.5-1] */
	publish(pub, "a/b", "x", 1, false, 9);
	expect_ack(pub, PACKET_PUBACK, 9);
	expect_publish(sub, "a/b", "x", 1, false, false);
	expect_nothing(sub);
}

static void
test_qos2_resent_publish_is_not_routed_twice(void **state)
{
	struct fixture		*f = *state;
	struct fake_conn	*sub, *pub;

	sub = connect_client(f, "sub", true, false);
	pub = connect_client(f, "pub", true, false);
	subscribe(sub, "q2", 2);
	publish(pub, "q2", "once", 2, false, 3);
	expect_ack(pub, PACKET_PUBREC, 3);
	expect_publish(sub, "q2", "once", 2, false, false);
	/* [MQTT-4.3.3-2] the same id before PUBREL: PUBREC, no delivery */
	publish(pub, "q2", "once", 2, false, 3);
	expect_ack(pub, PACKET_PUBREC, 3);
	expect_nothing(sub);
	ack(pub, PACKET_PUBREL, 3);
	expect_ack(pub, PACKET_PUBCOMP, 3);
	/* After PUBREL the id is free: a new message. */
	publish(pub, "q2", "again", 2, false, 3);
	expect_ack(pub, PACKET_PUBREC, 3);
	expect_publish(sub, "q2", "again", 2, false, false);
}

static void
test_retained_message_sent_on_subscribe_with_retain_flag(void **state)
{
	struct fixture		*f = *state;
	struct fake_conn	*sub, *pub;

	pub = connect_client(f, "pub", true, false);
	publish(pub, "r/1", "kept", 1, true, 1);
	expect_ack(pub, PACKET_PUBACK, 1);
	sub = connect_client(f, "sub", true, false);
	subscribe(sub, "r/#", 1);
	/* [MQTT-3.3.1-6] [MQTT-3.3.1-8] */
	expect_publish(sub, "r/1", "kept", 1, true, false);
	/* [MQTT-3.3.1-9] forwarded live: retain 0 */
	publish(pub, "r/1", "new", 0, true, 0);
	expect_publish(sub, "r/1", "new", 0, false, false);
	/* [MQTT-3.3.1-10] empty retained payload clears it */
	publish(pub, "r/1", "", 0, true, 0);
	expect_publish(sub, "r/1", "", 0, false, false);
	subscribe(sub, "r/#", 1);
	expect_nothing(sub);
}

static void
test_inflight_window_holds_the_rest_in_order(void **state)
{
	struct fixture		*f = *state;
	struct fake_conn	*sub, *pub;
	uint16_t		 id1, id2, id3;

	sub = connect_client(f, "sub", true, false);
	pub = connect_client(f, "pub", true, false);
	subscribe(sub, "w", 1);
	publish(pub, "w", "1", 1, false, 1);
	publish(pub, "w", "2", 1, false, 2);
	publish(pub, "w", "3", 1, false, 3);
	id1 = expect_publish(sub, "w", "1", 1, false, false);
	id2 = expect_publish(sub, "w", "2", 1, false, false);
	expect_nothing(sub);		/* max_inflight = 2 */
	assert_int_not_equal(id1, id2);
	ack(sub, PACKET_PUBACK, id1);
	id3 = expect_publish(sub, "w", "3", 1, false, false);
	/* [MQTT-2.3.1-2] no id still in flight is reused */
	assert_int_not_equal(id3, id2);
}

static void
test_persistent_session_queues_and_resends_with_dup(void **state)
{
	struct fixture		*f = *state;
	struct fake_conn	*sub, *pub;
	struct packet		 p = { .type = PACKET_DISCONNECT };
	uint16_t		 id;

	sub = connect_client(f, "keep", false, false);
	subscribe(sub, "p", 2);
	pub = connect_client(f, "pub", true, false);
	publish(pub, "p", "first", 2, false, 1);
	id = expect_publish(sub, "p", "first", 2, false, false);
	assert_int_equal(feed(sub, &p), -1);
	publish(pub, "p", "second", 1, false, 2);
	publish(pub, "p", "third", 0, false, 0);	/* not queued */
	/* [MQTT-3.2.2-2] session present; [MQTT-4.4.0-1] resent with DUP */
	sub = connect_client(f, "keep", false, true);
	assert_int_equal(expect_publish(sub, "p", "first", 2, false, true), id);
	expect_publish(sub, "p", "second", 1, false, false);
	expect_nothing(sub);
}

static void
test_takeover_closes_old_connection_and_publishes_its_will(void **state)
{
	struct fixture		*f = *state;
	struct fake_conn	*old, *watcher, *nc;

	watcher = connect_client(f, "watcher", true, false);
	subscribe(watcher, "wills/#", 0);
	old = connect_with_will(f, "dev", true, "wills/dev", "gone", 0, false);
	/* [MQTT-3.1.4-2] */
	nc = connect_client(f, "dev", true, false);
	(void)nc;
	assert_true(old->closed);
	expect_publish(watcher, "wills/dev", "gone", 0, false, false);
}

static void
test_will_on_sys_topic_is_never_published(void **state)
{
	struct fixture		*f = *state;
	struct fake_conn	*watcher, *dev, *late;

	watcher = connect_client(f, "watcher", true, false);
	subscribe(watcher, "$SYS/#", 1);
	dev = connect_with_will(f, "dev", true, "$SYS/broker/uptime", "forged",
	    1, true);
	/* Like a PUBLISH to $SYS: accepted, but never routed nor retained. */
	broker_client_lost(dev->client, "test: connection lost");
	expect_nothing(watcher);
	late = connect_client(f, "late", true, false);
	subscribe(late, "$SYS/#", 1);
	expect_nothing(late);
}

/* [MQTT-3.1.2-8] a persistent session subscribed to its own will topic
 * gets the will queued, not written to the connection that died. */
static void
test_own_will_is_queued_for_the_persistent_session(void **state)
{
	struct fixture		*f = *state;
	struct fake_conn	*dev;
	struct packet		 bye = { .type = PACKET_DISCONNECT };

	dev = connect_client(f, "self", false, false);
	subscribe(dev, "wills/self", 1);
	assert_int_equal(feed(dev, &bye), -1);
	dev = connect_with_will(f, "self", false, "wills/self", "gone", 1,
	    false);
	broker_client_lost(dev->client, "test: connection lost");
	expect_nothing(dev);
	dev = connect_client(f, "self", false, true);
	expect_publish(dev, "wills/self", "gone", 1, false, false);
}

/*
 * Contract 1: the PUBREC of a resent QoS 2 PUBLISH, on a connection that
 * took over the session, waits for the commit the first PUBREC waited
 * for: the "pubrec_sent" row may not be on disk yet.
 */
static void
test_repeated_pubrec_waits_for_the_first_commit(void **state)
{
	struct fixture		*f = *state;
	struct fake_conn	*pub;
	uint64_t		 first;

	pub = connect_client(f, "pp", false, false);
	publish(pub, "q2/held", "m", 2, false, 9);
	expect_ack(pub, PACKET_PUBREC, 9);
	first = pub->last_hold;
	assert_true(first > 0);
	pub = connect_client(f, "pp", false, true);
	publish(pub, "q2/held", "m", 2, false, 9);
	expect_ack(pub, PACKET_PUBREC, 9);
	assert_true(pub->last_hold >= first);
}

static void
test_retry_resends_then_gives_up(void **state)
{
	struct fixture		*f = *state;
	struct fake_conn	*sub, *pub;
	uint16_t		 id;

	f->cfg.retry_interval = 5;
	f->cfg.max_retries = 1;
	sub = connect_client(f, "slow", true, false);
	pub = connect_client(f, "pub", true, false);
	subscribe(sub, "r", 1);
	publish(pub, "r", "m", 1, false, 1);
	id = expect_publish(sub, "r", "m", 1, false, false);
	broker_tick(f->broker, 1005);
	expect_nothing(sub);
	broker_tick(f->broker, 1006);
	assert_int_equal(expect_publish(sub, "r", "m", 1, false, true), id);
	broker_tick(f->broker, 1011);
	assert_false(sub->closed);
	broker_tick(f->broker, 1012);
	assert_true(sub->closed);
}

static void
test_first_packet_not_connect_closes(void **state)
{
	struct fixture		*f = *state;
	struct fake_conn	*fc = fake_open(f);
	struct packet		 p = { .type = PACKET_PINGREQ };

	/* [MQTT-3.1.0-1] */
	assert_int_equal(feed(fc, &p), -1);
	assert_true(fc->closed);
	expect_nothing(fc);
}

static void
test_empty_client_id_with_persistent_session_is_rejected(void **state)
{
	struct fixture		*f = *state;
	struct fake_conn	*fc = fake_open(f);
	struct packet		 p = { .type = PACKET_CONNECT }, r;

	p.u.connect.level = MQTT_PROTO_V311;
	p.u.connect.clean_start = false;
	/* [MQTT-3.1.3-8] */
	assert_int_equal(feed(fc, &p), -1);
	assert_true(next_packet(fc, &r));
	assert_int_equal(r.type, PACKET_CONNACK);
	assert_int_equal(r.u.connack.code, CONNACK_ID_REJECTED);
	assert_true(fc->closed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_delivered_qos_is_the_lower_of_publish_and_granted),
		T(test_overlapping_filters_deliver_one_copy_at_highest_qos),
		T(test_qos2_resent_publish_is_not_routed_twice),
		T(test_retained_message_sent_on_subscribe_with_retain_flag),
		T(test_inflight_window_holds_the_rest_in_order),
		T(test_persistent_session_queues_and_resends_with_dup),
		T(test_takeover_closes_old_connection_and_publishes_its_will),
		T(test_will_on_sys_topic_is_never_published),
		T(test_own_will_is_queued_for_the_persistent_session),
		T(test_repeated_pubrec_waits_for_the_first_commit),
		T(test_retry_resends_then_gives_up),
		T(test_first_packet_not_connect_closes),
		T(test_empty_client_id_with_persistent_session_is_rejected),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
