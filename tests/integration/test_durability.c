/*
 * test_durability.c: the proof of "what it acknowledged, it never loses"
 * at each crash point of the MQTT flows (DESIGN.md, "The durability
 * contract").
 *
 * Each test drives a flow to one point, takes what the client received
 * there as the event that the broker got that far (an acknowledgement is
 * only sent after its commit, contract 1), kills mqttd with SIGKILL,
 * starts it again on the same port and database, reconnects, and asserts
 * what MQTT 3.1.1 promises from there: QoS 1 at least once, QoS 2 exactly
 * once, subscriptions and retained messages intact, session present 1,
 * unacknowledged packets resent with their original ids [MQTT-4.4.0-1].
 *
 * Every test has a broker of its own with [storage] sync = normal: a
 * process crash keeps the OS page cache, so that is the level whose
 * promise kill -9 checks (full adds the fsync a power cut needs).
 *
 * The last test checks the other half of contract 4: traffic no
 * persistent session or retained entry needs makes no SQL at all.
 */
#include <sys/wait.h>

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

/* ===== Set-up and helpers ===== */

/* Each test's own broker commits with [storage] sync = normal. */
static const struct harness_opts synced_opts = { .sync = "normal" };

/*
 * The crash: SIGKILL, the exit awaited with waitpid, then mqttd started
 * again on the same port, configuration and database. The clients'
 * sockets are closed first, as a crash leaves them.
 */
static void
crash_and_restart(struct harness_broker *b, struct tclient **clients,
    size_t n)
{
	size_t i;
	int st;

	for (i = 0; i < n; i++) {
		tclient_close(clients[i]);
		clients[i] = NULL;
	}
	st = harness_broker_kill(b, SIGKILL);
	if (st == -1 || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		fail_msg("mqttd did not die of SIGKILL (status 0x%x)", st);
	if (harness_broker_restart(b) != 0)
		fail_msg("mqttd did not start again on its database");
}

/*
 * For ms: no PUBLISH may arrive. A PUBREL may (the broker may not have
 * committed a PUBCOMP it received before the crash, and resends the
 * PUBREL of that flow [MQTT-4.4.0-1]); it is answered with PUBCOMP.
 */
static void
expect_no_publish(struct tclient *c, int ms)
{
	struct tpacket p;
	char desc[256];
	uint16_t id;

	for (;;) {
		switch (tclient_read_packet(c, &p, ms)) {
		case TREAD_TIMEOUT:
			return;
		case TREAD_CLOSED:
			fail_msg("%s: expected nothing, the broker closed",
			    c->name);
			break;
		case TREAD_ERROR:
			fail_msg("%s: read error", c->name);
			break;
		case TREAD_OK:
			break;
		}
		tpacket_describe(&p, desc, sizeof(desc));
		if (p.type != MQTT_PUBREL || p.len != 2) {
			tpacket_free(&p);
			fail_msg("%s: expected no further message, got %s",
			    c->name, desc);
		}
		id = (uint16_t)((p.body[0] << 8) | p.body[1]);
		tpacket_free(&p);
		assert_int_equal(tclient_pubcomp(c, id), 0);
	}
}

/* One message a subscriber expects, for receive_in_order(). */
struct want {
	const char	*topic;
	const char	*payload;
	int		 qos;
};

/*
 * Receives the n messages of want in this order, each once with DUP 0,
 * and completes each flow as it goes. The broker may send the next
 * PUBLISH before the PUBREL of the last one (its in-flight window), so
 * PUBLISH and PUBREL are taken as they come.
 */
static void
receive_in_order(struct tclient *c, const struct want *want, size_t n)
{
	struct tpublish pub;
	struct tpacket p;
	char desc[256];
	size_t next = 0, open_flows = 0;
	int id;

	while (next < n || open_flows > 0) {
		if (tclient_read_packet(c, &p, HARNESS_TIMEOUT_MS) != TREAD_OK)
			fail_msg("%s: waiting for message %zu of %zu ('%s'), "
			    "nothing came", c->name, next + 1, n,
			    next < n ? want[next].payload : "PUBREL");
		tpacket_describe(&p, desc, sizeof(desc));
		if (p.type == MQTT_PUBREL && p.flags == 2 &&
		    (id = tpacket_ack_id(&p)) > 0 && open_flows > 0) {
			open_flows--;
			assert_int_equal(tclient_pubcomp(c, (uint16_t)id), 0);
		} else if (tpacket_publish(&p, &pub) == 0 && next < n &&
		    pub.topic_len == strlen(want[next].topic) &&
		    memcmp(pub.topic, want[next].topic, pub.topic_len) == 0 &&
		    pub.payload_len == strlen(want[next].payload) &&
		    memcmp(pub.payload, want[next].payload,
		    pub.payload_len) == 0 && pub.qos == want[next].qos &&
		    !pub.dup && !pub.retain) {
			if (pub.qos == 1)
				assert_int_equal(tclient_puback(c, pub.id), 0);
			else if (pub.qos == 2) {
				assert_int_equal(tclient_pubrec(c, pub.id), 0);
				open_flows++;
			}
			next++;
		} else {
			tpacket_free(&p);
			fail_msg("%s: expected PUBLISH qos=%d dup=0 topic='%s' "
			    "payload='%s' (message %zu of %zu), got %s",
			    c->name, next < n ? want[next].qos : -1,
			    next < n ? want[next].topic : "",
			    next < n ? want[next].payload : "", next + 1, n,
			    desc);
		}
		tpacket_free(&p);
	}
}

/* Sends PUBLISH QoS 2 and expects its PUBREC; returns the packet id. */
static uint16_t
publish_qos2_until_pubrec(struct tclient *c, const char *topic,
    const char *payload, bool retain)
{
	uint16_t id = tclient_next_id(c);

	assert_int_equal(tclient_publish_str(c, topic, payload, 2, retain, id),
	    0);
	tclient_expect_ack(c, MQTT_PUBREC, id);
	return id;
}

/* ===== QoS 1 ===== */

/* DESIGN contract 1 [MQTT-3.1.2-5] [MQTT-4.3.2-2]: a QoS 1 message PUBACKed
 * for an offline persistent session is in the database: after kill -9 the
 * session is present and the message is delivered, DUP 0 since it was
 * never sent [MQTT-3.3.1-1]. */
static void
test_durability_qos1_puback_then_kill_offline_subscriber(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *cl[2];
	uint16_t id;

	cl[0] = tclient_new_sp(b, "d1-sub", false, 0);
	tclient_sub(cl[0], "d1/t", 1, 1);
	tclient_bye(cl[0]);
	cl[0] = tclient_new_sp(b, "d1-pub", false, 0);
	tclient_pub(cl[0], "d1/t", "acked", 1, false);	/* PUBACK came */
	crash_and_restart(b, cl, 1);

	cl[0] = tclient_new_sp(b, "d1-sub", false, 1);
	tclient_expect_publish(cl[0], "d1/t", "acked", 1, 0, 0, &id);
	assert_int_equal(tclient_puback(cl[0], id), 0);
	tclient_expect_nothing(cl[0], HARNESS_QUIET_MS);
	tclient_bye(cl[0]);
}

/* [MQTT-4.4.0-1] [MQTT-3.3.1-1] DESIGN contract 8: a QoS 1 message in
 * flight to a subscriber when mqttd dies is resent after the restart with
 * DUP 1 and its original packet id; and again, unchanged, after a second
 * crash before the subscriber acknowledged it. */
static void
test_durability_qos1_inflight_resent_dup_same_id_across_two_kills(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *cl[2];
	uint16_t id, id2;

	cl[0] = tclient_new_sp(b, "d2-sub", false, 0);
	tclient_sub(cl[0], "d2/t", 1, 1);
	cl[1] = tclient_new_sp(b, "d2-pub", false, 0);
	tclient_pub(cl[1], "d2/t", "inflight", 1, false);
	tclient_expect_publish(cl[0], "d2/t", "inflight", 1, 0, 0, &id);
	crash_and_restart(b, cl, 2);		/* no PUBACK from d2-sub */

	cl[0] = tclient_new_sp(b, "d2-sub", false, 1);
	tclient_expect_publish(cl[0], "d2/t", "inflight", 1, 0, 1, &id2);
	assert_int_equal(id2, id);
	crash_and_restart(b, cl, 1);		/* still no PUBACK */

	cl[0] = tclient_new_sp(b, "d2-sub", false, 1);
	tclient_expect_publish(cl[0], "d2/t", "inflight", 1, 0, 1, &id2);
	assert_int_equal(id2, id);
	assert_int_equal(tclient_puback(cl[0], id2), 0);
	tclient_expect_nothing(cl[0], HARNESS_QUIET_MS);
	tclient_bye(cl[0]);
}

/* ===== QoS 2, the broker receiving ===== */

/* DESIGN contract 2 [MQTT-4.3.3-2]: the publisher got PUBREC, then mqttd
 * died. The subscriber had received and completed the message. After the
 * restart the publisher's resent PUBLISH (DUP 1, same id) gets PUBREC but
 * is not delivered again; its PUBREL gets PUBCOMP. */
static void
test_durability_qos2_in_pubrec_then_kill_resent_publish_not_redelivered(
    void **state)
{
	struct harness_broker *b = *state;
	struct tclient *cl[2];
	uint16_t pid, sid;

	cl[0] = tclient_new_sp(b, "d3-sub", false, 0);
	tclient_sub(cl[0], "d3/t", 2, 2);
	cl[1] = tclient_new_sp(b, "d3-pub", false, 0);
	pid = publish_qos2_until_pubrec(cl[1], "d3/t", "once", false);
	tclient_expect_publish(cl[0], "d3/t", "once", 2, 0, 0, &sid);
	tclient_ack_received(cl[0], 2, sid);
	tclient_sync(cl[0]);
	crash_and_restart(b, cl, 2);

	cl[0] = tclient_new_sp(b, "d3-sub", false, 1);
	cl[1] = tclient_new_sp(b, "d3-pub", false, 1);
	assert_int_equal(tclient_publish(cl[1], "d3/t", "once", 4, 2, false,
	    true, pid), 0);
	tclient_expect_ack(cl[1], MQTT_PUBREC, pid);
	expect_no_publish(cl[0], HARNESS_QUIET_MS);
	assert_int_equal(tclient_pubrel(cl[1], pid), 0);
	tclient_expect_ack(cl[1], MQTT_PUBCOMP, pid);
	expect_no_publish(cl[0], HARNESS_QUIET_MS);
	tclient_bye(cl[1]);
	tclient_bye(cl[0]);
}

/* DESIGN contract 2 [MQTT-4.3.3-2] [MQTT-3.1.2-5]: the same crash point
 * with the subscriber offline: the message queued for it before the PUBREC
 * is kept, and the publisher's resent PUBLISH does not queue a second
 * copy: the subscriber gets it exactly once. */
static void
test_durability_qos2_in_pubrec_then_kill_offline_subscriber_once(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *cl[2];
	uint16_t pid, sid;

	cl[0] = tclient_new_sp(b, "d4-sub", false, 0);
	tclient_sub(cl[0], "d4/t", 2, 2);
	tclient_bye(cl[0]);
	cl[0] = tclient_new_sp(b, "d4-pub", false, 0);
	pid = publish_qos2_until_pubrec(cl[0], "d4/t", "once", false);
	crash_and_restart(b, cl, 1);

	cl[0] = tclient_new_sp(b, "d4-pub", false, 1);
	assert_int_equal(tclient_publish(cl[0], "d4/t", "once", 4, 2, false,
	    true, pid), 0);
	tclient_expect_ack(cl[0], MQTT_PUBREC, pid);
	assert_int_equal(tclient_pubrel(cl[0], pid), 0);
	tclient_expect_ack(cl[0], MQTT_PUBCOMP, pid);
	tclient_bye(cl[0]);

	cl[0] = tclient_new_sp(b, "d4-sub", false, 1);
	tclient_expect_publish(cl[0], "d4/t", "once", 2, 0, 0, &sid);
	tclient_ack_received(cl[0], 2, sid);
	expect_no_publish(cl[0], HARNESS_QUIET_MS);
	tclient_bye(cl[0]);
}

/* [MQTT-4.4.0-1] [MQTT-4.3.3-2]: the publisher got PUBREC, mqttd died, and
 * the publisher carries on as the spec says, with PUBREL (not the
 * PUBLISH) after reconnecting: PUBCOMP, and the online subscriber has the
 * message exactly once. */
static void
test_durability_qos2_in_pubrec_then_kill_pubrel_completes(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *cl[2];
	uint16_t pid, sid;

	cl[0] = tclient_new_sp(b, "d5-sub", false, 0);
	tclient_sub(cl[0], "d5/t", 2, 2);
	cl[1] = tclient_new_sp(b, "d5-pub", false, 0);
	pid = publish_qos2_until_pubrec(cl[1], "d5/t", "once", false);
	/* The subscriber sees it, PUBRECs, and the crash comes before the
	 * rest of its flow. */
	tclient_expect_publish(cl[0], "d5/t", "once", 2, 0, 0, &sid);
	assert_int_equal(tclient_pubrec(cl[0], sid), 0);
	tclient_expect_ack(cl[0], MQTT_PUBREL, sid);
	crash_and_restart(b, cl, 2);

	cl[1] = tclient_new_sp(b, "d5-pub", false, 1);
	assert_int_equal(tclient_pubrel(cl[1], pid), 0);
	tclient_expect_ack(cl[1], MQTT_PUBCOMP, pid);
	/* DESIGN contract 3: the broker's side of the outgoing flow resumes
	 * at PUBREL, never with the PUBLISH again. */
	cl[0] = tclient_new_sp(b, "d5-sub", false, 1);
	tclient_expect_ack(cl[0], MQTT_PUBREL, sid);
	assert_int_equal(tclient_pubcomp(cl[0], sid), 0);
	expect_no_publish(cl[0], HARNESS_QUIET_MS);
	tclient_bye(cl[1]);
	tclient_bye(cl[0]);
}

/* [MQTT-4.3.3-2] [MQTT-4.4.0-1]: the publisher sent PUBREL and mqttd was
 * killed at once, before (or while) answering PUBCOMP. Whichever state the
 * database holds, the publisher's resent PUBREL gets PUBCOMP and the
 * subscriber gets the message exactly once. */
static void
test_durability_qos2_in_pubrel_sent_then_kill(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *cl[2];
	uint16_t pid, sid;

	cl[0] = tclient_new_sp(b, "d6-sub", false, 0);
	tclient_sub(cl[0], "d6/t", 2, 2);
	tclient_bye(cl[0]);
	cl[0] = tclient_new_sp(b, "d6-pub", false, 0);
	pid = publish_qos2_until_pubrec(cl[0], "d6/t", "once", false);
	assert_int_equal(tclient_pubrel(cl[0], pid), 0);
	crash_and_restart(b, cl, 1);		/* no wait for PUBCOMP */

	cl[0] = tclient_new_sp(b, "d6-pub", false, 1);
	assert_int_equal(tclient_pubrel(cl[0], pid), 0);
	tclient_expect_ack(cl[0], MQTT_PUBCOMP, pid);
	tclient_bye(cl[0]);
	cl[0] = tclient_new_sp(b, "d6-sub", false, 1);
	tclient_expect_publish(cl[0], "d6/t", "once", 2, 0, 0, &sid);
	tclient_ack_received(cl[0], 2, sid);
	expect_no_publish(cl[0], HARNESS_QUIET_MS);
	tclient_bye(cl[0]);
}

/* [MQTT-4.3.3-2] "After it has sent a PUBCOMP, the receiver MUST treat
 * any subsequent PUBLISH packet that contains that Packet Identifier as
 * being a new publication": PUBCOMP came, mqttd died, and after the
 * restart a repeated PUBREL still gets PUBCOMP, while a new QoS 2 PUBLISH
 * reusing the id is delivered (the released id was not restored). */
static void
test_durability_qos2_in_pubcomp_then_kill_id_is_free(void **state)
{
	static const struct want want[] = {
		{ "d7/t", "first", 2 }, { "d7/t", "second", 2 },
	};
	struct harness_broker *b = *state;
	struct tclient *cl[2];
	uint16_t pid;

	cl[0] = tclient_new_sp(b, "d7-sub", false, 0);
	tclient_sub(cl[0], "d7/t", 2, 2);
	tclient_bye(cl[0]);
	cl[0] = tclient_new_sp(b, "d7-pub", false, 0);
	pid = publish_qos2_until_pubrec(cl[0], "d7/t", "first", false);
	assert_int_equal(tclient_pubrel(cl[0], pid), 0);
	tclient_expect_ack(cl[0], MQTT_PUBCOMP, pid);
	crash_and_restart(b, cl, 1);

	cl[0] = tclient_new_sp(b, "d7-pub", false, 1);
	assert_int_equal(tclient_pubrel(cl[0], pid), 0);
	tclient_expect_ack(cl[0], MQTT_PUBCOMP, pid);
	assert_int_equal(tclient_publish(cl[0], "d7/t", "second", 6, 2, false,
	    false, pid), 0);
	tclient_expect_ack(cl[0], MQTT_PUBREC, pid);
	assert_int_equal(tclient_pubrel(cl[0], pid), 0);
	tclient_expect_ack(cl[0], MQTT_PUBCOMP, pid);
	tclient_bye(cl[0]);

	cl[0] = tclient_new_sp(b, "d7-sub", false, 1);
	receive_in_order(cl[0], want, 2);
	expect_no_publish(cl[0], HARNESS_QUIET_MS);
	tclient_bye(cl[0]);
}

/* ===== QoS 2, the broker sending ===== */

/* [MQTT-4.4.0-1] [MQTT-3.3.1-1]: a QoS 2 PUBLISH the subscriber received
 * but had not answered when mqttd died is resent with DUP 1, its id and
 * its payload; the flow then completes once. */
static void
test_durability_qos2_out_publish_sent_then_kill(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *cl[2];
	uint16_t id, id2;

	cl[0] = tclient_new_sp(b, "d8-sub", false, 0);
	tclient_sub(cl[0], "d8/t", 2, 2);
	cl[1] = tclient_new_sp(b, "d8-pub", false, 0);
	tclient_pub(cl[1], "d8/t", "x", 2, false);
	tclient_expect_publish(cl[0], "d8/t", "x", 2, 0, 0, &id);
	crash_and_restart(b, cl, 2);		/* no PUBREC */

	cl[0] = tclient_new_sp(b, "d8-sub", false, 1);
	tclient_expect_publish(cl[0], "d8/t", "x", 2, 0, 1, &id2);
	assert_int_equal(id2, id);
	tclient_ack_received(cl[0], 2, id2);
	expect_no_publish(cl[0], HARNESS_QUIET_MS);
	tclient_bye(cl[0]);
}

/* DESIGN contract 3 [MQTT-4.3.3-1] [MQTT-4.4.0-1]: the subscriber received
 * the broker's PUBREL (so "pubrel pending" was committed) and mqttd died
 * before PUBCOMP. After the restart the broker resends PUBREL with the same
 * id, never the PUBLISH. */
static void
test_durability_qos2_out_pubrel_received_then_kill(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *cl[2];
	uint16_t id;

	cl[0] = tclient_new_sp(b, "d9-sub", false, 0);
	tclient_sub(cl[0], "d9/t", 2, 2);
	cl[1] = tclient_new_sp(b, "d9-pub", false, 0);
	tclient_pub(cl[1], "d9/t", "x", 2, false);
	tclient_expect_publish(cl[0], "d9/t", "x", 2, 0, 0, &id);
	assert_int_equal(tclient_pubrec(cl[0], id), 0);
	tclient_expect_ack(cl[0], MQTT_PUBREL, id);
	crash_and_restart(b, cl, 2);		/* no PUBCOMP */

	cl[0] = tclient_new_sp(b, "d9-sub", false, 1);
	tclient_expect_ack(cl[0], MQTT_PUBREL, id);
	assert_int_equal(tclient_pubcomp(cl[0], id), 0);
	expect_no_publish(cl[0], HARNESS_QUIET_MS);
	tclient_bye(cl[0]);
}

/* [MQTT-4.3.3-2] [MQTT-4.4.0-1] DESIGN contract 3: the subscriber sent
 * PUBREC and mqttd was killed at once, before or after committing "pubrel
 * pending". Either the PUBLISH comes again (DUP 1, same id: the receiver
 * still holds the id and answers PUBREC without delivering twice) or the
 * PUBREL does; the flow then ends, once. */
static void
test_durability_qos2_out_pubrec_sent_then_kill(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *cl[2];
	struct tpublish pub;
	struct tpacket p;
	char desc[256];
	uint16_t id;

	cl[0] = tclient_new_sp(b, "d10-sub", false, 0);
	tclient_sub(cl[0], "d10/t", 2, 2);
	cl[1] = tclient_new_sp(b, "d10-pub", false, 0);
	tclient_pub(cl[1], "d10/t", "x", 2, false);
	tclient_expect_publish(cl[0], "d10/t", "x", 2, 0, 0, &id);
	assert_int_equal(tclient_pubrec(cl[0], id), 0);
	crash_and_restart(b, cl, 2);		/* PUBREL not awaited */

	cl[0] = tclient_new_sp(b, "d10-sub", false, 1);
	if (tclient_read_packet(cl[0], &p, HARNESS_TIMEOUT_MS) != TREAD_OK)
		fail_msg("d10-sub: expected PUBLISH dup=1 or PUBREL id=%u", id);
	tpacket_describe(&p, desc, sizeof(desc));
	if (tpacket_publish(&p, &pub) == 0 && pub.qos == 2 && pub.dup &&
	    pub.id == id && pub.payload_len == 1 && pub.payload[0] == 'x') {
		/* Still held by the receiver: PUBREC, not a delivery. */
		assert_int_equal(tclient_pubrec(cl[0], id), 0);
		tclient_expect_ack(cl[0], MQTT_PUBREL, id);
	} else if (p.type != MQTT_PUBREL || p.flags != 2 ||
	    tpacket_ack_id(&p) != id) {
		tpacket_free(&p);
		fail_msg("d10-sub: expected PUBLISH dup=1 or PUBREL id=%u, "
		    "got %s", id, desc);
	}
	tpacket_free(&p);
	assert_int_equal(tclient_pubcomp(cl[0], id), 0);
	expect_no_publish(cl[0], HARNESS_QUIET_MS);
	tclient_bye(cl[0]);
}

/* ===== Offline queue ===== */

/* [MQTT-3.1.2-5] [MQTT-4.6.0-6] DESIGN contracts 1 and 8: QoS 1 and 2
 * messages acknowledged while the subscriber was offline are all
 * delivered after kill -9, in publish order, each once, DUP 0. */
static void
test_durability_offline_queue_survives_kill(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *cl[2];
	char payload[30][16];
	struct want want[30];
	int i;

	cl[0] = tclient_new_sp(b, "d11-sub", false, 0);
	tclient_sub(cl[0], "d11/#", 2, 2);
	tclient_bye(cl[0]);
	cl[0] = tclient_new_sp(b, "d11-pub", false, 0);
	for (i = 0; i < 30; i++) {
		snprintf(payload[i], sizeof(payload[i]), "m%d", i);
		want[i].topic = "d11/t";
		want[i].payload = payload[i];
		want[i].qos = 1 + i % 2;
		tclient_pub(cl[0], "d11/t", payload[i], want[i].qos, false);
	}
	crash_and_restart(b, cl, 1);

	cl[0] = tclient_new_sp(b, "d11-sub", false, 1);
	receive_in_order(cl[0], want, 30);
	expect_no_publish(cl[0], HARNESS_QUIET_MS);
	tclient_bye(cl[0]);
}

/* ===== Sessions and subscriptions ===== */

/* DESIGN contract 1 [MQTT-3.2.2-2]: a CONNACK to a new persistent session
 * means the session is stored: killed right after it, mqttd answers the
 * next CONNECT with session present 1. */
static void
test_durability_session_present_after_connack_then_kill(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *cl[1];

	cl[0] = tclient_new_sp(b, "d12", false, 0);
	crash_and_restart(b, cl, 1);
	cl[0] = tclient_new_sp(b, "d12", false, 1);
	tclient_bye(cl[0]);
}

/* DESIGN contract 1 [MQTT-3.8.4-1] [MQTT-3.1.2-5]: killed right after the
 * SUBACK, mqttd restores the subscription at start-up: a message published
 * before the subscriber is back is queued for it, and one published
 * while it is connected is sent at once, at the granted QoS. */
static void
test_durability_subscription_after_suback_then_kill(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *cl[2];
	uint16_t id;

	cl[0] = tclient_new_sp(b, "d13-sub", false, 0);
	tclient_sub(cl[0], "d13/+", 2, 2);
	crash_and_restart(b, cl, 1);

	cl[0] = tclient_new_sp(b, "d13-pub", true, 0);
	tclient_pub(cl[0], "d13/a", "while-offline", 2, false);
	cl[1] = tclient_new_sp(b, "d13-sub", false, 1);
	tclient_expect_publish(cl[1], "d13/a", "while-offline", 2, 0, 0, &id);
	tclient_ack_received(cl[1], 2, id);
	tclient_pub(cl[0], "d13/b", "online", 1, false);
	tclient_expect_publish(cl[1], "d13/b", "online", 1, 0, 0, &id);
	tclient_ack_received(cl[1], 1, id);
	expect_no_publish(cl[1], HARNESS_QUIET_MS);
	tclient_bye(cl[0]);
	tclient_bye(cl[1]);
}

/* DESIGN contract 1 [MQTT-3.10.4-2]: the UNSUBACK of a persistent session
 * is sent after the removal is committed: killed right after it, mqttd
 * does not bring the subscription back. */
static void
test_durability_unsubscribe_after_unsuback_then_kill(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *cl[2];

	cl[0] = tclient_new_sp(b, "d14-sub", false, 0);
	tclient_sub(cl[0], "d14/t", 1, 1);
	tclient_sub(cl[0], "d14/kept", 1, 1);
	tclient_unsub(cl[0], "d14/t");
	crash_and_restart(b, cl, 1);

	cl[0] = tclient_new_sp(b, "d14-pub", true, 0);
	tclient_pub(cl[0], "d14/t", "unwanted", 1, false);
	tclient_pub(cl[0], "d14/kept", "wanted", 1, false);
	cl[1] = tclient_new_sp(b, "d14-sub", false, 1);
	tclient_expect_publish(cl[1], "d14/kept", "wanted", 1, 0, 0, NULL);
	tclient_expect_nothing(cl[1], HARNESS_QUIET_MS);
	tclient_bye(cl[0]);
	tclient_bye(cl[1]);
}

/* ===== Retained messages ===== */

/* DESIGN contract 1 [MQTT-3.3.1-5] [MQTT-3.3.1-6]: a retained message set
 * with QoS 1 (PUBACK) or QoS 2 (PUBREC), or replaced, is in the database
 * when the acknowledgement arrives: after kill -9 a new subscription gets
 * each topic's latest retained message, RETAIN 1, at its stored QoS. */
static void
test_durability_retained_set_then_kill(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *cl[1];
	uint16_t id;

	cl[0] = tclient_new_sp(b, "d15-pub", true, 0);
	tclient_pub(cl[0], "d15/a", "one", 1, true);
	tclient_pub(cl[0], "d15/c", "old", 1, true);
	tclient_pub(cl[0], "d15/c", "new", 1, true);
	(void)publish_qos2_until_pubrec(cl[0], "d15/b", "two", true);
	crash_and_restart(b, cl, 1);

	cl[0] = tclient_new_sp(b, "d15-sub", true, 0);
	tclient_sub(cl[0], "d15/a", 2, 2);
	tclient_expect_publish(cl[0], "d15/a", "one", 1, 1, 0, &id);
	tclient_ack_received(cl[0], 1, id);
	tclient_sub(cl[0], "d15/b", 2, 2);
	tclient_expect_publish(cl[0], "d15/b", "two", 2, 1, 0, &id);
	tclient_ack_received(cl[0], 2, id);
	tclient_sub(cl[0], "d15/c", 2, 2);
	tclient_expect_publish(cl[0], "d15/c", "new", 1, 1, 0, &id);
	tclient_ack_received(cl[0], 1, id);
	tclient_expect_nothing(cl[0], HARNESS_QUIET_MS);
	tclient_bye(cl[0]);
}

/* DESIGN contract 1 [MQTT-3.3.1-10] [MQTT-3.3.1-11]: a retained message
 * cleared by an empty retained QoS 1 PUBLISH stays cleared after a kill
 * right after the PUBACK; the retained message of the neighbouring topic
 * stays. */
static void
test_durability_retained_clear_then_kill(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *cl[1];
	uint16_t id;

	cl[0] = tclient_new_sp(b, "d16-pub", true, 0);
	tclient_pub(cl[0], "d16/gone", "soon", 1, true);
	tclient_pub(cl[0], "d16/kept", "stays", 1, true);
	crash_and_restart(b, cl, 1);
	cl[0] = tclient_new_sp(b, "d16-pub", true, 0);
	tclient_pub(cl[0], "d16/gone", "", 1, true);
	crash_and_restart(b, cl, 1);

	cl[0] = tclient_new_sp(b, "d16-sub", true, 0);
	tclient_sub(cl[0], "d16/gone", 1, 1);
	tclient_expect_nothing(cl[0], HARNESS_QUIET_MS);
	tclient_sub(cl[0], "d16/kept", 1, 1);
	tclient_expect_publish(cl[0], "d16/kept", "stays", 1, 1, 0, &id);
	tclient_ack_received(cl[0], 1, id);
	tclient_bye(cl[0]);
}

/* ===== What makes no SQL ===== */

/*
 * DESIGN contract 4: QoS 0 traffic, even to a connected persistent
 * session, and QoS 1 and 2 between clean sessions make no SQL at all:
 * across a burst of it, no other connection commits to the database
 * (PRAGMA data_version of a read-only connection is unchanged), and the
 * messages, deliveries and incoming tables stay empty.
 */
static void
test_durability_transient_traffic_makes_no_sql(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *online, *offline, *sub, *pub, *barrier;
	struct harness_db *db;
	long long before;
	char payload[32];
	uint16_t id;
	int i, qos;

	/* Persistent sessions, one connected and one not, on the QoS 0
	 * topics only: their set-up is stored, before the baseline. */
	offline = tclient_new_sp(b, "d17-offline", false, 0);
	tclient_sub(offline, "d17/q0/#", 2, 2);
	tclient_bye(offline);
	online = tclient_new_sp(b, "d17-online", false, 0);
	tclient_sub(online, "d17/q0/#", 2, 2);
	sub = tclient_new_sp(b, "d17-clean-sub", true, 0);
	tclient_sub(sub, "d17/#", 2, 2);
	pub = tclient_new_sp(b, "d17-clean-pub", false, 0);
	tclient_bye(pub);			/* a stored session... */
	/* ...discarded */
	pub = tclient_new_sp(b, "d17-clean-pub", true, 0);
	tclient_sync(pub);
	/*
	 * Every change so far is committed once each answer came; the
	 * discarded session's, and the disconnect times the persistent
	 * clients' goodbyes record, once a later persistent client's
	 * CONNACK (held for its own, later commit) did. That client stays
	 * connected through the burst, so its goodbye comes after.
	 */
	tclient_bye(tclient_new_sp(b, "d17-barrier", false, 0));
	barrier = tclient_new_sp(b, "d17-barrier2", false, 0);

	db = harness_db_open(b->db_path, false);
	before = harness_db_long(db, "PRAGMA data_version");
	for (i = 0; i < 100; i++) {
		snprintf(payload, sizeof(payload), "q0-%d", i);
		tclient_pub(pub, "d17/q0/t", payload, 0, false);
		tclient_expect_publish(online, "d17/q0/t", payload, 0, 0, 0,
		    NULL);
		tclient_expect_publish(sub, "d17/q0/t", payload, 0, 0, 0, NULL);
	}
	for (i = 0; i < 100; i++) {
		qos = 1 + i % 2;
		snprintf(payload, sizeof(payload), "clean-%d", i);
		tclient_pub(pub, "d17/clean", payload, qos, false);
		tclient_expect_publish(sub, "d17/clean", payload, qos, 0, 0,
		    &id);
		tclient_ack_received(sub, qos, id);
	}
	tclient_sync(pub);
	tclient_sync(sub);
	tclient_sync(online);
	tclient_bye(pub);
	tclient_bye(sub);

	/* No connection but ours could have committed in between... */
	assert_int_equal(harness_db_long(db, "PRAGMA data_version"), before);
	/* ...and nothing of the burst is in the tables. */
	assert_int_equal(harness_db_long(db, "SELECT count(*) FROM messages"),
	    0);
	assert_int_equal(harness_db_long(db,
	    "SELECT count(*) FROM deliveries"), 0);
	assert_int_equal(harness_db_long(db, "SELECT count(*) FROM incoming"),
	    0);
	assert_int_equal(harness_db_long(db, "SELECT count(*) FROM retained"),
	    0);
	assert_int_equal(harness_db_long(db, "SELECT count(*) FROM sessions "
	    "WHERE client_id LIKE 'd17-clean%'"), 0);
	harness_db_close(db);
	tclient_bye(online);
	tclient_bye(barrier);
}

#define DURABLE(f) \
	cmocka_unit_test_prestate_setup_teardown(f, \
	    harness_setup_broker_opts, harness_teardown_broker, \
	    (void *)&synced_opts)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		DURABLE(test_durability_qos1_puback_then_kill_offline_subscriber),
		DURABLE(test_durability_qos1_inflight_resent_dup_same_id_across_two_kills),
		DURABLE(test_durability_qos2_in_pubrec_then_kill_resent_publish_not_redelivered),
		DURABLE(test_durability_qos2_in_pubrec_then_kill_offline_subscriber_once),
		DURABLE(test_durability_qos2_in_pubrec_then_kill_pubrel_completes),
		DURABLE(test_durability_qos2_in_pubrel_sent_then_kill),
		DURABLE(test_durability_qos2_in_pubcomp_then_kill_id_is_free),
		DURABLE(test_durability_qos2_out_publish_sent_then_kill),
		DURABLE(test_durability_qos2_out_pubrel_received_then_kill),
		DURABLE(test_durability_qos2_out_pubrec_sent_then_kill),
		DURABLE(test_durability_offline_queue_survives_kill),
		DURABLE(test_durability_session_present_after_connack_then_kill),
		DURABLE(test_durability_subscription_after_suback_then_kill),
		DURABLE(test_durability_unsubscribe_after_unsuback_then_kill),
		DURABLE(test_durability_retained_set_then_kill),
		DURABLE(test_durability_retained_clear_then_kill),
		DURABLE(test_durability_transient_traffic_makes_no_sql),
	};

	if (harness_mosquitto()) {
		printf("SKIP: the durability tests are mqttd's own "
		    "(mosquitto persists on a timer)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
