/*
 * test_limits.c: the resource limits of mqttd.ini under hostile clients:
 * max_connections, max_packet_size, max_subscriptions_per_client,
 * max_client_id_length, connect_timeout against a slowloris, and
 * output_high_water and max_queued_messages against clients that do not
 * read or are not there.
 *
 * Each test starts a broker of its own with the limits it needs (small
 * ones, so that the tests are quick), and checks afterwards that ordinary
 * clients are still served. Memory is the broker's resident set, read from
 * /proc/<pid>/status.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

/*
 * Under AddressSanitizer (configure --enable-sanitizers builds the broker
 * and the tests alike) freed memory sits in a quarantine and shadow memory
 * is counted: the broker's RSS says nothing about its own bounds, so the
 * RSS checks are skipped there and only the other checks run.
 */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_MEANINGFUL	0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_MEANINGFUL	0
#endif
#endif
#ifndef RSS_MEANINGFUL
#define RSS_MEANINGFUL	1
#endif

/* ===== Helpers ===== */

/* Fails the test if the broker's RSS grew by more than limit_kb. */
static void
check_rss_growth(long before, long after, long limit_kb, const char *what)
{
	if (after - before <= limit_kb)
		return;
	if (!RSS_MEANINGFUL) {
		print_message("sanitizer build: RSS %ld -> %ld KiB (%s) not "
		    "checked\n", before, after, what);
		return;
	}
	fail_msg("broker RSS grew from %ld to %ld KiB %s", before, after,
	    what);
}

/* The broker's resident set size in KiB. */
static long
broker_rss_kb(const struct harness_broker *b)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)b->pid);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	assert_true(kb > 0);
	return kb;
}

/* A well-behaved pair still publishes and receives. */
static void
round_trip(const struct harness_broker *b, const char *topic)
{
	struct tclient *sub = tclient_new(b, "lim-good-sub", true, NULL);
	struct tclient *pub = tclient_new(b, "lim-good-pub", true, NULL);
	uint16_t id;

	tclient_sub(sub, topic, 1, 1);
	tclient_pub(pub, topic, "still-served", 1, false);
	tclient_expect_publish(sub, topic, "still-served", 1, 0, 0, &id);
	tclient_ack_received(sub, 1, id);
	tclient_bye(pub);
	tclient_bye(sub);
}

/* A tclient whose receive buffer is small, set before connect() so that
 * the window the broker sees is small too. */
static struct tclient *
open_small_rcvbuf(const struct harness_broker *b, const char *name)
{
	struct sockaddr_in sin;
	struct tclient *c = calloc(1, sizeof(*c));
	int small = 4096, one = 1;

	assert_non_null(c);
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->next_id = 1;
	c->timeout_ms = HARNESS_TIMEOUT_MS;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->fd != -1);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)b->port);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		fail_msg("%s: connect: %s", name, strerror(errno));
	return c;
}

/* Sends CONNECT (clean session) and expects it accepted. */
static void
connect_ok(struct tclient *c, const char *id)
{
	struct tconnect o = { .client_id = id, .clean = true };

	assert_int_equal(tclient_connect(c, &o), 0);
	tclient_expect_connack(c, 0, 0);
}

/* ===== max_connections ===== */

/* The 6th connection with max_connections = 5 is closed at once (before
 * any CONNACK); the five keep working, and a freed slot can be used. */
static void
test_max_connections_extra_closed_at_once(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *c[5], *extra;
	struct tconnect o = { .client_id = "lim-conn-extra", .clean = true };
	char id[32];
	uint16_t pid;
	int i;

	harness_mqttd_only("no max_connections in mosquitto");
	for (i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "lim-conn-%d", i);
		c[i] = tclient_new(b, id, true, NULL);
	}
	extra = tclient_open(b, "lim-conn-extra");
	/* The broker may have closed it already: the send may fail. */
	(void)tclient_connect(extra, &o);
	tclient_expect_closed(extra);
	tclient_close(extra);
	assert_true(harness_log_contains(b, "refused: max_connections (5) "
	    "reached", HARNESS_TIMEOUT_MS));

	tclient_sub(c[0], "lim/conn", 1, 1);
	for (i = 1; i < 5; i++) {
		snprintf(id, sizeof(id), "from-%d", i);
		tclient_pub(c[i], "lim/conn", id, 1, false);
		tclient_expect_publish(c[0], "lim/conn", id, 1, 0, 0, &pid);
		tclient_ack_received(c[0], 1, pid);
	}
	for (i = 0; i < 5; i++)
		tclient_sync(c[i]);

	/* Two slots freed: the round trip's pair fits. */
	tclient_bye(c[3]);
	tclient_bye(c[4]);
	round_trip(b, "lim/conn/after");
	for (i = 0; i < 3; i++)
		tclient_bye(c[i]);
}

/* ===== max_packet_size ===== */

/*
 * CONNECTs declaring 256 MiB (max_packet_size is 1 MiB): each refused as
 * soon as its length header arrives, although the client goes on sending
 * its "body"; the broker's memory does not grow by more than a few MiB.
 */
static void
test_max_packet_size_256mb_connect_refused_at_header(void **state)
{
	struct harness_broker *b = *state;
	static const uint8_t hdr[] = { 0x10, 0xff, 0xff, 0xff, 0x7f };
	static uint8_t junk[256 * 1024];
	struct tclient *c[20];
	long before, after;
	size_t i;

	harness_mqttd_only("RSS and log of mqttd");
	round_trip(b, "lim/pkt/warmup");
	before = broker_rss_kb(b);
	memset(junk, 'j', sizeof(junk));
	for (i = 0; i < 20; i++) {
		c[i] = tclient_open(b, "lim-256mb");
		assert_int_equal(tclient_send_raw(c[i], hdr, sizeof(hdr)), 0);
		/* May fail once the broker has closed: that is the point. */
		(void)tclient_send_raw(c[i], junk, sizeof(junk));
	}
	for (i = 0; i < 20; i++) {
		tclient_expect_closed(c[i]);
		tclient_close(c[i]);
	}
	after = broker_rss_kb(b);
	assert_true(harness_log_contains(b, "bad fixed header: packet too "
	    "large", HARNESS_TIMEOUT_MS));
	check_rss_growth(before, after, 4096, "with 20 CONNECTs of 256 MiB");
	round_trip(b, "lim/pkt/after");
}

/* Sends a QoS 0 PUBLISH on "lim/big" whose whole packet is total bytes
 * (total >= 16389, so its Remaining Length takes 3 bytes). */
static void
publish_of_size(struct tclient *c, size_t total)
{
	size_t payload_len = total - 4 - 2 - strlen("lim/big");
	char *payload = malloc(payload_len + 1);

	assert_non_null(payload);
	memset(payload, 'p', payload_len);
	payload[payload_len] = '\0';
	assert_int_equal(tclient_publish(c, "lim/big", payload, payload_len,
	    0, false, false, 0), 0);
	free(payload);
}

/* max_packet_size = 65536 counts the whole packet: 65536 bytes pass and
 * are delivered, 65537 close the connection. */
static void
test_max_packet_size_boundary(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *sub = tclient_new(b, "lim-big-sub", true, NULL);
	struct tclient *pub = tclient_new(b, "lim-big-pub", true, NULL);
	struct tpacket p;

	harness_mqttd_only("mosquitto counts max_packet_size differently");
	tclient_sub(sub, "lim/big", 0, 0);
	publish_of_size(pub, 65536);
	assert_int_equal(tclient_read_packet(sub, &p, HARNESS_TIMEOUT_MS),
	    TREAD_OK);
	assert_int_equal(p.type, MQTT_PUBLISH);
	assert_int_equal(p.len, 65536 - 4);
	tpacket_free(&p);
	tclient_sync(pub);
	publish_of_size(pub, 65537);
	tclient_expect_closed(pub);
	tclient_close(pub);
	tclient_expect_nothing(sub, HARNESS_QUIET_MS);
	tclient_bye(sub);
	round_trip(b, "lim/big/after");
}

/* ===== max_subscriptions_per_client ===== */

/* With a limit of 3: a 4th filter gets 0x80, re-subscribing a held one
 * does not count, an unsubscribe frees a place, and the count survives a
 * reconnect of the persistent session (and is what is stored). */
static void
test_max_subscriptions_per_client(void **state)
{
	struct harness_broker *b = *state;
	const char *two[2] = { "lim/s/e", "lim/s/a" };
	const int two_qos[2] = { 1, 1 }, two_want[2] = { 0x80, 1 };
	struct tclient *c = tclient_new(b, "lim-subs", false, NULL);
	int present = 0;

	harness_mqttd_only("no max_subscriptions_per_client in mosquitto");
	tclient_sub(c, "lim/s/a", 0, 0);
	tclient_sub(c, "lim/s/b", 1, 1);
	tclient_sub(c, "lim/s/c", 2, 2);
	tclient_sub(c, "lim/s/d", 1, 0x80);
	tclient_sub(c, "lim/s/a", 2, 2);		/* replaces, fits */
	assert_int_equal(tclient_subscribe(c, 90, 2, two, two_qos), 0);
	tclient_expect_suback(c, 90, 2, two_want);
	assert_true(harness_log_contains(b, "lim-subs: SUBSCRIBE 'lim/s/d' "
	    "refused: 3 subscriptions", HARNESS_TIMEOUT_MS));
	tclient_unsub(c, "lim/s/b");
	tclient_sub(c, "lim/s/d", 1, 1);
	tclient_bye(c);

	c = tclient_new(b, "lim-subs", false, &present);
	assert_int_equal(present, 1);
	tclient_sub(c, "lim/s/e", 1, 0x80);
	tclient_bye(c);
	harness_store_barrier(b, "lim-barrier");
	assert_int_equal(harness_db_query(b->db_path, "SELECT count(*) "
	    "FROM subscriptions WHERE client_id = 'lim-subs'"), 3);
	assert_int_equal(harness_db_query(b->db_path, "SELECT count(*) "
	    "FROM subscriptions WHERE client_id = 'lim-subs' AND filter = "
	    "'lim/s/e'"), 0);
	round_trip(b, "lim/s/after");
}

/* ===== max_client_id_length ===== */

static struct tclient *
connect_with_id(const struct harness_broker *b, size_t len, bool clean)
{
	char id[128];
	struct tconnect o = { .clean = clean };
	struct tclient *c;

	assert_true(len < sizeof(id));
	memset(id, 'k', len);
	id[len] = '\0';
	o.client_id = id;
	c = tclient_open(b, "lim-id");
	assert_int_equal(tclient_connect(c, &o), 0);
	return c;
}

/* [MQTT-3.1.3-5] With max_client_id_length = 30: 23 and 30 bytes are
 * accepted, 31 get CONNACK 0x02 and the close, and no session for it is
 * stored. */
static void
test_max_client_id_length(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *c;

	harness_mqttd_only("no max_client_id_length in mosquitto");
	c = connect_with_id(b, 23, true);
	tclient_expect_connack(c, 0, 0);
	tclient_bye(c);
	c = connect_with_id(b, 30, false);
	tclient_expect_connack(c, 0, 0);
	tclient_bye(c);
	c = connect_with_id(b, 31, false);
	tclient_expect_connack(c, 0, 2);
	tclient_expect_closed(c);
	tclient_close(c);
	assert_true(harness_log_contains(b, "CONNECT refused: client id too "
	    "long", HARNESS_TIMEOUT_MS));
	harness_store_barrier(b, "lim-barrier");
	assert_int_equal(harness_db_query(b->db_path, "SELECT count(*) "
	    "FROM sessions WHERE length(client_id) = 31"), 0);
	assert_int_equal(harness_db_query(b->db_path, "SELECT count(*) "
	    "FROM sessions WHERE length(client_id) = 30"), 1);
	round_trip(b, "lim/id/after");
}

/* ===== connect_timeout against a slowloris ===== */

/*
 * Trickles bytes into c, one every interval_ms, until the broker closes
 * (returns the milliseconds from start to the close) or the bytes run out
 * (fails). The wait between bytes is a poll() for the close.
 */
static long long
trickle_until_closed(struct tclient *c, const uint8_t *bytes, size_t n,
    int interval_ms, long long start)
{
	struct pollfd pfd = { c->fd, POLLIN, 0 };
	char buf[64];
	size_t i;
	ssize_t r;

	for (i = 0; i < n; i++) {
		if (send(c->fd, bytes + i, 1, MSG_NOSIGNAL) != 1)
			return harness_now_ms() - start;
		if (poll(&pfd, 1, interval_ms) == 1) {
			r = recv(c->fd, buf, sizeof(buf), 0);
			if (r > 0)
				fail_msg("%s: got %zd bytes from the broker",
				    c->name, r);
			return harness_now_ms() - start;
		}
	}
	fail_msg("%s: all %zu bytes sent and still open", c->name, n);
	return -1;
}

/*
 * connect_timeout = 2. A CONNECT sent one byte every 300 ms (it would
 * take 6 s), and a header declaring 200 bytes followed by a trickle: both
 * closed at about 2 s after they connected, never answered; a client
 * that connects meanwhile is served.
 */
static void
test_connect_timeout_slowloris(void **state)
{
	struct harness_broker *b = *state;
	static const uint8_t connect[] = {
		0x10, 0x12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0,
		0, 6, 's', 'l', 'o', 'w', 'l', 'y'
	};
	uint8_t declared[200 + 2];
	struct tclient *slow, *slow2, *good;
	long long start, t;

	harness_mqttd_only("no connect_timeout option");
	memset(declared, 'x', sizeof(declared));
	declared[0] = 0x10;
	declared[1] = 0xc8;
	declared[2] = 0x01;		/* Remaining Length 200 */
	start = harness_now_ms();
	slow = tclient_open(b, "lim-slowloris");
	slow2 = tclient_open(b, "lim-slowloris-2");
	good = tclient_new(b, "lim-slow-good", true, NULL);
	tclient_sync(good);
	t = trickle_until_closed(slow, connect, sizeof(connect), 300, start);
	if (t < 1800 || t > 3500)
		fail_msg("slowloris closed after %lld ms, not at 2 s", t);
	t = trickle_until_closed(slow2, declared, sizeof(declared), 300,
	    start);
	if (t < 1800 || t > 3500)
		fail_msg("slowloris 2 closed after %lld ms, not at 2 s", t);
	tclient_close(slow);
	tclient_close(slow2);
	assert_true(harness_log_contains(b, "no CONNECT within 2 s",
	    HARNESS_TIMEOUT_MS));
	tclient_sync(good);
	tclient_bye(good);
	round_trip(b, "lim/slow/after");
}

/* ===== output_high_water ===== */

#define HW_PAYLOAD	4096
#define HW_QOS0		8000		/* 32 MiB through the broker */
#define HW_QOS1		200
#define HW_CHUNK	8		/* QoS 0 messages per lock step */
#define HW_QUEUE	50		/* max_queued_messages */
#define HW_INFLIGHT	5		/* max_inflight */

static void
hw_payload(char *buf, const char *kind, int i)
{
	int n = snprintf(buf, HW_PAYLOAD + 1, "%s-%05d-", kind, i);

	memset(buf + n, 'w', (size_t)(HW_PAYLOAD - n));
	buf[HW_PAYLOAD] = '\0';
}

/* Index i of a received "<kind>-<i>-www..." payload, or -1. */
static int
hw_index(const struct tpacket *p, const char *kind, int *qos)
{
	size_t tlen, off;
	int i = -1;
	char head[16];

	if (p->type != MQTT_PUBLISH || p->len < 2)
		return -1;
	*qos = (p->flags >> 1) & 3;
	tlen = (size_t)(p->body[0] << 8 | p->body[1]);
	off = 2 + tlen + (*qos > 0 ? 2 : 0);
	if (off + 12 > p->len)
		return -1;
	snprintf(head, sizeof(head), "%s-", kind);
	if (memcmp(p->body + off, head, strlen(head)) != 0)
		return -1;
	sscanf((const char *)p->body + off + strlen(head), "%d", &i);
	return i;
}

/*
 * A subscriber that stops reading: beyond output_high_water (64 KiB) its
 * QoS 0 messages are dropped, its QoS 1 messages wait in its queue up to
 * max_queued_messages (the later ones dropped), the broker's memory stays
 * bounded while 32 MiB go by, and another subscriber gets everything.
 * When the slow one reads again it gets what was kept, in order.
 */
static void
test_output_high_water_slow_subscriber(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *slow, *fast, *pub;
	struct tpacket p;
	char payload[HW_PAYLOAD + 1];
	long before, after;
	int i, k, idx, qos, got0 = 0, got1 = 0, last0 = -1, last1 = -1;
	uint16_t id;

	harness_mqttd_only("output_high_water is mqttd's");
	slow = open_small_rcvbuf(b, "lim-slow");
	connect_ok(slow, "lim-slow");
	tclient_sub(slow, "hw/#", 1, 1);
	fast = tclient_new(b, "lim-fast", true, NULL);
	tclient_sub(fast, "hw/#", 1, 1);
	pub = tclient_new(b, "lim-hw-pub", true, NULL);
	before = broker_rss_kb(b);

	for (i = 0; i < HW_QOS0; i += HW_CHUNK) {
		for (k = i; k < i + HW_CHUNK; k++) {
			hw_payload(payload, "q0", k);
			assert_int_equal(tclient_publish_str(pub, "hw/q0",
			    payload, 0, false, 0), 0);
		}
		for (k = i; k < i + HW_CHUNK; k++) {
			hw_payload(payload, "q0", k);
			tclient_expect_publish(fast, "hw/q0", payload, 0, 0,
			    0, NULL);
		}
	}
	for (i = 0; i < HW_QOS1; i++) {
		hw_payload(payload, "q1", i);
		tclient_pub(pub, "hw/q1", payload, 1, false);
		tclient_expect_publish(fast, "hw/q1", payload, 1, 0, 0, &id);
		tclient_ack_received(fast, 1, id);
	}
	after = broker_rss_kb(b);
	check_rss_growth(before, after, 8192, "while a reader was stalled");
	assert_true(harness_log_contains(b, "lim-slow: slow reader, QoS 0 "
	    "message on 'hw/q0' dropped", HARNESS_TIMEOUT_MS));
	assert_true(harness_log_contains(b, "lim-slow: queue full",
	    HARNESS_TIMEOUT_MS));

	/* The slow reader catches up: a quiet second ends its backlog. */
	while (tclient_read_packet(slow, &p, 1000) == TREAD_OK) {
		if ((idx = hw_index(&p, "q0", &qos)) >= 0) {
			assert_int_equal(qos, 0);
			assert_true(idx > last0);
			last0 = idx;
			got0++;
		} else if ((idx = hw_index(&p, "q1", &qos)) >= 0) {
			assert_int_equal(qos, 1);
			/* The queue keeps the first ones, in order. */
			assert_int_equal(idx, last1 + 1);
			last1 = idx;
			got1++;
			id = (uint16_t)(p.body[2 + 5] << 8 | p.body[2 + 6]);
			assert_int_equal(tclient_puback(slow, id), 0);
		} else
			fail_msg("lim-slow: unexpected packet type %d",
			    p.type);
		tpacket_free(&p);
	}
	print_message("slow reader: %d of %d QoS 0, %d of %d QoS 1\n", got0,
	    HW_QOS0, got1, HW_QOS1);
	assert_true(got0 > 0 && got0 < HW_QOS0 / 4);
	assert_true(got1 >= HW_QUEUE && got1 <= HW_QUEUE + HW_INFLIGHT);
	tclient_sync(slow);
	tclient_bye(slow);
	tclient_bye(fast);
	tclient_bye(pub);
	round_trip(b, "hw/after");
}

/*
 * A client that sends PINGREQs as fast as it can and reads nothing: once
 * its output reaches output_high_water (1 MiB) the broker stops reading
 * it, so the client's sending soon blocks and the broker's memory stays
 * bounded; when it reads again it gets one PINGRESP per PINGREQ, none
 * lost (back-pressure, not loss).
 */
static void
test_output_flood_without_reading_is_bounded(void **state)
{
	struct harness_broker *b = *state;
	static uint8_t pings[64 * 1024];
	struct tclient *c = open_small_rcvbuf(b, "lim-noread");
	struct pollfd pfd = { c->fd, POLLOUT, 0 };
	size_t sent = 0, cap = 64u * 1024 * 1024, answers = 0, i;
	long before, after;
	struct tpacket p;
	ssize_t n;

	harness_mqttd_only("output back-pressure is mqttd's");
	connect_ok(c, "lim-noread");
	before = broker_rss_kb(b);
	for (i = 0; i < sizeof(pings); i += 2) {
		pings[i] = MQTT_PINGREQ << 4;
		pings[i + 1] = 0;
	}
	/* Until the socket has not been writable for a whole second. */
	while (sent < cap) {
		n = send(c->fd, pings, sizeof(pings),
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			/* Whole PINGREQs only: keep the stream aligned. */
			if (n % 2 == 1) {
				assert_int_equal(tclient_send_raw(c, pings, 1),
				    0);
				n++;
			}
			sent += (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
			fail_msg("send: %s", strerror(errno));
		if (poll(&pfd, 1, 1000) == 0)
			break;
	}
	after = broker_rss_kb(b);
	print_message("sent %zu KiB of PINGREQ; broker RSS %ld -> %ld KiB\n",
	    sent / 1024, before, after);
	if (sent >= cap)
		fail_msg("the broker read %zu MiB from a client that reads "
		    "nothing", cap / (1024 * 1024));
	check_rss_growth(before, after, 8192, "while a client read nothing");
	assert_true(harness_log_contains(b, "bytes of output not taken",
	    HARNESS_TIMEOUT_MS));

	while (answers < sent / 2) {
		if (tclient_read_packet(c, &p, HARNESS_TIMEOUT_MS) != TREAD_OK)
			fail_msg("after %zu of %zu PINGRESPs: nothing more",
			    answers, sent / 2);
		assert_int_equal(p.type, MQTT_PINGRESP);
		tpacket_free(&p);
		answers++;
	}
	tclient_sync(c);
	tclient_bye(c);
	round_trip(b, "lim/noread/after");
}

/* ===== max_queued_messages ===== */

/* An offline persistent session with max_queued_messages = 5 keeps
 * exactly the first 5 of 12 QoS 1 messages, stored and then delivered. */
static void
test_max_queued_messages_offline_session(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *c = tclient_new(b, "lim-q", false, NULL), *pub;
	char payload[16];
	uint16_t id;
	int i, present = 0;

	harness_mqttd_only("counts read from mqttd's database");
	tclient_sub(c, "lim/q", 1, 1);
	tclient_bye(c);
	pub = tclient_new(b, "lim-q-pub", true, NULL);
	for (i = 0; i < 12; i++) {
		snprintf(payload, sizeof(payload), "m%d", i);
		tclient_pub(pub, "lim/q", payload, 1, false);
	}
	tclient_bye(pub);
	harness_store_barrier(b, "lim-barrier");
	assert_int_equal(harness_db_query(b->db_path, "SELECT count(*) "
	    "FROM deliveries WHERE client_id = 'lim-q'"), 5);
	assert_true(harness_log_contains(b, "lim-q: queue full",
	    HARNESS_TIMEOUT_MS));
	c = tclient_new(b, "lim-q", false, &present);
	assert_int_equal(present, 1);
	for (i = 0; i < 5; i++) {
		snprintf(payload, sizeof(payload), "m%d", i);
		tclient_expect_publish(c, "lim/q", payload, 1, 0, 0, &id);
		tclient_ack_received(c, 1, id);
	}
	tclient_expect_nothing(c, HARNESS_QUIET_MS);
	tclient_bye(c);
	round_trip(b, "lim/q/after");
}

#define BROKER_TEST(fn, ini) \
	cmocka_unit_test_prestate_setup_teardown(fn, harness_setup_broker, \
	    harness_teardown_broker, (void *)(ini))

int
main(void)
{
	const struct CMUnitTest tests[] = {
		BROKER_TEST(test_max_connections_extra_closed_at_once,
		    "[listener]\nmax_connections = 5\n"),
		BROKER_TEST(test_max_packet_size_256mb_connect_refused_at_header,
		    NULL),
		BROKER_TEST(test_max_packet_size_boundary,
		    "[limits]\nmax_packet_size = 65536\n"),
		BROKER_TEST(test_max_subscriptions_per_client,
		    "[limits]\nmax_subscriptions_per_client = 3\n"),
		BROKER_TEST(test_max_client_id_length,
		    "[limits]\nmax_client_id_length = 30\n"),
		BROKER_TEST(test_connect_timeout_slowloris,
		    "[listener]\nconnect_timeout = 2\n"),
		BROKER_TEST(test_output_high_water_slow_subscriber,
		    "[session]\nmax_inflight = 5\nmax_queued_messages = 50\n"
		    "[limits]\noutput_high_water = 65536\n"),
		BROKER_TEST(test_output_flood_without_reading_is_bounded,
		    NULL),
		BROKER_TEST(test_max_queued_messages_offline_session,
		    "[session]\nmax_queued_messages = 5\n"),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
