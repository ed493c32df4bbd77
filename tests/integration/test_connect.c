/*
 * test_connect.c: integration tests of the CONNECT/CONNACK exchange and
 * of what happens before a session exists: protocol name and level,
 * client identifiers, flags, the connect timeout, DISCONNECT.
 *
 * One broker for the whole file, with connect_timeout = 1 so that the
 * timeout tests take about a second.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

static struct harness_broker broker;
static const struct harness_opts broker_opts = {
	.extra_ini = "[listener]\nconnect_timeout = 1\n"
};

/* Sends a CONNECT built from o on a new connection. */
static struct tclient *
send_connect(const struct tconnect *o)
{
	struct tclient *c = tclient_open(&broker, o->client_id);

	assert_int_equal(tclient_connect(c, o), 0);
	return c;
}

/*
 * How long the close that a bad CONNECT (or a packet before CONNECT)
 * causes may take. connect_timeout (1 s from the accept) closes such a
 * connection anyway, so with the default wait of 5 s a broker that
 * ignored the bad packet would pass; the close must come before that.
 */
#define PROMPT_CLOSE_MS	700

/* Expects the broker to close c because of what c sent, then closes c. */
static void
expect_prompt_close(struct tclient *c)
{
	c->timeout_ms = PROMPT_CLOSE_MS;
	tclient_expect_closed(c);
	tclient_close(c);
}

/* [MQTT-3.1.0-1] [MQTT-3.2.0-1] [MQTT-3.2.2-4] A valid 3.1.1 CONNECT is
 * answered by the CONNACK bytes 20 02 00 00. */
static void
test_connect_v311_accepted(void **state)
{
	struct tconnect o = { .client_id = "conn-v311", .clean = true };
	struct tclient *c = send_connect(&o);
	struct tpacket p;

	(void)state;
	assert_int_equal(tclient_read_packet(c, &p, HARNESS_TIMEOUT_MS),
	    TREAD_OK);
	assert_int_equal(p.type, MQTT_CONNACK);
	assert_int_equal(p.flags, 0);
	assert_int_equal(p.len, 2);
	assert_int_equal(p.body[0], 0);
	assert_int_equal(p.body[1], 0);
	tpacket_free(&p);
	tclient_sync(c);
	tclient_bye(c);
}

/* MQTT 3.1 ("MQIsdp", level 3) is accepted too. */
static void
test_connect_v31_mqisdp_accepted(void **state)
{
	struct tconnect o = { .client_id = "conn-v31", .clean = true,
	    .proto_name = "MQIsdp", .proto_level = 3 };
	struct tclient *c = send_connect(&o);

	(void)state;
	tclient_expect_connack(c, 0, 0);
	tclient_sync(c);
	tclient_bye(c);
}

/* [MQTT-3.1.2-2] An unsupported protocol level gets CONNACK 0x01, then
 * the connection is closed. */
static void
test_connect_unsupported_level_refused_0x01(void **state)
{
	struct tconnect o = { .client_id = "conn-level6", .clean = true,
	    .proto_level = 6 };
	struct tclient *c = send_connect(&o);

	(void)state;
	tclient_expect_connack(c, 0, 1);
	expect_prompt_close(c);
}

/* [MQTT-3.1.2-2] Level 3 under the 3.1.1 name "MQTT" is not a protocol
 * this broker speaks either. */
static void
test_connect_level3_with_name_mqtt_refused_0x01(void **state)
{
	struct tconnect o = { .client_id = "conn-mqtt3", .clean = true,
	    .proto_level = 3 };
	struct tclient *c = send_connect(&o);

	(void)state;
	tclient_expect_connack(c, 0, 1);
	expect_prompt_close(c);
}

/* [MQTT-3.1.2-1] A protocol name other than "MQTT" (or 3.1's "MQIsdp"):
 * the broker must not go on with the CONNECT; mqttd answers 0x01 and
 * closes, as for any protocol it does not speak. */
static void
test_connect_bad_protocol_name_refused(void **state)
{
	struct tconnect o = { .client_id = "conn-name", .clean = true,
	    .proto_name = "MQTX" };
	struct tclient *c = send_connect(&o);

	(void)state;
	if (harness_mosquitto()) {
		/* mosquitto closes without a CONNACK, which the spec allows. */
		expect_prompt_close(c);
		return;
	}
	tclient_expect_connack(c, 0, 1);
	expect_prompt_close(c);
}

/* [MQTT-3.1.2-3] The reserved flag of the connect flags must be 0. */
static void
test_connect_reserved_flag_closes(void **state)
{
	struct tconnect o = { .client_id = "conn-reserved", .raw_flags = true,
	    .flags = 0x03 };
	struct tclient *c = send_connect(&o);

	(void)state;
	expect_prompt_close(c);
}

/* [MQTT-2.2.2-2] CONNECT's fixed header flags are 0000. */
static void
test_connect_fixed_header_flags_close(void **state)
{
	static const uint8_t body[] = {
		0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0,
		0, 9, 'c', 'o', 'n', 'n', '-', 'f', 'h', 'd', 'r'
	};
	struct tclient *c = tclient_open(&broker, "conn-fhdr");

	(void)state;
	assert_int_equal(tclient_send_packet(c, (MQTT_CONNECT << 4) | 0x01,
	    body, sizeof(body)), 0);
	expect_prompt_close(c);
}

/* [MQTT-3.1.3-6] [MQTT-3.1.3-7] Zero-length client id with clean session
 * 1: accepted, the broker assigns an id, and the session works. */
static void
test_connect_empty_id_clean_gets_generated_id(void **state)
{
	struct tconnect o = { .client_id = "", .clean = true };
	struct tclient *c = send_connect(&o), *pub;
	uint16_t id;

	(void)state;
	tclient_expect_connack(c, 0, 0);
	tclient_sub(c, "conn/anon/t", 1, 1);
	pub = tclient_new(&broker, "conn-anon-pub", true, NULL);
	tclient_pub(pub, "conn/anon/t", "hello", 1, false);
	tclient_expect_publish(c, "conn/anon/t", "hello", 1, 0, 0, &id);
	tclient_ack_received(c, 1, id);
	tclient_bye(pub);
	tclient_bye(c);
}

/* [MQTT-3.1.3-8] Zero-length client id with clean session 0: CONNACK
 * 0x02 (identifier rejected), then close. */
static void
test_connect_empty_id_persistent_refused_0x02(void **state)
{
	struct tconnect o = { .client_id = "", .clean = false };
	struct tclient *c = send_connect(&o);

	(void)state;
	tclient_expect_connack(c, 0, 2);
	expect_prompt_close(c);
}

/* [MQTT-3.1.3-5] Client ids beyond the 23 characters the spec requires
 * servers to accept may be accepted; mqttd accepts up to
 * max_client_id_length (256 by default). */
static void
test_connect_long_client_id_accepted(void **state)
{
	char id[201];
	struct tconnect o = { .clean = true };
	struct tclient *c;

	(void)state;
	memset(id, 'L', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	memcpy(id, "conn-long-", 10);
	o.client_id = id;
	c = send_connect(&o);
	tclient_expect_connack(c, 0, 0);
	tclient_bye(c);
}

/* [MQTT-3.1.3-5] A client id longer than max_client_id_length: 0x02. */
static void
test_connect_client_id_over_limit_refused_0x02(void **state)
{
	char id[300];
	struct tconnect o = { .clean = true };
	struct tclient *c;

	(void)state;
	harness_mqttd_only("no limit on client id length");
	memset(id, 'x', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	o.client_id = id;
	c = send_connect(&o);
	tclient_expect_connack(c, 0, 2);
	expect_prompt_close(c);
}

/* [MQTT-3.1.0-2] A second CONNECT on a connection is a protocol
 * violation: the broker closes the connection. */
static void
test_connect_second_connect_closes(void **state)
{
	struct tconnect o = { .client_id = "conn-twice", .clean = true };
	struct tclient *c = send_connect(&o);

	(void)state;
	tclient_expect_connack(c, 0, 0);
	assert_int_equal(tclient_connect(c, &o), 0);
	tclient_expect_closed(c);
	tclient_close(c);
}

/* [MQTT-3.1.0-1] The first packet must be CONNECT: a PINGREQ first
 * closes the connection, without a PINGRESP. */
static void
test_connect_first_packet_pingreq_closes(void **state)
{
	struct tclient *c = tclient_open(&broker, "conn-first-ping");

	(void)state;
	assert_int_equal(tclient_pingreq(c), 0);
	expect_prompt_close(c);
}

/* [MQTT-3.1.0-1] The same with a SUBSCRIBE first: no SUBACK. */
static void
test_connect_first_packet_subscribe_closes(void **state)
{
	const char *filter = "conn/first/sub";
	int qos = 0;
	struct tclient *c = tclient_open(&broker, "conn-first-sub");

	(void)state;
	assert_int_equal(tclient_subscribe(c, 1, 1, &filter, &qos), 0);
	expect_prompt_close(c);
}

/* [MQTT-3.1.2-13] Will flag 0 with a will QoS other than 0. */
static void
test_connect_will_qos_without_will_flag_closes(void **state)
{
	struct tconnect o = { .client_id = "conn-wq0", .raw_flags = true,
	    .flags = 0x02 | (1 << 3) };
	struct tclient *c = send_connect(&o);

	(void)state;
	expect_prompt_close(c);
}

/* [MQTT-3.1.2-14] Will QoS 3 is malformed. */
static void
test_connect_will_qos_3_closes(void **state)
{
	struct tconnect o = { .client_id = "conn-wq3", .clean = true,
	    .will_topic = "conn/will", .will_payload = "x", .will_qos = 3 };
	struct tclient *c = send_connect(&o);

	(void)state;
	expect_prompt_close(c);
}

/* [MQTT-3.1.2-15] Will retain set with will flag 0. */
static void
test_connect_will_retain_without_will_flag_closes(void **state)
{
	struct tconnect o = { .client_id = "conn-wr", .raw_flags = true,
	    .flags = 0x02 | 0x20 };
	struct tclient *c = send_connect(&o);

	(void)state;
	expect_prompt_close(c);
}

/* [MQTT-3.1.2-22] Password flag set with user name flag 0. */
static void
test_connect_password_without_username_closes(void **state)
{
	struct tconnect o = { .client_id = "conn-pw", .clean = true,
	    .password = "secret" };
	struct tclient *c = send_connect(&o);

	(void)state;
	expect_prompt_close(c);
}

/* [MQTT-3.1.2-19] [MQTT-3.1.2-21] User name and password are read from
 * the payload; with anonymous access on, any credentials are accepted. */
static void
test_connect_username_password_accepted(void **state)
{
	struct tconnect o = { .client_id = "conn-userpw", .clean = true,
	    .username = "alice", .password = "secret" };
	struct tclient *c = send_connect(&o);

	(void)state;
	tclient_expect_connack(c, 0, 0);
	tclient_sync(c);
	tclient_bye(c);
}

/* [MQTT-3.1.3-4] [MQTT-1.5.3-1] A client id that is not valid UTF-8
 * (a lone continuation byte) is malformed: the connection is closed
 * (or refused with 0x02). */
static void
test_connect_invalid_utf8_client_id_refused(void **state)
{
	static const uint8_t body[] = {
		0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0,
		0, 4, 'c', 0x80, 'i', 'd'
	};
	struct tclient *c = tclient_open(&broker, "conn-utf8");
	struct tpacket p;
	enum tread r;

	(void)state;
	assert_int_equal(tclient_send_packet(c, MQTT_CONNECT << 4, body,
	    sizeof(body)), 0);
	r = tclient_read_packet(c, &p, PROMPT_CLOSE_MS);
	if (r == TREAD_OK) {
		assert_int_equal(p.type, MQTT_CONNACK);
		assert_int_equal(p.body[1], 2);
		tpacket_free(&p);
		expect_prompt_close(c);
		return;
	}
	assert_int_equal(r, TREAD_CLOSED);
	tclient_close(c);
}

/* A connection that sends nothing is closed after connect_timeout. */
static void
test_connect_timeout_closes_silent_connection(void **state)
{
	struct tclient *c;

	(void)state;
	harness_mqttd_only("no connect_timeout option");
	c = tclient_open(&broker, "conn-silent");
	tclient_expect_nothing(c, 500);
	tclient_expect_closed(c);
	tclient_close(c);
}

/* A connection that sends only part of a CONNECT is closed after
 * connect_timeout: the timer runs until a whole CONNECT arrived. */
static void
test_connect_timeout_closes_partial_connect(void **state)
{
	static const uint8_t part[] = { 0x10, 0x10, 0, 4, 'M', 'Q' };
	struct tclient *c;

	(void)state;
	harness_mqttd_only("no connect_timeout option");
	c = tclient_open(&broker, "conn-partial");
	assert_int_equal(tclient_send_raw(c, part, sizeof(part)), 0);
	tclient_expect_nothing(c, 500);
	tclient_expect_closed(c);
	tclient_close(c);
}

/* A connection that completed CONNECT is not subject to connect_timeout
 * (keep-alive 0 here: no timer at all). */
static void
test_connect_timeout_not_applied_after_connect(void **state)
{
	struct tclient *c;

	(void)state;
	harness_mqttd_only("no connect_timeout option");
	c = tclient_new(&broker, "conn-stays", true, NULL);
	tclient_expect_nothing(c, 1800);
	tclient_sync(c);
	tclient_bye(c);
}

/* [MQTT-3.14.4-1] [MQTT-3.14.4-2] After DISCONNECT the broker sends
 * nothing more and closes the connection. */
static void
test_disconnect_closes_connection(void **state)
{
	struct tclient *c = tclient_new(&broker, "conn-bye", true, NULL);

	(void)state;
	assert_int_equal(tclient_disconnect(c), 0);
	tclient_expect_closed(c);
	tclient_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_v311_accepted),
		cmocka_unit_test(test_connect_v31_mqisdp_accepted),
		cmocka_unit_test(test_connect_unsupported_level_refused_0x01),
		cmocka_unit_test(test_connect_level3_with_name_mqtt_refused_0x01),
		cmocka_unit_test(test_connect_bad_protocol_name_refused),
		cmocka_unit_test(test_connect_reserved_flag_closes),
		cmocka_unit_test(test_connect_fixed_header_flags_close),
		cmocka_unit_test(test_connect_empty_id_clean_gets_generated_id),
		cmocka_unit_test(test_connect_empty_id_persistent_refused_0x02),
		cmocka_unit_test(test_connect_long_client_id_accepted),
		cmocka_unit_test(test_connect_client_id_over_limit_refused_0x02),
		cmocka_unit_test(test_connect_second_connect_closes),
		cmocka_unit_test(test_connect_first_packet_pingreq_closes),
		cmocka_unit_test(test_connect_first_packet_subscribe_closes),
		cmocka_unit_test(test_connect_will_qos_without_will_flag_closes),
		cmocka_unit_test(test_connect_will_qos_3_closes),
		cmocka_unit_test(test_connect_will_retain_without_will_flag_closes),
		cmocka_unit_test(test_connect_password_without_username_closes),
		cmocka_unit_test(test_connect_username_password_accepted),
		cmocka_unit_test(test_connect_invalid_utf8_client_id_refused),
		cmocka_unit_test(test_connect_timeout_closes_silent_connection),
		cmocka_unit_test(test_connect_timeout_closes_partial_connect),
		cmocka_unit_test(test_connect_timeout_not_applied_after_connect),
		cmocka_unit_test(test_disconnect_closes_connection),
	};

	return harness_run_group_tests(tests, &broker, &broker_opts);
}
