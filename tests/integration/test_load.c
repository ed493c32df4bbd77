/*
 * test_load.c: bounded load on loopback, each test well under 60 s.
 *
 *   - 5,000 connections held at once while 100 of them publish (QoS 1)
 *     and every message reaches each of its subscribers, in order; at the
 *     end every one of the 5,000 still answers a PINGREQ;
 *   - a slowloris burst: 500 connections that send one byte of a CONNECT
 *     every 1.5 s, opened before the well-behaved clients; with
 *     connect_timeout = 2 each is closed about 2 s after it connected,
 *     unanswered, while the well-behaved clients connect at once, all
 *     their messages arrive and they outlive the connect timeout.
 *
 * One thread drives every socket with poll(), a state machine per
 * client over the harness's non-blocking clients (harness_nb.c). The
 * broker and this process both need a descriptor per connection: the
 * limit is raised before the broker starts, so that it inherits it.
 */
#include <sys/socket.h>

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

#define MAX_OPENING	256		/* connects in progress at once */

enum lc_role {
	ROLE_SLOW,		/* trickles a CONNECT, must be closed */
	ROLE_PUB,		/* publishes to its own topic */
	ROLE_SUB		/* subscribes to one publisher's topic */
};

enum lc_state {
	LC_UNOPENED,
	LC_CONNECTING,
	LC_WAIT_CONNACK,
	LC_WAIT_SUBACK,
	LC_READY,		/* subscribed, or publisher connected */
	LC_SLOW,		/* slowloris: trickling */
	LC_CLOSED		/* slowloris: closed by the broker */
};

struct lc {
	struct nbclient	 nc;
	enum lc_role	 role;
	enum lc_state	 state;
	int		 topic;		/* publisher index (own or followed) */
	int		 got;		/* sub: messages; pub: PUBACKs */
	int		 pongs;
	long long	 t_open;	/* connect() completed */
	long long	 t_closed;
	long long	 next_byte;	/* slowloris: when to send the next one */
	size_t		 sent;		/* slowloris: bytes sent */
};

struct load {
	const struct harness_broker *b;
	struct lc	*c;
	struct pollfd	*pfd;
	int		 n, nslow, npub, nsub, msgs;
	int		 slow_interval_ms;
	int		 hold_ms;	/* good clients live this long at least */
	int		 deadline_ms;
	int		 opened, opening;
	int		 ready, started, pinging;
	int		 slow_closed;
	long long	 t0, t_ready;
	long long	 worst_connack_ms;
};

/* ===== Sending ===== */

/* The CONNECT of id "<prefix>-<i>" into out (for the slowloris, which
 * sends it a byte at a time); returns its length. */
static size_t
connect_bytes(uint8_t *out, const char *prefix, int i)
{
	char id[32];

	snprintf(id, sizeof(id), "%s-%05d", prefix, i);
	return nb_connect_packet(out, id);
}

static void
topic_of(char *buf, size_t len, int k)
{
	snprintf(buf, len, "load/p/%03d", k);
}

static void
send_subscribe(struct lc *c)
{
	uint8_t body[64];
	size_t off = 0;
	char topic[32];

	body[off++] = 0;
	body[off++] = 1;
	topic_of(topic, sizeof(topic), c->topic);
	nb_put_str(body, &off, topic);
	body[off++] = 1;
	nbclient_packet(&c->nc, 0x82, body, off);
}

static void
send_publishes(struct lc *c, int msgs)
{
	uint8_t body[96];
	size_t off;
	char topic[32], payload[32];
	int s;

	topic_of(topic, sizeof(topic), c->topic);
	for (s = 0; s < msgs; s++) {
		off = 0;
		nb_put_str(body, &off, topic);
		body[off++] = (uint8_t)((s + 1) >> 8);
		body[off++] = (uint8_t)((s + 1) & 0xff);
		snprintf(payload, sizeof(payload), "%d-%d", c->topic, s);
		memcpy(body + off, payload, strlen(payload));
		off += strlen(payload);
		nbclient_packet(&c->nc, 0x32, body, off);
	}
}

/* ===== Receiving ===== */

static void
handle(struct load *L, int i, uint8_t byte1, const uint8_t *b, size_t len)
{
	struct lc *c = &L->c[i];
	char want[64];
	size_t tlen;
	uint8_t ack[2];

	switch (byte1 >> 4) {
	case MQTT_CONNACK:
		if (c->state != LC_WAIT_CONNACK || len != 2 || b[1] != 0)
			fail_msg("client %d: bad CONNACK", i);
		if (harness_now_ms() - c->t_open > L->worst_connack_ms)
			L->worst_connack_ms = harness_now_ms() - c->t_open;
		L->opening--;
		if (c->role == ROLE_SUB) {
			send_subscribe(c);
			c->state = LC_WAIT_SUBACK;
		} else {
			c->state = LC_READY;
			L->ready++;
		}
		break;
	case MQTT_SUBACK:
		if (c->state != LC_WAIT_SUBACK || len != 3 || b[2] != 1)
			fail_msg("client %d: bad SUBACK", i);
		c->state = LC_READY;
		L->ready++;
		break;
	case MQTT_PUBACK:
		if (c->role != ROLE_PUB || len != 2)
			fail_msg("client %d: unexpected PUBACK", i);
		c->got++;
		break;
	case MQTT_PUBLISH:
		if (c->role != ROLE_SUB || ((byte1 >> 1) & 3) != 1 || len < 4)
			fail_msg("client %d: unexpected PUBLISH", i);
		tlen = (size_t)(b[0] << 8 | b[1]);
		topic_of(want, sizeof(want), c->topic);
		if (tlen != strlen(want) || memcmp(b + 2, want, tlen) != 0)
			fail_msg("client %d: PUBLISH on a foreign topic", i);
		/* In order from its publisher [MQTT-4.6.0-6]. */
		snprintf(want, sizeof(want), "%d-%d", c->topic, c->got);
		if (len != 2 + tlen + 2 + strlen(want) ||
		    memcmp(b + 4 + tlen, want, strlen(want)) != 0)
			fail_msg("client %d: expected message %s", i, want);
		ack[0] = b[2 + tlen];
		ack[1] = b[3 + tlen];
		nbclient_packet(&c->nc, 0x40, ack, 2);
		c->got++;
		break;
	case MQTT_PINGRESP:
		c->pongs++;
		break;
	default:
		fail_msg("client %d: unexpected packet type %d", i,
		    byte1 >> 4);
	}
}

/* Reads what is there and handles every whole packet. */
static void
lc_read(struct load *L, int i)
{
	struct lc *c = &L->c[i];
	struct nbpacket p;
	ssize_t n = nbclient_recv(&c->nc);

	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (c->role == ROLE_SLOW) {
		if (n > 0)
			fail_msg("slowloris %d: the broker answered", i);
		c->state = LC_CLOSED;
		c->t_closed = harness_now_ms();
		close(c->nc.fd);
		c->nc.fd = -1;
		L->slow_closed++;
		return;
	}
	if (n == 0 || n == -1)
		fail_msg("client %d (%s): connection lost after %lld ms: %s",
		    i, c->role == ROLE_PUB ? "publisher" : "subscriber",
		    harness_now_ms() - c->t_open,
		    n == 0 ? "closed" : strerror(errno));
	while (nbclient_peek(&c->nc, &p)) {
		handle(L, i, p.byte1, p.body, p.len);
		nbclient_drop(&c->nc, &p);
	}
}

/* ===== The loop ===== */

static void
lc_open(struct load *L, int i)
{
	nbclient_open(&L->c[i].nc, L->b, i);
	L->c[i].state = LC_CONNECTING;
	L->opening++;
}

/* The TCP connect of c finished: start its protocol. */
static void
lc_connected(struct load *L, int i)
{
	struct lc *c = &L->c[i];
	uint8_t pkt[64];
	size_t n;

	nbclient_check_connected(&c->nc, i);
	c->t_open = harness_now_ms();
	if (c->role == ROLE_SLOW) {
		L->opening--;
		c->state = LC_SLOW;
		connect_bytes(pkt, "slow", i);
		nbclient_send(&c->nc, pkt, 1);
		c->sent = 1;
		c->next_byte = c->t_open + L->slow_interval_ms;
		return;
	}
	n = connect_bytes(pkt, c->role == ROLE_PUB ? "pub" : "sub", i);
	nbclient_send(&c->nc, pkt, n);
	c->state = LC_WAIT_CONNACK;
}

static void
report(const struct load *L)
{
	int i, subs_done = 0, pubs_done = 0, pongs = 0;

	for (i = 0; i < L->n; i++) {
		if (L->c[i].role == ROLE_SUB && L->c[i].got == L->msgs)
			subs_done++;
		if (L->c[i].role == ROLE_PUB && L->c[i].got == L->msgs)
			pubs_done++;
		pongs += L->c[i].pongs;
	}
	fail_msg("after %d s: %d/%d opened, %d ready, subscribers done "
	    "%d/%d, publishers done %d/%d, slowloris closed %d/%d, "
	    "PINGRESPs %d", L->deadline_ms / 1000, L->opened, L->n,
	    L->ready, subs_done, L->nsub, pubs_done, L->npub, L->slow_closed,
	    L->nslow, pongs);
}

/* True once every subscriber and publisher has all its messages. */
static bool
all_delivered(const struct load *L)
{
	int i;

	for (i = L->nslow; i < L->n; i++)
		if (L->c[i].got != L->msgs)
			return false;
	return true;
}

static bool
all_ponged(const struct load *L)
{
	int i;

	for (i = L->nslow; i < L->n; i++)
		if (L->c[i].pongs != 1)
			return false;
	return true;
}

static void
load_run(struct load *L)
{
	static const uint8_t pingreq[2] = { 0xc0, 0x00 };
	long long deadline, now;
	uint8_t pkt[64];
	struct lc *c;
	int i, ngood = L->npub + L->nsub;

	L->n = L->nslow + ngood;
	L->c = calloc((size_t)L->n, sizeof(*L->c));
	L->pfd = calloc((size_t)L->n, sizeof(*L->pfd));
	assert_non_null(L->c);
	assert_non_null(L->pfd);
	for (i = 0; i < L->n; i++) {
		c = &L->c[i];
		c->nc.fd = -1;
		c->state = LC_UNOPENED;
		if (i < L->nslow)
			c->role = ROLE_SLOW;
		else if (i < L->nslow + L->npub) {
			c->role = ROLE_PUB;
			c->topic = i - L->nslow;
		} else {
			c->role = ROLE_SUB;
			c->topic = (i - L->nslow - L->npub) % L->npub;
		}
	}
	L->t0 = harness_now_ms();
	deadline = L->t0 + L->deadline_ms;
	for (;;) {
		now = harness_now_ms();
		if (now > deadline)
			report(L);
		while (L->opened < L->n && L->opening < MAX_OPENING)
			lc_open(L, L->opened++);
		if (!L->started && L->ready == ngood) {
			for (i = L->nslow; i < L->nslow + L->npub; i++)
				send_publishes(&L->c[i], L->msgs);
			L->started = 1;
			L->t_ready = now;
		}
		if (L->started && !L->pinging && all_delivered(L) &&
		    L->slow_closed == L->nslow && now >= L->t_ready +
		    L->hold_ms) {
			/* Still there, every one of them. */
			for (i = L->nslow; i < L->n; i++)
				nbclient_send(&L->c[i].nc, pingreq,
				    sizeof(pingreq));
			L->pinging = 1;
		}
		if (L->pinging && all_ponged(L))
			break;
		for (i = 0; i < L->n; i++) {
			c = &L->c[i];
			L->pfd[i].fd = c->nc.fd;
			L->pfd[i].events = c->state == LC_CONNECTING ?
			    POLLOUT : POLLIN;
			L->pfd[i].revents = 0;
			/* A slowloris's next byte. */
			if (c->state == LC_SLOW && now >= c->next_byte) {
				connect_bytes(pkt, "slow", i);
				if (send(c->nc.fd, pkt + c->sent, 1,
				    MSG_NOSIGNAL) == 1)
					c->sent++;
				c->next_byte = now + L->slow_interval_ms;
			}
		}
		if (poll(L->pfd, (nfds_t)L->n, 50) == -1 && errno != EINTR)
			fail_msg("poll: %s", strerror(errno));
		for (i = 0; i < L->n; i++) {
			if (L->pfd[i].revents == 0 || L->c[i].nc.fd == -1)
				continue;
			if (L->c[i].state == LC_CONNECTING)
				lc_connected(L, i);
			else
				lc_read(L, i);
		}
	}
}

static void
load_free(struct load *L)
{
	static const uint8_t disconnect[2] = { 0xe0, 0x00 };
	int i;

	for (i = 0; i < L->n; i++) {
		if (L->c[i].nc.fd == -1)
			continue;
		if (L->c[i].role != ROLE_SLOW)
			nbclient_send(&L->c[i].nc, disconnect,
			    sizeof(disconnect));
		close(L->c[i].nc.fd);
	}
	free(L->pfd);
	free(L->c);
}

/* ===== Tests ===== */

static struct harness_opts hold_opts = {
	.extra_ini = "[listener]\nmax_connections = 6000\n",
	.nofile = 5000 + 512
};

static struct harness_opts slowloris_opts = {
	.extra_ini = "[listener]\nmax_connections = 2000\n"
	    "connect_timeout = 2\n",
	.nofile = 1000
};

/* 5,000 connections at once; 100 publish 10 QoS 1 messages each to a
 * topic of their own, 49 subscribers per topic get all 10, in order;
 * then all 5,000 answer a PINGREQ. */
static void
test_hold_5000_connections_while_100_publish(void **state)
{
	struct load L = { .b = *state, .nslow = 0, .npub = 100,
	    .nsub = 4900, .msgs = 10, .hold_ms = 0, .deadline_ms = 50000 };
	long long t0 = harness_now_ms();

	harness_mqttd_only("5,000 connections need mosquitto's limits raised");
	load_run(&L);
	print_message("5000 connections: %d deliveries in %lld ms, slowest "
	    "CONNACK %lld ms\n", L.nsub * L.msgs, harness_now_ms() - t0,
	    L.worst_connack_ms);
	load_free(&L);
}

/*
 * 500 slowloris connections (one byte every 1.5 s), opened first, then
 * 10 publishers and 40 subscribers. The slow ones are closed 1.8 to
 * 3.5 s after they connected, having been sent nothing; the others get
 * their CONNACK within a second, all 10 messages of their publisher, and
 * still answer PINGREQ after the connect timeout has passed (3 s).
 */
static void
test_slowloris_burst_does_not_starve_clients(void **state)
{
	struct load L = { .b = *state, .nslow = 500, .npub = 10, .nsub = 40,
	    .msgs = 10, .slow_interval_ms = 1500, .hold_ms = 3000,
	    .deadline_ms = 30000 };
	long long t, tmin = -1, tmax = -1;
	int i;

	harness_mqttd_only("no connect_timeout option");
	load_run(&L);
	for (i = 0; i < L.nslow; i++) {
		t = L.c[i].t_closed - L.c[i].t_open;
		if (t < 1800 || t > 3500)
			fail_msg("slowloris %d closed after %lld ms, not at the "
			    "2 s connect timeout", i, t);
		if (tmin == -1 || t < tmin)
			tmin = t;
		if (t > tmax)
			tmax = t;
	}
	print_message("500 slowloris closed after %lld to %lld ms; slowest "
	    "CONNACK of the others %lld ms\n", tmin, tmax,
	    L.worst_connack_ms);
	if (L.worst_connack_ms > 1000)
		fail_msg("a well-behaved client waited %lld ms for CONNACK",
		    L.worst_connack_ms);
	assert_true(harness_log_contains(*state, "no CONNECT within 2 s",
	    HARNESS_TIMEOUT_MS));
	load_free(&L);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate_setup_teardown(
		    test_hold_5000_connections_while_100_publish,
		    harness_setup_broker_opts, harness_teardown_broker,
		    &hold_opts),
		cmocka_unit_test_prestate_setup_teardown(
		    test_slowloris_burst_does_not_starve_clients,
		    harness_setup_broker_opts, harness_teardown_broker,
		    &slowloris_opts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
