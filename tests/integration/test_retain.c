/*
 * test_retain.c: integration tests of retained messages: stored per
 * topic, replaced, cleared by an empty payload, sent on subscribe with
 * the RETAIN flag (wildcards included, '$' topics excluded), forwarded
 * to existing subscribers with RETAIN 0, kept across a restart.
 *
 * One broker for the file; every test uses topics of its own, since
 * retained messages outlive the test that made them.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

static struct harness_broker broker;

/* [MQTT-3.3.1-5] [MQTT-3.3.1-6] A retained message is sent to a later
 * subscriber, with RETAIN 1, after the SUBACK. */
static void
test_retain_sent_on_subscribe_with_flag(void **state)
{
	struct tclient *pub = tclient_new(&broker, "ret-basic-pub", true, NULL);
	struct tclient *sub;
	uint16_t id;

	(void)state;
	tclient_pub(pub, "ret/basic", "kept", 1, true);
	sub = tclient_new(&broker, "ret-basic-sub", true, NULL);
	tclient_sub(sub, "ret/basic", 1, 1);
	tclient_expect_publish(sub, "ret/basic", "kept", 1, 1, 0, &id);
	tclient_ack_received(sub, 1, id);
	tclient_expect_nothing(sub, HARNESS_QUIET_MS);
	tclient_bye(pub);
	tclient_bye(sub);
}

/* [MQTT-3.3.1-5] A newer retained message replaces the older one. */
static void
test_retain_newer_replaces_older(void **state)
{
	struct tclient *pub = tclient_new(&broker, "ret-repl-pub", true, NULL);
	struct tclient *sub;

	(void)state;
	tclient_pub(pub, "ret/replace", "old", 0, true);
	tclient_pub(pub, "ret/replace", "new", 1, true);
	sub = tclient_new(&broker, "ret-repl-sub", true, NULL);
	tclient_sub(sub, "ret/replace", 0, 0);
	tclient_expect_publish(sub, "ret/replace", "new", 0, 1, 0, NULL);
	tclient_expect_nothing(sub, HARNESS_QUIET_MS);
	tclient_bye(pub);
	tclient_bye(sub);
}

/* [MQTT-3.3.1-10] [MQTT-3.3.1-11] A retained PUBLISH with an empty payload
 * removes the retained message and is not stored itself. */
static void
test_retain_cleared_by_empty_payload(void **state)
{
	struct tclient *pub = tclient_new(&broker, "ret-clear-pub", true, NULL);
	struct tclient *sub;

	(void)state;
	tclient_pub(pub, "ret/clear", "soon gone", 1, true);
	tclient_pub(pub, "ret/clear", "", 1, true);
	sub = tclient_new(&broker, "ret-clear-sub", true, NULL);
	tclient_sub(sub, "ret/clear", 1, 1);
	tclient_expect_nothing(sub, HARNESS_QUIET_MS);
	tclient_bye(pub);
	tclient_bye(sub);
}

/* [MQTT-3.3.1-10] [MQTT-3.3.1-9] The clearing message itself goes to
 * existing subscribers as a normal message: empty payload, RETAIN 0. */
static void
test_retain_clearing_message_forwarded_to_subscribers(void **state)
{
	struct tclient *pub = tclient_new(&broker, "ret-clf-pub", true, NULL);
	struct tclient *sub = tclient_new(&broker, "ret-clf-sub", true, NULL);

	(void)state;
	tclient_sub(sub, "ret/clearfwd", 0, 0);
	tclient_pub(pub, "ret/clearfwd", "", 0, true);
	tclient_expect_publish(sub, "ret/clearfwd", "", 0, 0, 0, NULL);
	tclient_bye(pub);
	tclient_bye(sub);
}

/* [MQTT-3.3.1-9] A retained PUBLISH forwarded to a subscription that
 * existed already carries RETAIN 0. */
static void
test_retain_flag_cleared_for_existing_subscribers(void **state)
{
	struct tclient *pub = tclient_new(&broker, "ret-live-pub", true, NULL);
	struct tclient *sub = tclient_new(&broker, "ret-live-sub", true, NULL);
	uint16_t id;

	(void)state;
	tclient_sub(sub, "ret/live", 1, 1);
	tclient_pub(pub, "ret/live", "now", 1, true);
	tclient_expect_publish(sub, "ret/live", "now", 1, 0, 0, &id);
	tclient_ack_received(sub, 1, id);
	tclient_bye(pub);
	tclient_bye(sub);
}

/* [MQTT-3.3.1-8] A PUBLISH with RETAIN 0 neither stores nor replaces the
 * retained message of its topic. */
static void
test_retain_non_retained_publish_leaves_retained(void **state)
{
	struct tclient *pub = tclient_new(&broker, "ret-keep-pub", true, NULL);
	struct tclient *sub;

	(void)state;
	tclient_pub(pub, "ret/keep", "retained", 0, true);
	tclient_pub(pub, "ret/keep", "plain", 1, false);
	tclient_pub(pub, "ret/keep2", "plain", 1, false);
	sub = tclient_new(&broker, "ret-keep-sub", true, NULL);
	tclient_sub(sub, "ret/keep", 0, 0);
	tclient_expect_publish(sub, "ret/keep", "retained", 0, 1, 0, NULL);
	tclient_sub(sub, "ret/keep2", 0, 0);
	tclient_expect_nothing(sub, HARNESS_QUIET_MS);
	tclient_bye(pub);
	tclient_bye(sub);
}

/* [MQTT-3.3.1-6] [MQTT-4.7.1-2] [MQTT-4.7.1-3] A wildcard subscription
 * gets every matching retained message (in no particular order), and
 * only those. */
static void
test_retain_wildcard_subscription_gets_all_matching(void **state)
{
	static const char *topics[3] = {
		"ret/wild/a", "ret/wild/b", "ret/wild/c/deep"
	};
	struct tclient *pub = tclient_new(&broker, "ret-wild-pub", true, NULL);
	struct tclient *sub;
	bool seen[3] = { false, false, false };
	struct tpacket p;
	size_t tlen;
	int i, k;

	(void)state;
	for (i = 0; i < 3; i++)
		tclient_pub(pub, topics[i], topics[i], 0, true);
	tclient_pub(pub, "ret/wildx", "no", 0, true);
	sub = tclient_new(&broker, "ret-wild-sub", true, NULL);
	tclient_sub(sub, "ret/wild/+", 0, 0);
	for (k = 0; k < 2; k++) {
		assert_int_equal(tclient_read_packet(sub, &p,
		    HARNESS_TIMEOUT_MS), TREAD_OK);
		assert_int_equal(p.type, MQTT_PUBLISH);
		assert_int_equal(p.flags, 0x01);	/* QoS 0, RETAIN */
		tlen = (size_t)(p.body[0] << 8 | p.body[1]);
		for (i = 0; i < 2; i++)
			if (tlen == strlen(topics[i]) &&
			    memcmp(p.body + 2, topics[i], tlen) == 0)
				break;
		assert_true(i < 2);
		assert_false(seen[i]);
		seen[i] = true;
		tpacket_free(&p);
	}
	tclient_expect_nothing(sub, HARNESS_QUIET_MS);
	tclient_sub(sub, "ret/wild/c/#", 0, 0);
	tclient_expect_publish(sub, "ret/wild/c/deep", "ret/wild/c/deep", 0, 1,
	    0, NULL);
	tclient_bye(pub);
	tclient_bye(sub);
}

/* [MQTT-3.3.1-6] [MQTT-3.8.4-6] A retained message is sent at the lower
 * of its own QoS and the subscription's. */
static void
test_retain_delivered_at_minimum_qos(void **state)
{
	struct tclient *pub = tclient_new(&broker, "ret-qos-pub", true, NULL);
	struct tclient *sub;
	uint16_t id;

	(void)state;
	tclient_pub(pub, "ret/qos2", "two", 2, true);
	tclient_pub(pub, "ret/qos0", "zero", 0, true);
	sub = tclient_new(&broker, "ret-qos-sub", true, NULL);
	tclient_sub(sub, "ret/qos2", 1, 1);
	tclient_expect_publish(sub, "ret/qos2", "two", 1, 1, 0, &id);
	tclient_ack_received(sub, 1, id);
	/* [MQTT-3.3.1-7] The QoS 0 retained message was stored too. */
	tclient_sub(sub, "ret/qos0", 2, 2);
	tclient_expect_publish(sub, "ret/qos0", "zero", 0, 1, 0, NULL);
	tclient_bye(pub);
	tclient_bye(sub);
}

/* [MQTT-3.8.4-3] Subscribing again to the same filter resends the
 * retained messages. */
static void
test_retain_resubscribe_sends_again(void **state)
{
	struct tclient *pub = tclient_new(&broker, "ret-resub-pub", true, NULL);
	struct tclient *sub;

	(void)state;
	tclient_pub(pub, "ret/resub", "again", 0, true);
	sub = tclient_new(&broker, "ret-resub-sub", true, NULL);
	tclient_sub(sub, "ret/resub", 0, 0);
	tclient_expect_publish(sub, "ret/resub", "again", 0, 1, 0, NULL);
	tclient_sub(sub, "ret/resub", 0, 0);
	tclient_expect_publish(sub, "ret/resub", "again", 0, 1, 0, NULL);
	tclient_bye(pub);
	tclient_bye(sub);
}

/* [MQTT-4.7.2-1] A retained message on a '$' topic is not sent to a
 * subscription whose first level is a wildcard, but is to "$..." ones. */
static void
test_retain_dollar_topic_not_matched_by_wildcards(void **state)
{
	struct tclient *pub = tclient_new(&broker, "ret-dollar-pub", true,
	    NULL);
	struct tclient *sub;

	(void)state;
	tclient_pub(pub, "$rtest/rdollar", "hidden", 0, true);
	sub = tclient_new(&broker, "ret-dollar-sub", true, NULL);
	tclient_sub(sub, "+/rdollar", 0, 0);
	tclient_expect_nothing(sub, HARNESS_QUIET_MS);
	tclient_sub(sub, "$rtest/+", 0, 0);
	tclient_expect_publish(sub, "$rtest/rdollar", "hidden", 0, 1, 0, NULL);
	tclient_bye(pub);
	tclient_bye(sub);
}

/* Retained messages outlive a restart (clean stop). */
static void
test_retain_survives_restart(void **state)
{
	struct tclient *pub = tclient_new(&broker, "ret-restart-pub", true,
	    NULL);
	struct tclient *sub;
	uint16_t id;

	(void)state;
	tclient_pub(pub, "ret/restart", "durable", 1, true);
	tclient_bye(pub);
	assert_int_equal(harness_broker_stop(&broker), 0);
	assert_int_equal(harness_broker_restart(&broker), 0);
	sub = tclient_new(&broker, "ret-restart-sub", true, NULL);
	tclient_sub(sub, "ret/restart", 1, 1);
	tclient_expect_publish(sub, "ret/restart", "durable", 1, 1, 0, &id);
	tclient_ack_received(sub, 1, id);
	tclient_bye(sub);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retain_sent_on_subscribe_with_flag),
		cmocka_unit_test(test_retain_newer_replaces_older),
		cmocka_unit_test(test_retain_cleared_by_empty_payload),
		cmocka_unit_test(test_retain_clearing_message_forwarded_to_subscribers),
		cmocka_unit_test(test_retain_flag_cleared_for_existing_subscribers),
		cmocka_unit_test(test_retain_non_retained_publish_leaves_retained),
		cmocka_unit_test(test_retain_wildcard_subscription_gets_all_matching),
		cmocka_unit_test(test_retain_delivered_at_minimum_qos),
		cmocka_unit_test(test_retain_resubscribe_sends_again),
		cmocka_unit_test(test_retain_dollar_topic_not_matched_by_wildcards),
		cmocka_unit_test(test_retain_survives_restart),
	};

	return harness_run_group_tests(tests, &broker, NULL);
}
