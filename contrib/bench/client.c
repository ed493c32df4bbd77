/*
 * client.c: one MQTT 3.1.1 client connection of mqttd-bench.
 *
 * Owns the socket (a bufferevent), the connection's state machine
 * (CONNECT/CONNACK, SUBSCRIBE/SUBACK, the QoS 1 and 2 flows in both
 * directions, DISCONNECT) and the per-client counters. Bytes go through
 * the project's codec: packet_frame() finds a packet in the input,
 * packet_decode() reads it in place, packet_encode() writes straight into
 * space reserved in the output evbuffer, so the hot path allocates
 * nothing. What a run does with clients (when to publish, when a phase
 * is over) is bench.c's business; a client only reports by bumping the
 * counters in struct bench and calling bench_poke().
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "packet.h"
#include "bench.h"

#define PID_BITMAP	(65536 / 8)

/* A QoS 1 or 2 message in flight: its packet identifier, when it left. */
struct inflight {
	uint64_t	 sent_ns;
	uint16_t	 pid;		/* 0: the slot is free */
};

static void	 client_read_cb(struct bufferevent *, void *);
static void	 client_write_cb(struct bufferevent *, void *);
static void	 client_event_cb(struct bufferevent *, short, void *);
static void	 client_fail(struct client *, const char *);
static void	 client_send(struct client *, const struct packet *);
static void	 client_send_ack(struct client *, enum packet_type, uint16_t);

static void *
xcalloc_or_die(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n, size)) == NULL) {
		fprintf(stderr, "mqttd-bench: out of memory\n");
		exit(2);
	}
	return p;
}

/* The slot table: the least power of two above the window. */
static void
client_slots_new(struct client *c)
{
	size_t	 n = 2;

	while (n <= c->b->window)
		n *= 2;
	c->slots = xcalloc_or_die(n, sizeof(*c->slots));
	c->slot_mask = (uint32_t)(n - 1);
}

/*
 * A client of role with index among its role and client identifier id.
 * The caller owns the result and releases it with client_free().
 */
struct client *
client_new(struct bench *b, enum client_role role, unsigned index,
    const char *id, bool clean)
{
	struct client	*c;

	c = xcalloc_or_die(1, sizeof(*c));
	c->b = b;
	c->role = role;
	c->index = index;
	c->clean = clean;
	c->state = CS_IDLE;
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->next_pid = 1;
	if (role == ROLE_PUB) {
		c->payload = xcalloc_or_die(1, b->payload_len);
		if (b->qos > 0)
			client_slots_new(c);
		if (b->layout == LAYOUT_SINGLE)
			snprintf(c->topic, sizeof(c->topic), "%s/all",
			    b->prefix);
		else
			snprintf(c->topic, sizeof(c->topic), "%s/%u",
			    b->prefix, index);
		c->topic_len = strlen(c->topic);
	} else if (role == ROLE_SUB) {
		c->seen = xcalloc_or_die(b->npubs ? b->npubs : 1,
		    sizeof(*c->seen));
		c->qos2_held = xcalloc_or_die(1, PID_BITMAP);
		c->lat = xcalloc_or_die(1, sizeof(*c->lat));
		c->subscribe = true;
	}
	return c;
}

void
client_free(struct client *c)
{
	unsigned	 i;

	if (c == NULL)
		return;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->retry_ev != NULL)
		event_free(c->retry_ev);
	if (c->seen != NULL)
		for (i = 0; i < (c->b->npubs ? c->b->npubs : 1); i++)
			seqmap_free(&c->seen[i]);
	free(c->seen);
	free(c->qos2_held);
	free(c->lat);
	free(c->payload);
	free(c->slots);
	free(c);
}

/* ===== Connecting ===== */

/*
 * Opens a socket to the broker and queues CONNECT on it: libevent sends
 * it as soon as the connection is up. Returns -1 if no socket could be
 * made (the client is then CS_FAILED).
 */
int
client_connect(struct client *c)
{
	struct bench	*b = c->b;
	struct packet	 p;

	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = bufferevent_socket_new(b->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		client_fail(c, "bufferevent_socket_new");
		return -1;
	}
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
	    client_event_cb, c);
	bufferevent_set_max_single_read(c->bev, 65536);
	if (c->role == ROLE_PUB && b->qos == 0)
		bufferevent_setwatermark(c->bev, EV_WRITE, b->qos0_buffer / 2,
		    0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->state = CS_CONNECTING;
	c->connect_ns = now_ns();

	memset(&p, 0, sizeof(p));
	p.type = PACKET_CONNECT;
	p.u.connect.level = MQTT_PROTO_V311;
	p.u.connect.clean_start = c->clean;
	p.u.connect.keep_alive = 0;	/* runs are short: no PINGREQ */
	p.u.connect.client_id.data = (const uint8_t *)c->id;
	p.u.connect.client_id.len = strlen(c->id);
	client_send(c, &p);

	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&b->addr,
	    (int)b->addrlen) == -1) {
		/* The event callback has not run: report here. */
		if (c->retry_refused) {
			client_event_cb(c->bev, BEV_EVENT_ERROR, c);
			return 0;
		}
		client_fail(c, strerror(errno));
		return -1;
	}
	return 0;
}

static void
client_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client	*c = arg;

	(void)fd;
	(void)what;
	client_connect(c);
}

void
client_disconnect(struct client *c)
{
	struct packet	 p;

	if (c->bev == NULL || c->state == CS_FAILED) {
		client_close(c);
		return;
	}
	memset(&p, 0, sizeof(p));
	p.type = PACKET_DISCONNECT;
	client_send(c, &p);
	c->state = CS_CLOSING;
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_disable(c->bev, EV_READ);
}

void
client_close(struct client *c)
{
	if (c->bev == NULL)
		return;
	bufferevent_free(c->bev);
	c->bev = NULL;
	c->b->n_closed++;
	if (c->state != CS_FAILED)
		c->state = CS_IDLE;
}

static void
client_fail(struct client *c, const char *why)
{
	struct bench	*b = c->b;

	if (c->state != CS_FAILED && c->state != CS_IDLE) {
		b->n_failed++;
		if (b->n_failed <= 5)
			fprintf(stderr, "mqttd-bench: %s: %s\n", c->id, why);
	}
	client_close(c);
	c->state = CS_FAILED;
}

/* ===== Writing ===== */

/*
 * Encodes p into space reserved at the end of the output buffer: one
 * copy, no allocation once the buffer has grown to its working size.
 */
static void
client_send(struct client *c, const struct packet *p)
{
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	struct evbuffer_iovec	 iov;
	size_t			 size, n;

	size = packet_encoded_size(p, MQTT_PROTO_V311);
	if (size == 0 || evbuffer_reserve_space(out, (ev_ssize_t)size,
	    &iov, 1) != 1) {
		fprintf(stderr, "mqttd-bench: cannot encode %s\n",
		    packet_type_name(p->type));
		exit(2);
	}
	n = packet_encode(p, MQTT_PROTO_V311, iov.iov_base, iov.iov_len);
	iov.iov_len = n;
	evbuffer_commit_space(out, &iov, 1);
}

static void
client_send_ack(struct client *c, enum packet_type type, uint16_t pid)
{
	struct packet	 p;

	p.type = type;
	p.flags = 0;
	p.props.items = NULL;
	p.props.count = 0;
	p.u.ack.packet_id = pid;
	p.u.ack.reason = 0;
	client_send(c, &p);
}

static void
client_subscribe(struct client *c)
{
	struct bench		*b = c->b;
	struct sub_request	*req;
	struct packet		 p;
	char			(*names)[64];
	size_t			 n, i;

	n = b->layout == LAYOUT_EACH && b->npubs > 0 ? b->npubs : 1;
	req = xcalloc_or_die(n, sizeof(*req));
	names = xcalloc_or_die(n, sizeof(*names));
	for (i = 0; i < n; i++) {
		if (b->layout == LAYOUT_SINGLE)
			snprintf(names[i], sizeof(names[i]), "%s/all",
			    b->prefix);
		else if (b->layout == LAYOUT_WILDCARD)
			snprintf(names[i], sizeof(names[i]), "%s/+", b->prefix);
		else
			snprintf(names[i], sizeof(names[i]), "%s/%zu",
			    b->prefix, i);
		req[i].filter.data = (const uint8_t *)names[i];
		req[i].filter.len = strlen(names[i]);
		req[i].qos = b->qos;
	}
	memset(&p, 0, sizeof(p));
	p.type = PACKET_SUBSCRIBE;
	p.u.subscribe.packet_id = 1;
	p.u.subscribe.topics = req;
	p.u.subscribe.count = n;
	client_send(c, &p);
	free(req);
	free(names);
	c->state = CS_SUBSCRIBING;
}

/*
 * Packet identifiers in flight live in the slot their low bits name,
 * with their send time. There are more slots than the window, so one is
 * always free; identifiers are taken in order, so two in flight fall on
 * one slot only when one is held up while a table's worth of later ones
 * complete. An identifier whose slot is taken is skipped.
 */
static uint16_t
client_take_pid(struct client *c, uint64_t now)
{
	uint16_t	 pid = c->next_pid;
	struct inflight	*s;

	while (c->slots[pid & c->slot_mask].pid != 0)
		pid = (uint16_t)(pid == 65535 ? 1 : pid + 1);
	s = &c->slots[pid & c->slot_mask];
	s->pid = pid;
	s->sent_ns = now;
	c->next_pid = (uint16_t)(pid == 65535 ? 1 : pid + 1);
	return pid;
}

/*
 * Releases pid and gives its send time; false if it was not in flight
 * (a stray acknowledgement).
 */
static bool
client_release_pid(struct client *c, uint16_t pid, uint64_t *sent_ns)
{
	struct inflight	*s = &c->slots[pid & c->slot_mask];

	if (pid == 0 || s->pid != pid)
		return false;
	s->pid = 0;
	*sent_ns = s->sent_ns;
	return true;
}

static void
client_publish_one(struct client *c)
{
	struct bench	*b = c->b;
	struct packet	 p;
	uint32_t	 magic = BENCH_MAGIC, idx = c->index;
	uint64_t	 seq = c->next_seq++, t = now_ns();

	memcpy(c->payload, &magic, 4);
	memcpy(c->payload + 4, &idx, 4);
	memcpy(c->payload + 8, &seq, 8);
	memcpy(c->payload + 16, &t, 8);

	p.type = PACKET_PUBLISH;
	p.flags = 0;
	p.props.items = NULL;
	p.props.count = 0;
	p.u.publish.dup = false;
	p.u.publish.qos = b->qos;
	p.u.publish.retain = false;
	p.u.publish.topic.data = (const uint8_t *)c->topic;
	p.u.publish.topic.len = c->topic_len;
	p.u.publish.packet_id = b->qos > 0 ? client_take_pid(c, t) : 0;
	p.u.publish.payload.data = c->payload;
	p.u.publish.payload.len = b->payload_len;
	client_send(c, &p);
	c->sent++;
	b->sent++;
	if (b->qos == 0)
		c->completed++;
}

/*
 * How many more messages the publishers may send before some subscriber
 * is max_lag messages behind (every subscriber gets every message);
 * UINT64_MAX without that bound. Without it a broker that takes messages
 * faster than it delivers them queues without end, and the latency
 * measured is the length of its queue. When the answer is 0, the
 * slowest subscriber is remembered: its next read wakes the publishers.
 */
static uint64_t
client_lag_room(struct bench *b)
{
	struct client	*slow = NULL;
	uint64_t	 least = UINT64_MAX, got;
	unsigned	 i;

	if (b->max_lag == 0 || b->nsubs == 0 || b->subs == NULL)
		return UINT64_MAX;
	for (i = 0; i < b->nsubs; i++) {
		got = b->subs[i]->received - b->subs[i]->received0;
		if (got < least) {
			least = got;
			slow = b->subs[i];
		}
	}
	if (b->sent >= least + b->max_lag) {
		b->lag_sub = slow;
		return 0;
	}
	return least + b->max_lag - b->sent;
}

/*
 * Whether the pacing (--rate) lets c send one more: the messages due so
 * far are dealt round the publishers one at a time, so c's share is
 * every npubs-th of them starting at its index.
 */
static bool
client_paced_ok(const struct client *c)
{
	const struct bench	*b = c->b;

	if (b->rate <= 0)
		return true;
	return c->sent < (b->rate_due + b->npubs - 1 - c->index) / b->npubs;
}

/*
 * Publishes while the publisher may: under its limit, with fewer than
 * window messages unacknowledged (QoS 1/2) or fewer than qos0_buffer
 * bytes unsent (QoS 0), within its share of the pacing, and while no
 * subscriber is max_lag behind.
 */
void
client_pub_fill(struct client *c)
{
	struct bench	*b = c->b;
	struct evbuffer	*out;
	uint64_t	 room;

	if (c->state != CS_READY || !b->publishing || c->bev == NULL)
		return;
	out = bufferevent_get_output(c->bev);
	room = client_lag_room(b);
	while (c->limit == 0 || c->sent < c->limit) {
		if (b->qos == 0) {
			if (evbuffer_get_length(out) >= b->qos0_buffer)
				break;
		} else if (c->sent - c->completed >= b->window)
			break;
		if (!client_paced_ok(c))
			break;
		if (room == 0) {
			if ((room = client_lag_room(b)) == 0)
				break;
		}
		client_publish_one(c);
		room--;
	}
	client_pub_check_done(c);
}

void
client_pub_check_done(struct client *c)
{
	struct bench	*b = c->b;

	if (c->pub_done || c->sent > c->completed)
		return;
	if (!b->publishing || (c->limit > 0 && c->sent >= c->limit)) {
		c->pub_done = true;
		b->n_pubs_done++;
	}
}

/* ===== Reading ===== */

typedef void (*packet_handler)(struct client *, const struct packet *,
    uint64_t now);

static void
on_connack(struct client *c, const struct packet *p, uint64_t now)
{
	struct bench	*b = c->b;

	if (c->state != CS_CONNECTING) {
		client_fail(c, "CONNACK out of place");
		return;
	}
	if (p->u.connack.code != CONNACK_ACCEPTED) {
		b->n_refused++;
		client_fail(c, "connection refused");
		return;
	}
	c->session_present = p->u.connack.session_present;
	b->n_connected++;
	if (b->connect_hist != NULL)
		hist_add(b->connect_hist, (now - c->connect_ns) / 1000);
	if (c->role == ROLE_SUB && c->subscribe)
		client_subscribe(c);
	else {
		c->state = CS_READY;
		if (c->role == ROLE_PUB)
			client_pub_fill(c);
	}
}

static void
on_suback(struct client *c, const struct packet *p, uint64_t now)
{
	size_t	 i;

	(void)now;
	if (c->state != CS_SUBSCRIBING) {
		client_fail(c, "SUBACK out of place");
		return;
	}
	for (i = 0; i < p->u.suback.count; i++)
		if (p->u.suback.codes[i] == SUBACK_FAILURE) {
			client_fail(c, "subscription refused");
			return;
		}
	c->state = CS_READY;
	c->b->n_subscribed++;
}

/* A message for a subscriber: check it, count it, acknowledge it. */
static void
on_publish(struct client *c, const struct packet *p, uint64_t now)
{
	struct bench			*b = c->b;
	const struct packet_publish	*pub = &p->u.publish;
	uint16_t			 pid = pub->packet_id;
	uint32_t			 magic, idx;
	uint64_t			 seq, t;

	if (c->role != ROLE_SUB) {
		b->foreign++;
		return;
	}
	if (pub->qos == 2) {
		uint8_t bit = (uint8_t)(1u << (pid & 7));

		client_send_ack(c, PACKET_PUBREC, pid);
		if (c->qos2_held[pid >> 3] & bit)
			return;		/* a resend before PUBREL: not new */
		c->qos2_held[pid >> 3] |= bit;
	} else if (pub->qos == 1)
		client_send_ack(c, PACKET_PUBACK, pid);

	c->received++;
	b->delivered++;
	b->t_last_delivery = now;
	if (pub->payload.len < BENCH_HEADER_LEN) {
		c->foreign++;
		b->foreign++;
		return;
	}
	memcpy(&magic, pub->payload.data, 4);
	memcpy(&idx, pub->payload.data + 4, 4);
	memcpy(&seq, pub->payload.data + 8, 8);
	memcpy(&t, pub->payload.data + 16, 8);
	if (magic != BENCH_MAGIC || idx >= b->npubs) {
		c->foreign++;
		b->foreign++;
		return;
	}
	seqmap_mark(&c->seen[idx], seq);
	if (b->record_latency && t >= b->t_start && now >= t)
		hist_add(c->lat, (now - t) / 1000);
}

/* PUBACK, or PUBCOMP at the end of a QoS 2 flow. */
static void
on_puback(struct client *c, const struct packet *p, uint64_t now)
{
	struct bench	*b = c->b;
	uint64_t	 sent_ns;

	if (c->role != ROLE_PUB || c->slots == NULL ||
	    !client_release_pid(c, p->u.ack.packet_id, &sent_ns)) {
		b->protocol_errors++;
		return;
	}
	if (b->ack_hist != NULL && sent_ns >= b->t_start && now >= sent_ns)
		hist_add(b->ack_hist, (now - sent_ns) / 1000);
	c->completed++;
	b->completed++;
	client_pub_check_done(c);
}

static void
on_pubrec(struct client *c, const struct packet *p, uint64_t now)
{
	(void)now;
	/* Answered even when unknown, as the sender expects [MQTT-4.3.3]. */
	client_send_ack(c, PACKET_PUBREL, p->u.ack.packet_id);
}

static void
on_pubrel(struct client *c, const struct packet *p, uint64_t now)
{
	uint16_t	 pid = p->u.ack.packet_id;

	(void)now;
	if (c->qos2_held != NULL)
		c->qos2_held[pid >> 3] &= (uint8_t)~(1u << (pid & 7));
	client_send_ack(c, PACKET_PUBCOMP, pid);
}

static void
on_ignore(struct client *c, const struct packet *p, uint64_t now)
{
	(void)c;
	(void)p;
	(void)now;
}

static void
on_unexpected(struct client *c, const struct packet *p, uint64_t now)
{
	(void)now;
	c->b->protocol_errors++;
	fprintf(stderr, "mqttd-bench: %s: unexpected %s\n", c->id,
	    packet_type_name(p->type));
}

/* By packet type: what a client does with a packet from the broker. */
static const packet_handler handlers[16] = {
	[PACKET_RESERVED] = on_unexpected,
	[PACKET_CONNECT] = on_unexpected,
	[PACKET_CONNACK] = on_connack,
	[PACKET_PUBLISH] = on_publish,
	[PACKET_PUBACK] = on_puback,
	[PACKET_PUBREC] = on_pubrec,
	[PACKET_PUBREL] = on_pubrel,
	[PACKET_PUBCOMP] = on_puback,	/* the end of a QoS 2 flow */
	[PACKET_SUBSCRIBE] = on_unexpected,
	[PACKET_SUBACK] = on_suback,
	[PACKET_UNSUBSCRIBE] = on_unexpected,
	[PACKET_UNSUBACK] = on_ignore,
	[PACKET_PINGREQ] = on_unexpected,
	[PACKET_PINGRESP] = on_ignore,
	[PACKET_DISCONNECT] = on_unexpected,
	[PACKET_AUTH] = on_unexpected,
};

/*
 * Takes every whole packet out of the input buffer. A packet that spans
 * evbuffer chains is made contiguous by evbuffer_pullup(), which returns
 * the data in place when it is already contiguous (the usual case).
 */
static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct client		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct packet_frame	 fr;
	struct packet		 p;
	enum packet_err		 err;
	const char		*why;
	uint64_t		 now = now_ns();
	uint8_t			*buf;
	size_t			 len, head;

	while (c->bev == bev && (len = evbuffer_get_length(in)) >= 2) {
		head = len < 5 ? len : 5;
		buf = evbuffer_pullup(in, (ev_ssize_t)head);
		err = packet_frame(buf, head, MQTT_MAX_PACKET, &fr);
		if (err == PACKET_NEED_MORE) {
			if (fr.total == 0 || fr.total > len)
				break;
		} else if (err != PACKET_OK) {
			client_fail(c, packet_strerror(err));
			break;
		}
		buf = evbuffer_pullup(in, (ev_ssize_t)fr.total);
		err = packet_decode(buf, fr.total, MQTT_PROTO_V311, &p, &why);
		if (err != PACKET_OK) {
			client_fail(c, why != NULL ? why :
			    packet_strerror(err));
			break;
		}
		handlers[p.type & 15](c, &p, now);
		packet_free(&p);
		if (c->bev != bev)
			break;		/* the handler closed the socket */
		evbuffer_drain(in, fr.total);
	}
	if (c->role == ROLE_PUB && c->bev == bev)
		client_pub_fill(c);
	else if (c->b->lag_sub == c) {
		struct bench	*b = c->b;
		unsigned	 i;

		b->lag_sub = NULL;
		for (i = 0; i < b->npubs; i++)
			client_pub_fill(b->pubs[i]);
	}
	bench_poke(c->b);
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;

	(void)bev;
	if (c->state == CS_CLOSING) {
		client_close(c);
		bench_poke(c->b);
	} else if (c->role == ROLE_PUB && c->b->qos == 0) {
		client_pub_fill(c);
		bench_poke(c->b);
	}
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client	*c = arg;
	int		 one = 1;

	if (what & BEV_EVENT_CONNECTED) {
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY,
		    &one, sizeof(one));
		return;
	}
	if (c->state == CS_CLOSING) {
		client_close(c);
	} else if (c->retry_refused && c->state == CS_CONNECTING) {
		/* The broker is not listening yet: try again shortly. */
		struct timeval tv = { 0, 5000 };

		bufferevent_free(c->bev);
		c->bev = NULL;
		c->state = CS_IDLE;
		if (c->retry_ev == NULL)
			c->retry_ev = evtimer_new(c->b->base, client_retry_cb,
			    c);
		evtimer_add(c->retry_ev, &tv);
	} else {
		client_fail(c, (what & BEV_EVENT_EOF) ?
		    "connection closed by the broker" :
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	}
	bench_poke(c->b);
}
