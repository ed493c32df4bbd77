/*
 * test_many_clients.c: 1,000 simultaneous connections that all publish
 * and all receive.
 *
 * Each client subscribes to a topic of its own (QoS 1) and to a common
 * topic (QoS 0); once every client is subscribed, each publishes one QoS 1
 * message to its own topic and the first ten publish one QoS 0 message
 * to the common topic. Every client must get its own message, its PUBACK
 * and all ten common messages. One thread drives all sockets with poll();
 * the whole test is bounded to 60 s.
 *
 * The harness's blocking tclient is not used here: the clients are its
 * non-blocking ones (harness_nb.c), driven by a small state machine.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define NCLIENTS	1000
#define NCOMMON		10		/* clients publishing to the common topic */
#define DEADLINE_MS	60000
#define COMMON_TOPIC	"many/all"

enum mc_state {
	MC_CONNECTING,		/* TCP connect in progress */
	MC_WAIT_CONNACK,
	MC_WAIT_SUBACK,
	MC_READY,		/* subscribed; waiting for the others */
	MC_RUNNING		/* published; counting what arrives */
};

struct mc {
	struct nbclient	 nc;
	enum mc_state	 state;
	int		 got_own;
	int		 got_puback;
	unsigned	 common_seen;	/* bit i: "common-i" arrived */
	int		 got_common;
};

static struct harness_broker broker;

static const struct harness_opts broker_opts = {
	.extra_ini = "[listener]\nmax_connections = 5000\n",
	.nofile = NCLIENTS * 2 + 256,
	.min_nofile = NCLIENTS + 64
};

static void
mc_send_connect(struct mc *m, int i)
{
	uint8_t pkt[64];
	char id[32];

	snprintf(id, sizeof(id), "many-%04d", i);
	nbclient_send(&m->nc, pkt, nb_connect_packet(pkt, id));
}

static void
mc_send_subscribe(struct mc *m, int i)
{
	uint8_t body[96];
	size_t off = 0;
	char topic[32];

	body[off++] = 0;
	body[off++] = 1;
	snprintf(topic, sizeof(topic), "many/c/%04d", i);
	nb_put_str(body, &off, topic);
	body[off++] = 1;
	nb_put_str(body, &off, COMMON_TOPIC);
	body[off++] = 0;
	nbclient_packet(&m->nc, 0x82, body, off);
}

static void
mc_send_publishes(struct mc *m, int i)
{
	uint8_t body[96];
	size_t off = 0;
	char topic[32], payload[32];

	snprintf(topic, sizeof(topic), "many/c/%04d", i);
	snprintf(payload, sizeof(payload), "own-%d", i);
	nb_put_str(body, &off, topic);
	body[off++] = 0;
	body[off++] = 2;	/* packet id 2 */
	memcpy(body + off, payload, strlen(payload));
	off += strlen(payload);
	nbclient_packet(&m->nc, 0x32, body, off);
	if (i >= NCOMMON)
		return;
	off = 0;
	snprintf(payload, sizeof(payload), "common-%d", i);
	nb_put_str(body, &off, COMMON_TOPIC);
	memcpy(body + off, payload, strlen(payload));
	off += strlen(payload);
	nbclient_packet(&m->nc, 0x30, body, off);
}

/* Handles one whole packet received by client i. */
static void
mc_handle(struct mc *m, int i, uint8_t byte1, const uint8_t *b, size_t len,
    int *ready)
{
	char want[64];
	size_t tlen;
	uint8_t ack[2];
	int k;

	switch (byte1 >> 4) {
	case MQTT_CONNACK:
		if (m->state != MC_WAIT_CONNACK || len != 2 || b[1] != 0)
			fail_msg("client %d: bad CONNACK", i);
		mc_send_subscribe(m, i);
		m->state = MC_WAIT_SUBACK;
		break;
	case MQTT_SUBACK:
		if (m->state != MC_WAIT_SUBACK || len != 4 || b[2] != 1 ||
		    b[3] != 0)
			fail_msg("client %d: bad SUBACK", i);
		m->state = MC_READY;
		(*ready)++;
		break;
	case MQTT_PUBACK:
		if (len != 2 || b[0] != 0 || b[1] != 2)
			fail_msg("client %d: bad PUBACK", i);
		m->got_puback++;
		break;
	case MQTT_PUBLISH:
		if (len < 2)
			fail_msg("client %d: short PUBLISH", i);
		tlen = (size_t)(b[0] << 8 | b[1]);
		if (tlen == strlen(COMMON_TOPIC) &&
		    memcmp(b + 2, COMMON_TOPIC, tlen) == 0) {
			/* "common-<k>", not NUL-terminated in buf. */
			k = -1;
			if (len == 2 + tlen + 8 &&
			    memcmp(b + 2 + tlen, "common-", 7) == 0 &&
			    b[2 + tlen + 7] >= '0' && b[2 + tlen + 7] <= '9')
				k = b[2 + tlen + 7] - '0';
			if (k < 0 || k >= NCOMMON ||
			    (m->common_seen & (1u << k)))
				fail_msg("client %d: unexpected common "
				    "message", i);
			m->common_seen |= 1u << k;
			m->got_common++;
			break;
		}
		/* Own topic, QoS 1: topic, id, "own-<i>". */
		snprintf(want, sizeof(want), "many/c/%04d", i);
		if (((byte1 >> 1) & 3) != 1 || tlen != strlen(want) ||
		    memcmp(b + 2, want, tlen) != 0)
			fail_msg("client %d: PUBLISH on a foreign topic", i);
		snprintf(want, sizeof(want), "own-%d", i);
		if (len != 2 + tlen + 2 + strlen(want) ||
		    memcmp(b + 4 + tlen, want, strlen(want)) != 0)
			fail_msg("client %d: wrong payload", i);
		ack[0] = b[2 + tlen];
		ack[1] = b[3 + tlen];
		nbclient_packet(&m->nc, 0x40, ack, 2);
		m->got_own++;
		break;
	default:
		fail_msg("client %d: unexpected packet type %d", i,
		    byte1 >> 4);
	}
}

/* Reads what is there and handles every whole packet. */
static void
mc_read(struct mc *m, int i, int *ready)
{
	struct nbpacket p;
	ssize_t n = nbclient_recv(&m->nc);

	if (n == 0)
		fail_msg("client %d: the broker closed the connection", i);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		fail_msg("client %d: recv: %s", i, strerror(errno));
	}
	while (nbclient_peek(&m->nc, &p)) {
		mc_handle(m, i, p.byte1, p.body, p.len, ready);
		nbclient_drop(&m->nc, &p);
	}
}

static int
mc_done(const struct mc *m)
{
	return m->got_own == 1 && m->got_puback == 1 &&
	    m->got_common == NCOMMON;
}

static void
report(const struct mc *mc, int ready)
{
	int i, own = 0, acks = 0, common = 0, done = 0;

	for (i = 0; i < NCLIENTS; i++) {
		own += mc[i].got_own;
		acks += mc[i].got_puback;
		common += mc[i].got_common;
		done += mc_done(&mc[i]);
	}
	fail_msg("after %d s: %d clients subscribed, %d done; own messages "
	    "%d/%d, PUBACKs %d/%d, common messages %d/%d", DEADLINE_MS / 1000,
	    ready, done, own, NCLIENTS, acks, NCLIENTS, common,
	    NCLIENTS * NCOMMON);
}

static void
test_thousand_clients_all_publish_and_receive(void **state)
{
	struct mc *mc;
	struct pollfd *pfd;
	long long deadline = harness_now_ms() + DEADLINE_MS;
	int i, ready = 0, done = 0, started = 0;

	(void)state;
	mc = calloc(NCLIENTS, sizeof(*mc));
	pfd = calloc(NCLIENTS, sizeof(*pfd));
	assert_non_null(mc);
	assert_non_null(pfd);
	for (i = 0; i < NCLIENTS; i++) {
		nbclient_open(&mc[i].nc, &broker, i);
		mc[i].state = MC_CONNECTING;
	}
	while (done < NCLIENTS) {
		if (harness_now_ms() > deadline)
			report(mc, ready);
		for (i = 0; i < NCLIENTS; i++) {
			pfd[i].fd = mc[i].nc.fd;
			pfd[i].events = mc[i].state == MC_CONNECTING ?
			    POLLOUT : POLLIN;
			pfd[i].revents = 0;
		}
		if (poll(pfd, NCLIENTS, 1000) == -1 && errno != EINTR)
			fail_msg("poll: %s", strerror(errno));
		for (i = 0; i < NCLIENTS; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (mc[i].state == MC_CONNECTING) {
				nbclient_check_connected(&mc[i].nc, i);
				mc_send_connect(&mc[i], i);
				mc[i].state = MC_WAIT_CONNACK;
				continue;
			}
			mc_read(&mc[i], i, &ready);
		}
		if (!started && ready == NCLIENTS) {
			for (i = 0; i < NCLIENTS; i++) {
				mc_send_publishes(&mc[i], i);
				mc[i].state = MC_RUNNING;
			}
			started = 1;
		}
		for (done = 0, i = 0; i < NCLIENTS; i++)
			done += mc_done(&mc[i]);
	}
	for (i = 0; i < NCLIENTS; i++) {
		nbclient_packet(&mc[i].nc, 0xe0, NULL, 0);
		close(mc[i].nc.fd);
	}
	free(pfd);
	free(mc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thousand_clients_all_publish_and_receive),
	};

	return harness_run_group_tests(tests, &broker, &broker_opts);
}
