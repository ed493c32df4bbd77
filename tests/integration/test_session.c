/*
 * test_session.c: integration tests of sessions: clean session 0 and 1,
 * the session-present flag, session takeover, the offline queue, the
 * in-flight window, resending on reconnect and while connected, order
 * across reconnects, and sessions across broker restarts.
 *
 * One broker for the tests that need no particular configuration; the
 * others start their own through harness_setup_broker(), with the extra
 * ini text as the prestate.
 */
#include <sys/wait.h>

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "harness.h"

static struct harness_broker broker;

/* Publishes n QoS qos messages "<prefix><i>" to topic, completing each. */
static void
publish_n(struct tclient *pub, const char *topic, const char *prefix,
    int first, int n, int qos)
{
	char payload[64];
	int i;

	for (i = first; i < first + n; i++) {
		snprintf(payload, sizeof(payload), "%s%d", prefix, i);
		tclient_pub(pub, topic, payload, qos, false);
	}
}

/* Expects n QoS 1 messages "<prefix><i>" in order and acknowledges them. */
static void
expect_n(struct tclient *c, const char *topic, const char *prefix, int first,
    int n, int qos)
{
	char payload[64];
	uint16_t id;
	int i;

	for (i = first; i < first + n; i++) {
		snprintf(payload, sizeof(payload), "%s%d", prefix, i);
		tclient_expect_publish(c, topic, payload, qos, 0, -1, &id);
		tclient_ack_received(c, qos, id);
	}
}

/* [MQTT-3.2.2-1] Clean session 1: session present is 0, even when a
 * persistent session existed for the id (which is discarded). */
static void
test_session_clean_connect_session_present_0(void **state)
{
	struct tclient *c;

	(void)state;
	c = tclient_new_sp(&broker, "sess-clean", false, 0);
	tclient_sub(c, "sess/clean", 1, 1);
	tclient_bye(c);
	c = tclient_new_sp(&broker, "sess-clean", true, 0);
	tclient_bye(c);
}

/* [MQTT-3.2.2-3] Clean session 0 without a stored session: present 0. */
static void
test_session_new_persistent_session_present_0(void **state)
{
	struct tclient *c;

	(void)state;
	c = tclient_new_sp(&broker, "sess-new", false, 0);
	tclient_bye(c);
}

/* [MQTT-3.2.2-2] [MQTT-3.1.2-4] Clean session 0 with a stored session:
 * present 1, and the session is resumed. */
static void
test_session_resumed_session_present_1(void **state)
{
	struct tclient *c;

	(void)state;
	c = tclient_new_sp(&broker, "sess-resume", false, 0);
	tclient_bye(c);
	c = tclient_new_sp(&broker, "sess-resume", false, 1);
	tclient_bye(c);
}

/* [MQTT-3.1.2-6] A clean session 1 connection discards the stored session:
 * its subscriptions are gone afterwards. */
static void
test_session_clean_connect_discards_subscriptions(void **state)
{
	struct tclient *c, *pub;

	(void)state;
	c = tclient_new_sp(&broker, "sess-discard", false, 0);
	tclient_sub(c, "sess/discard", 1, 1);
	tclient_bye(c);
	c = tclient_new_sp(&broker, "sess-discard", true, 0);
	tclient_bye(c);
	c = tclient_new_sp(&broker, "sess-discard", false, 0);
	pub = tclient_new(&broker, "sess-discard-pub", true, NULL);
	tclient_pub(pub, "sess/discard", "lost", 1, false);
	tclient_expect_nothing(c, HARNESS_QUIET_MS);
	tclient_bye(pub);
	tclient_bye(c);
}

/* [MQTT-3.1.2-6] A clean session 1 session ends with its connection:
 * nothing of it remains for a later clean session 0 connection. */
static void
test_session_clean_session_not_kept_after_disconnect(void **state)
{
	struct tclient *c;

	(void)state;
	c = tclient_new_sp(&broker, "sess-transient", true, 0);
	tclient_sub(c, "sess/transient", 1, 1);
	tclient_bye(c);
	c = tclient_new_sp(&broker, "sess-transient", false, 0);
	tclient_bye(c);
}

/* [MQTT-3.1.2-4] [MQTT-3.1.2-5] Subscriptions survive a disconnect, and
 * QoS 1 and 2 messages published meanwhile are delivered on reconnect. */
static void
test_session_offline_messages_delivered_on_reconnect(void **state)
{
	struct tclient *c, *pub;
	uint16_t id;

	(void)state;
	c = tclient_new_sp(&broker, "sess-offline", false, 0);
	tclient_sub(c, "sess/offline", 2, 2);
	tclient_bye(c);
	pub = tclient_new(&broker, "sess-offline-pub", true, NULL);
	tclient_pub(pub, "sess/offline", "q1", 1, false);
	tclient_pub(pub, "sess/offline", "q2", 2, false);
	c = tclient_new_sp(&broker, "sess-offline", false, 1);
	tclient_expect_publish(c, "sess/offline", "q1", 1, 0, 0, &id);
	tclient_ack_received(c, 1, id);
	tclient_expect_publish(c, "sess/offline", "q2", 2, 0, 0, &id);
	tclient_ack_received(c, 2, id);
	tclient_expect_nothing(c, HARNESS_QUIET_MS);
	tclient_bye(pub);
	tclient_bye(c);
}

/* QoS 0 messages are not queued for an offline session by default
 * (3.1.2.4 allows either; mqttd's queue_qos0 defaults to false). */
static void
test_session_qos0_not_queued_offline_by_default(void **state)
{
	struct tclient *c, *pub;
	uint16_t id;

	(void)state;
	c = tclient_new_sp(&broker, "sess-q0", false, 0);
	tclient_sub(c, "sess/q0", 1, 1);
	tclient_bye(c);
	pub = tclient_new(&broker, "sess-q0-pub", true, NULL);
	tclient_pub(pub, "sess/q0", "qos0", 0, false);
	tclient_pub(pub, "sess/q0", "qos1", 1, false);
	c = tclient_new_sp(&broker, "sess-q0", false, 1);
	tclient_expect_publish(c, "sess/q0", "qos1", 1, 0, 0, &id);
	tclient_ack_received(c, 1, id);
	tclient_expect_nothing(c, HARNESS_QUIET_MS);
	tclient_bye(pub);
	tclient_bye(c);
}

/* [MQTT-4.6.0-6] Order per topic holds across a reconnect: what was
 * queued comes first, in order, then what is published after. */
static void
test_session_order_kept_across_reconnect(void **state)
{
	struct tclient *c, *pub;

	(void)state;
	c = tclient_new_sp(&broker, "sess-order", false, 0);
	tclient_sub(c, "sess/order", 1, 1);
	pub = tclient_new(&broker, "sess-order-pub", true, NULL);
	publish_n(pub, "sess/order", "m", 0, 5, 1);
	expect_n(c, "sess/order", "m", 0, 5, 1);
	tclient_bye(c);
	publish_n(pub, "sess/order", "m", 5, 10, 1);
	c = tclient_new_sp(&broker, "sess-order", false, 1);
	publish_n(pub, "sess/order", "m", 15, 10, 1);
	expect_n(c, "sess/order", "m", 5, 20, 1);
	tclient_expect_nothing(c, HARNESS_QUIET_MS);
	tclient_bye(pub);
	tclient_bye(c);
}

/* [MQTT-4.4.0-1] [MQTT-3.3.1-1] An unacknowledged QoS 1 PUBLISH is sent
 * again on reconnect, with DUP=1 and its original packet id. */
static void
test_session_unacked_publish_resent_with_dup(void **state)
{
	struct tclient *c, *pub;
	uint16_t id, id2;

	(void)state;
	c = tclient_new_sp(&broker, "sess-resend", false, 0);
	tclient_sub(c, "sess/resend", 1, 1);
	pub = tclient_new(&broker, "sess-resend-pub", true, NULL);
	tclient_pub(pub, "sess/resend", "again", 1, false);
	tclient_expect_publish(c, "sess/resend", "again", 1, 0, 0, &id);
	tclient_close(c);	/* no PUBACK, no DISCONNECT */
	c = tclient_new_sp(&broker, "sess-resend", false, 1);
	tclient_expect_publish(c, "sess/resend", "again", 1, 0, 1, &id2);
	assert_int_equal(id2, id);
	tclient_ack_received(c, 1, id2);
	tclient_expect_nothing(c, HARNESS_QUIET_MS);
	tclient_bye(pub);
	tclient_bye(c);
}

/* [MQTT-4.4.0-1] [MQTT-4.3.3-1] After PUBREC the broker owes a PUBREL,
 * not the message: on reconnect it resends PUBREL with the same id. */
static void
test_session_pubrel_resent_not_publish(void **state)
{
	struct tclient *c, *pub;
	uint16_t id;

	(void)state;
	c = tclient_new_sp(&broker, "sess-pubrel", false, 0);
	tclient_sub(c, "sess/pubrel", 2, 2);
	pub = tclient_new(&broker, "sess-pubrel-pub", true, NULL);
	tclient_pub(pub, "sess/pubrel", "twice?", 2, false);
	tclient_expect_publish(c, "sess/pubrel", "twice?", 2, 0, 0, &id);
	assert_int_equal(tclient_pubrec(c, id), 0);
	tclient_expect_ack(c, MQTT_PUBREL, id);
	tclient_close(c);	/* no PUBCOMP */
	c = tclient_new_sp(&broker, "sess-pubrel", false, 1);
	tclient_expect_ack(c, MQTT_PUBREL, id);
	assert_int_equal(tclient_pubcomp(c, id), 0);
	tclient_expect_nothing(c, HARNESS_QUIET_MS);
	tclient_bye(pub);
	tclient_bye(c);
}

/* [MQTT-4.4.0-1] [MQTT-4.6.0-1] [MQTT-4.6.0-2] Several unacknowledged
 * packets are resent in their original order with their original ids:
 * the PUBREL of message 1, then the PUBLISHes of messages 2 and 3. */
static void
test_session_resend_in_original_order(void **state)
{
	struct tclient *c, *pub;
	uint16_t id1, id2, id3, id;

	(void)state;
	c = tclient_new_sp(&broker, "sess-rorder", false, 0);
	tclient_sub(c, "sess/rorder", 2, 2);
	pub = tclient_new(&broker, "sess-rorder-pub", true, NULL);
	tclient_pub(pub, "sess/rorder", "1", 2, false);
	tclient_expect_publish(c, "sess/rorder", "1", 2, 0, 0, &id1);
	assert_int_equal(tclient_pubrec(c, id1), 0);
	tclient_expect_ack(c, MQTT_PUBREL, id1);
	tclient_pub(pub, "sess/rorder", "2", 1, false);
	tclient_expect_publish(c, "sess/rorder", "2", 1, 0, 0, &id2);
	tclient_pub(pub, "sess/rorder", "3", 2, false);
	tclient_expect_publish(c, "sess/rorder", "3", 2, 0, 0, &id3);
	tclient_close(c);
	c = tclient_new_sp(&broker, "sess-rorder", false, 1);
	tclient_expect_ack(c, MQTT_PUBREL, id1);
	tclient_expect_publish(c, "sess/rorder", "2", 1, 0, 1, &id);
	assert_int_equal(id, id2);
	tclient_expect_publish(c, "sess/rorder", "3", 2, 0, 1, &id);
	assert_int_equal(id, id3);
	assert_int_equal(tclient_pubcomp(c, id1), 0);
	assert_int_equal(tclient_puback(c, id2), 0);
	tclient_ack_received(c, 2, id3);
	tclient_expect_nothing(c, HARNESS_QUIET_MS);
	tclient_bye(pub);
	tclient_bye(c);
}

/* [MQTT-2.3.1-2] After a reconnect, new messages do not take the packet
 * id of one still in flight. */
static void
test_session_new_ids_avoid_resent_ones(void **state)
{
	struct tclient *c, *pub;
	uint16_t old, id;
	int i;

	(void)state;
	c = tclient_new_sp(&broker, "sess-ids", false, 0);
	tclient_sub(c, "sess/ids", 1, 1);
	pub = tclient_new(&broker, "sess-ids-pub", true, NULL);
	tclient_pub(pub, "sess/ids", "old", 1, false);
	tclient_expect_publish(c, "sess/ids", "old", 1, 0, 0, &old);
	tclient_close(c);
	c = tclient_new_sp(&broker, "sess-ids", false, 1);
	tclient_expect_publish(c, "sess/ids", "old", 1, 0, 1, &id);
	assert_int_equal(id, old);
	for (i = 0; i < 5; i++) {
		tclient_pub(pub, "sess/ids", "new", 1, false);
		tclient_expect_publish(c, "sess/ids", "new", 1, 0, 0, &id);
		assert_int_not_equal(id, old);
		assert_int_equal(tclient_puback(c, id), 0);
	}
	assert_int_equal(tclient_puback(c, old), 0);
	tclient_sync(c);
	tclient_bye(pub);
	tclient_bye(c);
}

/* [MQTT-4.3.3-2] The inbound QoS 2 state is part of the session: a
 * publisher that reconnects after PUBREC and sends the PUBLISH again (DUP)
 * and then PUBREL causes one delivery only. */
static void
test_session_inbound_qos2_survives_reconnect(void **state)
{
	struct tclient *sub, *pub;
	uint16_t id;

	(void)state;
	sub = tclient_new(&broker, "sess-in2-sub", true, NULL);
	tclient_sub(sub, "sess/in2", 2, 2);
	pub = tclient_new_sp(&broker, "sess-in2-pub", false, 0);
	assert_int_equal(tclient_publish_str(pub, "sess/in2", "one", 2, false,
	    42), 0);
	tclient_expect_ack(pub, MQTT_PUBREC, 42);
	tclient_close(pub);
	pub = tclient_new_sp(&broker, "sess-in2-pub", false, 1);
	assert_int_equal(tclient_publish(pub, "sess/in2", "one", 3, 2, false,
	    true, 42), 0);
	tclient_expect_ack(pub, MQTT_PUBREC, 42);
	assert_int_equal(tclient_pubrel(pub, 42), 0);
	tclient_expect_ack(pub, MQTT_PUBCOMP, 42);
	tclient_expect_publish(sub, "sess/in2", "one", 2, 0, 0, &id);
	tclient_ack_received(sub, 2, id);
	tclient_expect_nothing(sub, HARNESS_QUIET_MS);
	tclient_bye(pub);
	tclient_bye(sub);
}

/* [MQTT-3.1.4-2] A CONNECT with a client id in use closes the older
 * connection; the new one gets the session (present 1). */
static void
test_session_takeover_closes_old_connection(void **state)
{
	struct tclient *old, *new;

	(void)state;
	old = tclient_new_sp(&broker, "sess-take", false, 0);
	tclient_sync(old);
	new = tclient_new_sp(&broker, "sess-take", false, 1);
	tclient_expect_closed(old);
	tclient_close(old);
	tclient_sync(new);
	tclient_bye(new);
}

/* [MQTT-3.1.4-2] The taken-over session keeps its subscriptions and its
 * in-flight messages, resent to the new connection with DUP. */
static void
test_session_takeover_keeps_subscriptions_and_inflight(void **state)
{
	struct tclient *old, *new, *pub;
	uint16_t id, id2;

	(void)state;
	old = tclient_new_sp(&broker, "sess-take2", false, 0);
	tclient_sub(old, "sess/take2", 1, 1);
	pub = tclient_new(&broker, "sess-take2-pub", true, NULL);
	tclient_pub(pub, "sess/take2", "inflight", 1, false);
	tclient_expect_publish(old, "sess/take2", "inflight", 1, 0, 0, &id);
	new = tclient_new_sp(&broker, "sess-take2", false, 1);
	tclient_expect_closed(old);
	tclient_close(old);
	tclient_expect_publish(new, "sess/take2", "inflight", 1, 0, 1, &id2);
	assert_int_equal(id2, id);
	tclient_ack_received(new, 1, id2);
	tclient_pub(pub, "sess/take2", "after", 1, false);
	tclient_expect_publish(new, "sess/take2", "after", 1, 0, 0, &id);
	tclient_ack_received(new, 1, id);
	tclient_bye(pub);
	tclient_bye(new);
}

/* [MQTT-3.1.4-2] Takeover by a clean session 1 connection: the old
 * connection is closed, and the session starts afresh (present 0). */
static void
test_session_takeover_with_clean_session_starts_afresh(void **state)
{
	struct tclient *old, *new, *pub;

	(void)state;
	old = tclient_new_sp(&broker, "sess-take3", false, 0);
	tclient_sub(old, "sess/take3", 1, 1);
	new = tclient_new_sp(&broker, "sess-take3", true, 0);
	tclient_expect_closed(old);
	tclient_close(old);
	pub = tclient_new(&broker, "sess-take3-pub", true, NULL);
	tclient_pub(pub, "sess/take3", "x", 1, false);
	tclient_expect_nothing(new, HARNESS_QUIET_MS);
	tclient_bye(pub);
	tclient_bye(new);
}

/* [session] max_inflight = 2: at most two unacknowledged QoS 1 messages
 * are outstanding; each PUBACK lets the next one go, in order. */
static void
test_session_inflight_window_limits_outstanding(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *c = tclient_new_sp(b, "win-sub", false, 0);
	struct tclient *pub = tclient_new(b, "win-pub", true, NULL);
	uint16_t id[6];

	tclient_sub(c, "win/t", 1, 1);
	publish_n(pub, "win/t", "w", 0, 6, 1);
	tclient_expect_publish(c, "win/t", "w0", 1, 0, 0, &id[0]);
	tclient_expect_publish(c, "win/t", "w1", 1, 0, 0, &id[1]);
	tclient_expect_nothing(c, HARNESS_QUIET_MS);
	if (harness_mosquitto()) {
		/*
		 * mosquitto 2.0.11 sends two messages for the first PUBACK
		 * (its in-flight quota bugs, fixed in 2.0.13): only the first
		 * half of the test holds against it.
		 */
		print_message("[  NOTE    ] mosquitto: window checked until "
		    "the first PUBACK only\n");
		tclient_close(pub);
		tclient_close(c);
		return;
	}
	assert_int_equal(tclient_puback(c, id[0]), 0);
	tclient_expect_publish(c, "win/t", "w2", 1, 0, 0, &id[2]);
	tclient_expect_nothing(c, HARNESS_QUIET_MS);
	assert_int_equal(tclient_puback(c, id[1]), 0);
	assert_int_equal(tclient_puback(c, id[2]), 0);
	tclient_expect_publish(c, "win/t", "w3", 1, 0, 0, &id[3]);
	tclient_expect_publish(c, "win/t", "w4", 1, 0, 0, &id[4]);
	tclient_expect_nothing(c, HARNESS_QUIET_MS);
	assert_int_equal(tclient_puback(c, id[3]), 0);
	assert_int_equal(tclient_puback(c, id[4]), 0);
	tclient_expect_publish(c, "win/t", "w5", 1, 0, 0, &id[5]);
	assert_int_equal(tclient_puback(c, id[5]), 0);
	tclient_expect_nothing(c, HARNESS_QUIET_MS);
	tclient_bye(pub);
	tclient_bye(c);
}

/* [session] max_queued_messages = 5: an offline session keeps at most
 * five messages; they arrive in order on reconnect. */
static void
test_session_offline_queue_bounded(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *c = tclient_new_sp(b, "queue-sub", false, 0);
	struct tclient *pub = tclient_new(b, "queue-pub", true, NULL);
	struct tpacket p;
	int n = 0, last = -1, i;
	int max = 5;

	tclient_sub(c, "queue/t", 1, 1);
	tclient_bye(c);
	/* Acknowledged or not, messages beyond the limit are dropped. */
	publish_n(pub, "queue/t", "", 0, 40, 1);
	c = tclient_new_sp(b, "queue-sub", false, 1);
	while (tclient_read_packet(c, &p, HARNESS_QUIET_MS * 2) == TREAD_OK) {
		assert_int_equal(p.type, MQTT_PUBLISH);
		/* 2 bytes of length, "queue/t", 2 bytes of id, then "<i>". */
		assert_true(p.len > 11);
		i = atoi((const char *)p.body + 11);
		assert_true(i > last);
		last = i;
		n++;
		assert_int_equal(tclient_puback(c, (uint16_t)(p.body[9] << 8 |
		    p.body[10])), 0);
		tpacket_free(&p);
	}
	/*
	 * mosquitto counts its in-flight window (20) apart from the queue,
	 * so it keeps max_inflight + max_queued_messages.
	 */
	if (n != max)
		fail_msg("%d messages kept for the offline session, expected %d",
		    n, max);
	tclient_bye(pub);
	tclient_bye(c);
}

/* [session] queue_qos0 = true: QoS 0 messages are queued for an offline
 * session too. */
static void
test_session_queue_qos0_option(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *c = tclient_new_sp(b, "q0-sub", false, 0);
	struct tclient *pub = tclient_new(b, "q0-pub", true, NULL);

	tclient_sub(c, "q0/t", 0, 0);
	tclient_bye(c);
	tclient_pub(pub, "q0/t", "kept", 0, false);
	tclient_sync(pub);
	c = tclient_new_sp(b, "q0-sub", false, 1);
	tclient_expect_publish(c, "q0/t", "kept", 0, 0, 0, NULL);
	tclient_bye(pub);
	tclient_bye(c);
}

/* retry_interval = 1: an unacknowledged PUBLISH is sent again while the
 * client stays connected, DUP=1 and the same id (DESIGN: -r). */
static void
test_session_retry_while_connected(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *c, *pub;
	uint16_t id, id2;

	harness_mqttd_only("no retries while connected in 2.0");
	c = tclient_new_sp(b, "retry-sub", false, 0);
	pub = tclient_new(b, "retry-pub", true, NULL);
	tclient_sub(c, "retry/t", 1, 1);
	tclient_pub(pub, "retry/t", "r", 1, false);
	tclient_expect_publish(c, "retry/t", "r", 1, 0, 0, &id);
	tclient_expect_nothing(c, 700);
	tclient_expect_publish(c, "retry/t", "r", 1, 0, 1, &id2);
	assert_int_equal(id2, id);
	assert_int_equal(tclient_puback(c, id), 0);
	tclient_expect_nothing(c, 1500);
	tclient_bye(pub);
	tclient_bye(c);
}

/* retry_interval = 1, max_retries = 2: two retries, then the broker gives
 * up and closes the connection (DESIGN: -m); the session keeps the
 * message for the next connection. */
static void
test_session_max_retries_then_close(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *c, *pub;
	uint16_t id, id2;
	int i;

	harness_mqttd_only("no max_retries option");
	c = tclient_new_sp(b, "maxretry-sub", false, 0);
	pub = tclient_new(b, "maxretry-pub", true, NULL);
	tclient_sub(c, "maxretry/t", 1, 1);
	tclient_pub(pub, "maxretry/t", "r", 1, false);
	tclient_expect_publish(c, "maxretry/t", "r", 1, 0, 0, &id);
	for (i = 0; i < 2; i++) {
		tclient_expect_publish(c, "maxretry/t", "r", 1, 0, 1, &id2);
		assert_int_equal(id2, id);
	}
	tclient_expect_closed(c);
	tclient_close(c);
	c = tclient_new_sp(b, "maxretry-sub", false, 1);
	tclient_expect_publish(c, "maxretry/t", "r", 1, 0, 1, &id2);
	assert_int_equal(id2, id);
	assert_int_equal(tclient_puback(c, id2), 0);
	tclient_bye(pub);
	tclient_bye(c);
}

/* A clean stop and restart keeps the session, its subscription and its
 * queued QoS 1 message. */
static void
test_session_survives_broker_restart(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *c = tclient_new_sp(b, "restart-sub", false, 0);
	struct tclient *pub = tclient_new(b, "restart-pub", true, NULL);
	uint16_t id;

	tclient_sub(c, "restart/t", 1, 1);
	tclient_bye(c);
	tclient_pub(pub, "restart/t", "stored", 1, false);
	tclient_close(pub);
	assert_int_equal(harness_broker_stop(b), 0);
	assert_int_equal(harness_broker_restart(b), 0);
	c = tclient_new_sp(b, "restart-sub", false, 1);
	tclient_expect_publish(c, "restart/t", "stored", 1, 0, -1, &id);
	tclient_ack_received(c, 1, id);
	pub = tclient_new(b, "restart-pub", true, NULL);
	tclient_pub(pub, "restart/t", "after", 1, false);
	tclient_expect_publish(c, "restart/t", "after", 1, 0, 0, &id);
	tclient_ack_received(c, 1, id);
	tclient_bye(pub);
	tclient_bye(c);
}

/* DESIGN "acknowledge after commit": a message the broker PUBACKed for an
 * offline session and one in flight both survive kill -9; the in-flight
 * one comes back with DUP and its id. */
static void
test_session_acknowledged_messages_survive_kill9(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *c, *pub;
	uint16_t id, id2;
	int st;

	harness_mqttd_only("persists only at shutdown or autosave");
	c = tclient_new_sp(b, "kill-sub", false, 0);
	pub = tclient_new(b, "kill-pub", true, NULL);
	tclient_sub(c, "kill/t", 1, 1);
	tclient_pub(pub, "kill/t", "inflight", 1, false);
	tclient_expect_publish(c, "kill/t", "inflight", 1, 0, 0, &id);
	tclient_close(c);
	tclient_pub(pub, "kill/t", "queued", 1, false);
	tclient_close(pub);
	st = harness_broker_kill(b, SIGKILL);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(harness_broker_restart(b), 0);
	c = tclient_new_sp(b, "kill-sub", false, 1);
	tclient_expect_publish(c, "kill/t", "inflight", 1, 0, 1, &id2);
	assert_int_equal(id2, id);
	assert_int_equal(tclient_puback(c, id2), 0);
	tclient_expect_publish(c, "kill/t", "queued", 1, 0, -1, &id);
	assert_int_equal(tclient_puback(c, id), 0);
	tclient_expect_nothing(c, HARNESS_QUIET_MS);
	tclient_bye(c);
}

#define OWN(f, ini) \
	cmocka_unit_test_prestate_setup_teardown(f, harness_setup_broker, \
	    harness_teardown_broker, ini)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_clean_connect_session_present_0),
		cmocka_unit_test(test_session_new_persistent_session_present_0),
		cmocka_unit_test(test_session_resumed_session_present_1),
		cmocka_unit_test(test_session_clean_connect_discards_subscriptions),
		cmocka_unit_test(test_session_clean_session_not_kept_after_disconnect),
		cmocka_unit_test(test_session_offline_messages_delivered_on_reconnect),
		cmocka_unit_test(test_session_qos0_not_queued_offline_by_default),
		cmocka_unit_test(test_session_order_kept_across_reconnect),
		cmocka_unit_test(test_session_unacked_publish_resent_with_dup),
		cmocka_unit_test(test_session_pubrel_resent_not_publish),
		cmocka_unit_test(test_session_resend_in_original_order),
		cmocka_unit_test(test_session_new_ids_avoid_resent_ones),
		cmocka_unit_test(test_session_inbound_qos2_survives_reconnect),
		cmocka_unit_test(test_session_takeover_closes_old_connection),
		cmocka_unit_test(test_session_takeover_keeps_subscriptions_and_inflight),
		cmocka_unit_test(test_session_takeover_with_clean_session_starts_afresh),
		OWN(test_session_inflight_window_limits_outstanding,
		    "[session]\nmax_inflight = 2\n"),
		OWN(test_session_offline_queue_bounded,
		    "[session]\nmax_queued_messages = 5\n"),
		OWN(test_session_queue_qos0_option,
		    "[session]\nqueue_qos0 = true\n"),
		OWN(test_session_retry_while_connected,
		    "[session]\nretry_interval = 1\n"),
		OWN(test_session_max_retries_then_close,
		    "[session]\nretry_interval = 1\nmax_retries = 2\n"),
		OWN(test_session_survives_broker_restart, NULL),
		OWN(test_session_acknowledged_messages_survive_kill9, NULL),
	};

	return harness_run_group_tests(tests, &broker, NULL);
}
