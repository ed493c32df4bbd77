/*
 * test_keepalive.c: integration tests of the keep-alive timer: PINGREQ
 * and PINGRESP, disconnection after one and a half keep-alive periods of
 * silence (with the will published), keep-alive 0 meaning no timer.
 *
 * Clients ask for a keep-alive of 1 s, so each timing test takes about
 * 1.5 to 3 seconds. Sleeps here pace a client on purpose; they are the
 * behaviour under test, not synchronisation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

static struct harness_broker broker;

static struct tclient *
connect_ka(const char *id, uint16_t keepalive, const char *will_topic)
{
	struct tconnect o = { .client_id = id, .clean = true,
	    .keepalive = keepalive, .will_topic = will_topic,
	    .will_payload = "gone", .will_qos = 1 };
	struct tclient *c = tclient_open(&broker, id);

	assert_int_equal(tclient_connect(c, &o), 0);
	tclient_expect_connack(c, 0, 0);
	return c;
}

/* [MQTT-3.12.4-1] The broker answers PINGREQ with PINGRESP (d0 00). */
static void
test_keepalive_pingreq_answered_with_pingresp(void **state)
{
	struct tclient *c = connect_ka("ka-ping", 60, NULL);
	struct tpacket p;

	(void)state;
	assert_int_equal(tclient_pingreq(c), 0);
	assert_int_equal(tclient_read_packet(c, &p, HARNESS_TIMEOUT_MS),
	    TREAD_OK);
	assert_int_equal(p.type, MQTT_PINGRESP);
	assert_int_equal(p.flags, 0);
	assert_int_equal(p.len, 0);
	tpacket_free(&p);
	tclient_bye(c);
}

/*
 * How long after 1.5 x keep-alive the broker may take to notice. mqttd:
 * 2.5 s in all. mosquitto 2.0 checks keep-alives on a coarse tick and
 * takes up to about 6 s for a 1 s keep-alive.
 */
static int
expiry_bound_ms(void)
{
	return harness_mosquitto() ? 8000 : 4000;
}

/* [MQTT-3.1.2-24] A client silent for 1.5 x keep-alive is disconnected:
 * with keep-alive 1 s, not before ~1 s, and well within 4 s. */
static void
test_keepalive_silent_client_disconnected(void **state)
{
	struct tclient *c = connect_ka("ka-silent", 1, NULL);
	long long t0 = harness_now_ms(), dt;

	(void)state;
	c->timeout_ms = expiry_bound_ms();
	tclient_expect_nothing(c, 900);
	tclient_expect_closed(c);
	dt = harness_now_ms() - t0;
	assert_true(dt >= 900);
	assert_true(dt <= expiry_bound_ms());
	tclient_close(c);
}

/* [MQTT-3.1.2-24] [MQTT-3.1.2-8] A keep-alive expiry is a close without
 * DISCONNECT: the will is published. */
static void
test_keepalive_expiry_publishes_will(void **state)
{
	struct tclient *sub = tclient_new(&broker, "ka-will-sub", true, NULL);
	struct tclient *c;
	uint16_t id;

	(void)state;
	tclient_sub(sub, "ka/will", 1, 1);
	c = connect_ka("ka-will", 1, "ka/will");
	sub->timeout_ms = expiry_bound_ms();
	tclient_expect_publish(sub, "ka/will", "gone", 1, 0, 0, &id);
	tclient_ack_received(sub, 1, id);
	tclient_expect_closed(c);
	tclient_close(c);
	tclient_bye(sub);
}

/* [MQTT-3.1.2-23] Packets sent within the keep-alive keep the connection
 * open: PINGREQ every 0.5 s for 3 s with keep-alive 1 s. */
static void
test_keepalive_pingreq_keeps_connection_open(void **state)
{
	struct tclient *c = connect_ka("ka-alive", 1, NULL);
	int i;

	(void)state;
	for (i = 0; i < 6; i++) {
		tclient_expect_nothing(c, 500);
		tclient_sync(c);
	}
	tclient_bye(c);
}

/* [MQTT-3.1.2-23] Any control packet counts, not only PINGREQ: QoS 0
 * PUBLISHes every 0.5 s keep a keep-alive 1 s connection open. */
static void
test_keepalive_any_packet_resets_timer(void **state)
{
	struct tclient *c = connect_ka("ka-publish", 1, NULL);
	int i;

	(void)state;
	for (i = 0; i < 6; i++) {
		tclient_expect_nothing(c, 500);
		assert_int_equal(tclient_publish_str(c, "ka/traffic", "x", 0,
		    false, 0), 0);
	}
	tclient_sync(c);
	tclient_bye(c);
}

/* Section 3.1.2.10 (no normative id): keep-alive 0 turns the mechanism
 * off: a silent client
 * stays connected. */
static void
test_keepalive_zero_means_no_timeout(void **state)
{
	struct tclient *c = connect_ka("ka-zero", 0, NULL);

	(void)state;
	tclient_expect_nothing(c, 3000);
	tclient_sync(c);
	tclient_bye(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keepalive_pingreq_answered_with_pingresp),
		cmocka_unit_test(test_keepalive_silent_client_disconnected),
		cmocka_unit_test(test_keepalive_expiry_publishes_will),
		cmocka_unit_test(test_keepalive_pingreq_keeps_connection_open),
		cmocka_unit_test(test_keepalive_any_packet_resets_timer),
		cmocka_unit_test(test_keepalive_zero_means_no_timeout),
	};

	return harness_run_group_tests(tests, &broker, NULL);
}
