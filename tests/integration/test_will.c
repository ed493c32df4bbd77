/*
 * test_will.c: integration tests of the will message: published with its
 * QoS and RETAIN flag when a connection ends without DISCONNECT (socket
 * closed, protocol error, session takeover), discarded on DISCONNECT.
 * The keep-alive case is in test_keepalive.c.
 *
 * One broker for the file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

static struct harness_broker broker;

/* Connects id with a will on topic, payload "<id> died". */
static struct tclient *
connect_will(const char *id, bool clean, const char *topic, int qos,
    bool retain)
{
	struct tconnect o = { .client_id = id, .clean = clean,
	    .will_topic = topic, .will_payload = "died", .will_qos = qos,
	    .will_retain = retain };
	struct tclient *c = tclient_open(&broker, id);

	assert_int_equal(tclient_connect(c, &o), 0);
	tclient_expect_connack(c, 0, 0);
	return c;
}

static struct tclient *
watcher(const char *id, const char *topic, int qos)
{
	struct tclient *c = tclient_new(&broker, id, true, NULL);

	tclient_sub(c, topic, qos, qos);
	return c;
}

/* [MQTT-3.1.2-8] A connection closed without DISCONNECT: the will is
 * published. */
static void
test_will_published_on_socket_close(void **state)
{
	struct tclient *w = watcher("will-close-w", "will/close", 0);
	struct tclient *c = connect_will("will-close", true, "will/close", 0,
	    false);

	(void)state;
	tclient_sync(c);
	tclient_close(c);
	tclient_expect_publish(w, "will/close", "died", 0, 0, 0, NULL);
	tclient_bye(w);
}

/* [MQTT-3.1.2-10] [MQTT-3.14.4-3] After DISCONNECT the will is discarded. */
static void
test_will_discarded_on_disconnect(void **state)
{
	struct tclient *w = watcher("will-bye-w", "will/bye", 0);
	struct tclient *c = connect_will("will-bye", true, "will/bye", 0,
	    false);

	(void)state;
	tclient_bye(c);
	tclient_expect_nothing(w, HARNESS_QUIET_MS);
	tclient_bye(w);
}

/* [MQTT-3.1.2-8] [MQTT-3.1.2-14] The will is published at its QoS (here
 * 2, to a QoS 2 subscription), with the full QoS 2 flow. */
static void
test_will_published_with_its_qos(void **state)
{
	struct tclient *w = watcher("will-qos-w", "will/qos", 2);
	struct tclient *c = connect_will("will-qos", true, "will/qos", 2,
	    false);
	uint16_t id;

	(void)state;
	tclient_close(c);
	tclient_expect_publish(w, "will/qos", "died", 2, 0, 0, &id);
	tclient_ack_received(w, 2, id);
	tclient_bye(w);
}

/* [MQTT-3.1.2-17] Will retain 1: the will is published as a retained
 * message: an existing subscriber gets it with RETAIN 0 [MQTT-3.3.1-9], a
 * later one with RETAIN 1. */
static void
test_will_retain_set_retains_will(void **state)
{
	struct tclient *w = watcher("will-ret-w", "will/retained", 1);
	struct tclient *c = connect_will("will-ret", true, "will/retained", 1,
	    true);
	struct tclient *late;
	uint16_t id;

	(void)state;
	tclient_close(c);
	tclient_expect_publish(w, "will/retained", "died", 1, 0, 0, &id);
	tclient_ack_received(w, 1, id);
	late = watcher("will-ret-late", "will/retained", 1);
	tclient_expect_publish(late, "will/retained", "died", 1, 1, 0, &id);
	tclient_ack_received(late, 1, id);
	tclient_bye(late);
	tclient_bye(w);
}

/* [MQTT-3.1.2-16] Will retain 0: the will is not retained. */
static void
test_will_retain_clear_not_retained(void **state)
{
	struct tclient *w = watcher("will-nr-w", "will/notretained", 0);
	struct tclient *c = connect_will("will-nr", true, "will/notretained",
	    0, false);
	struct tclient *late;

	(void)state;
	tclient_close(c);
	tclient_expect_publish(w, "will/notretained", "died", 0, 0, 0, NULL);
	late = watcher("will-nr-late", "will/notretained", 0);
	tclient_expect_nothing(late, HARNESS_QUIET_MS);
	tclient_bye(late);
	tclient_bye(w);
}

/* [MQTT-3.1.2-8] [MQTT-4.8.0-1] A protocol error closes the connection
 * and the will is published (here: PUBLISH with QoS 3). */
static void
test_will_published_on_protocol_error(void **state)
{
	struct tclient *w = watcher("will-err-w", "will/error", 0);
	struct tclient *c = connect_will("will-err", true, "will/error", 0,
	    false);

	(void)state;
	assert_int_equal(tclient_publish_str(c, "will/x", "x", 3, false, 1),
	    0);
	tclient_expect_closed(c);
	tclient_close(c);
	tclient_expect_publish(w, "will/error", "died", 0, 0, 0, NULL);
	tclient_bye(w);
}

/* [MQTT-3.1.0-2] [MQTT-3.1.2-8] A second CONNECT is a protocol violation:
 * close, and the will of the first CONNECT is published. */
static void
test_will_published_on_second_connect(void **state)
{
	struct tconnect o = { .client_id = "will-twice", .clean = true };
	struct tclient *w, *c;

	(void)state;
	harness_mqttd_only("2.0.11 drops the will on a second CONNECT");
	w = watcher("will-twice-w", "will/twice", 0);
	c = connect_will("will-twice", true, "will/twice", 0, false);
	assert_int_equal(tclient_connect(c, &o), 0);
	tclient_expect_closed(c);
	tclient_close(c);
	tclient_expect_publish(w, "will/twice", "died", 0, 0, 0, NULL);
	tclient_bye(w);
}

/* [MQTT-3.1.4-2] [MQTT-3.1.2-8] Session takeover closes the old connection
 * without a DISCONNECT from it: its will is published. */
static void
test_will_published_on_takeover(void **state)
{
	struct tclient *w, *old, *new;

	(void)state;
	harness_mqttd_only("2.0.11 publishes no will on takeover");
	w = watcher("will-take-w", "will/takeover", 0);
	old = connect_will("will-take", false, "will/takeover", 0, false);
	new = tclient_new(&broker, "will-take", false, NULL);
	tclient_expect_closed(old);
	tclient_close(old);
	tclient_expect_publish(w, "will/takeover", "died", 0, 0, 0, NULL);
	/* The new connection has no will: a clean end publishes nothing. */
	tclient_bye(new);
	tclient_expect_nothing(w, HARNESS_QUIET_MS);
	tclient_bye(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_will_published_on_socket_close),
		cmocka_unit_test(test_will_discarded_on_disconnect),
		cmocka_unit_test(test_will_published_with_its_qos),
		cmocka_unit_test(test_will_retain_set_retains_will),
		cmocka_unit_test(test_will_retain_clear_not_retained),
		cmocka_unit_test(test_will_published_on_protocol_error),
		cmocka_unit_test(test_will_published_on_second_connect),
		cmocka_unit_test(test_will_published_on_takeover),
	};

	return harness_run_group_tests(tests, &broker, NULL);
}
