/*
 * client.c: the MQTT 3.1.1 client library (see client.h).
 *
 * One struct mqtt_client owns one bufferevent, two timers and the
 * client's half of the session: outgoing QoS 1/2 messages (in flight or
 * queued behind the window) and the packet ids of incoming QoS 2
 * messages waiting for their PUBREL. The broker's half lives in the broker.
 *
 * Outgoing messages are encoded once, into the allocation that keeps them;
 * sending is a copy of those bytes into the socket's buffer, and resending
 * sets the DUP bit in a copy of the first byte. QoS 0 messages are encoded
 * straight into the socket's buffer and not kept.
 *
 * Incoming packets are framed and decoded in place in the input buffer;
 * the message callback sees views into it, no copy.
 *
 * No printing, no blocking (except resolving the host name in
 * mqtt_client_connect()), no exit: errors are values.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "client.h"
#include "packet.h"
#include "topic.h"
#include "utf8.h"
#include "xmalloc.h"

#define CLIENT_LEVEL		MQTT_PROTO_V311
#define DEFAULT_INFLIGHT	32
#define DEFAULT_QUEUED		10000
#define DEFAULT_CONNECT_TIMEOUT	30
/* How long a DISCONNECT may take to leave before the socket is closed. */
#define DISCONNECT_LINGER_MS	2000
/* Largest packet accepted from the broker. */
#define CLIENT_MAX_PACKET	MQTT_MAX_PACKET

enum client_state {
	ST_IDLE,		/* no connection, none coming */
	ST_CONNECTING,		/* TCP connect in progress */
	ST_CONNACK_WAIT,	/* CONNECT sent */
	ST_CONNECTED,
	ST_DISCONNECTING,	/* DISCONNECT queued, closing when written */
	ST_RECONNECT_WAIT	/* lost; trying again when the timer fires */
};

enum out_state {
	OUT_QUEUED,		/* behind the window, no packet id yet */
	OUT_PUBLISH_SENT,	/* waiting for PUBACK or PUBREC */
	OUT_PUBREL_SENT		/* QoS 2: waiting for PUBCOMP */
};

/* One outgoing QoS 1/2 message and its encoded PUBLISH. */
struct outmsg {
	TAILQ_ENTRY(outmsg)	 entry;
	uint64_t		 token;
	uint16_t		 packet_id;
	uint8_t			 qos;
	enum out_state		 state;
	size_t			 id_off;	/* where the packet id sits in data */
	size_t			 len;
	uint8_t			 data[];
};
TAILQ_HEAD(outmsg_list, outmsg);

struct mqtt_client {
	struct event_base	*base;
	struct mqtt_client_cb	 cb;
	void			*arg;

	/* Options, owned copies. */
	char			*host;
	uint16_t		 port;
	char			*client_id;
	char			*username;
	char			*password;
	bool			 clean_session;
	uint16_t		 keep_alive;
	unsigned		 connect_timeout;
	unsigned		 reconnect_delay;
	unsigned		 max_inflight;
	size_t			 max_queued;
	bool			 will;
	char			*will_topic;
	uint8_t			*will_payload;
	size_t			 will_payload_len;
	uint8_t			 will_qos;
	bool			 will_retain;

	/* Connection. */
	enum client_state	 state;
	struct bufferevent	*bev;
	struct event		*timer;		/* connect timeout, reconnect, linger */
	struct event		*ping;		/* keep-alive tick, every keep_alive/2 */
	bool			 sent_since_tick;
	unsigned		 ping_ticks;	/* ticks since PINGREQ; 0 = none out */
	int			 sys_errno;

	/* Session, client side. */
	struct outmsg_list	 inflight;	/* in the order they were sent */
	struct outmsg_list	 queue;
	size_t			 ninflight;
	size_t			 nqueued;
	uint64_t		 next_token;
	uint16_t		 next_id;
	uint8_t			*ids_used;	/* bitmap of 65536, lazily allocated */
	uint8_t			*qos2_in;	/* same, incoming QoS 2 awaiting PUBREL */

	/* Re-entrancy: a callback may free the client. */
	unsigned		 depth;
	bool			 dead;
};

static void	client_read_cb(struct bufferevent *, void *);
static void	client_write_cb(struct bufferevent *, void *);
static void	client_event_cb(struct bufferevent *, short, void *);
static void	client_timer_cb(evutil_socket_t, short, void *);
static void	client_ping_cb(evutil_socket_t, short, void *);
static void	client_close(struct mqtt_client *, enum mqtt_client_err, uint8_t);
static void	client_pump(struct mqtt_client *);

/* ===== Options, creation, release ===== */

void
mqtt_client_options_init(struct mqtt_client_options *o)
{
	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->port = 1883;
	o->client_id = "";
	o->clean_session = true;
	o->keep_alive = 60;
}

static char *
strdup_or_null(const char *s)
{
	return s == NULL ? NULL : xstrdup(s);
}

struct mqtt_client *
mqtt_client_new(struct event_base *base, const struct mqtt_client_options *o,
    const struct mqtt_client_cb *cb, void *arg)
{
	struct mqtt_client	*c;

	c = xcalloc(1, sizeof(*c));
	c->base = base;
	if (cb != NULL)
		c->cb = *cb;
	c->arg = arg;
	c->host = xstrdup(o->host != NULL ? o->host : "127.0.0.1");
	c->port = o->port != 0 ? o->port : 1883;
	c->client_id = xstrdup(o->client_id != NULL ? o->client_id : "");
	c->username = strdup_or_null(o->username);
	c->password = strdup_or_null(o->password);
	c->clean_session = o->clean_session;
	c->keep_alive = o->keep_alive;
	c->connect_timeout = o->connect_timeout != 0 ? o->connect_timeout :
	    DEFAULT_CONNECT_TIMEOUT;
	c->reconnect_delay = o->reconnect_delay;
	c->max_inflight = o->max_inflight != 0 ? o->max_inflight :
	    DEFAULT_INFLIGHT;
	if (c->max_inflight > 65535)
		c->max_inflight = 65535;
	c->max_queued = o->max_queued != 0 ? o->max_queued : DEFAULT_QUEUED;
	if (o->will && o->will_topic != NULL) {
		c->will = true;
		c->will_topic = xstrdup(o->will_topic);
		c->will_payload = xmemdup(o->will_payload, o->will_payload_len);
		c->will_payload_len = o->will_payload_len;
		c->will_qos = o->will_qos;
		c->will_retain = o->will_retain;
	}
	TAILQ_INIT(&c->inflight);
	TAILQ_INIT(&c->queue);
	c->next_id = 1;
	c->next_token = 1;
	c->timer = evtimer_new(base, client_timer_cb, c);
	c->ping = event_new(base, -1, EV_PERSIST, client_ping_cb, c);
	if (c->timer == NULL || c->ping == NULL) {
		mqtt_client_free(c);
		return NULL;
	}
	return c;
}

static void
client_destroy(struct mqtt_client *c)
{
	struct outmsg	*m;

	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->ping != NULL)
		event_free(c->ping);
	while ((m = TAILQ_FIRST(&c->inflight)) != NULL) {
		TAILQ_REMOVE(&c->inflight, m, entry);
		free(m);
	}
	while ((m = TAILQ_FIRST(&c->queue)) != NULL) {
		TAILQ_REMOVE(&c->queue, m, entry);
		free(m);
	}
	free(c->host);
	free(c->client_id);
	free(c->username);
	free(c->password);
	free(c->will_topic);
	free(c->will_payload);
	free(c->ids_used);
	free(c->qos2_in);
	free(c);
}

void
mqtt_client_free(struct mqtt_client *c)
{
	if (c == NULL)
		return;
	if (c->depth > 0) {
		/* Inside a callback: finish when the callback returns. */
		c->dead = true;
		if (c->bev != NULL) {
			bufferevent_free(c->bev);
			c->bev = NULL;
		}
		event_del(c->timer);
		event_del(c->ping);
		return;
	}
	client_destroy(c);
}

/*
 * Brackets a callback. leave() returns true when the client was freed
 * inside it: the caller must then touch nothing of c.
 */
static void
enter(struct mqtt_client *c)
{
	c->depth++;
}

static bool
leave(struct mqtt_client *c)
{
	c->depth--;
	if (c->dead) {
		if (c->depth == 0)
			client_destroy(c);
		return true;
	}
	return false;
}

/* ===== Packet ids ===== */

static bool
bit_test(const uint8_t *map, uint16_t id)
{
	return map != NULL && (map[id >> 3] & (1u << (id & 7))) != 0;
}

static void
bit_set(uint8_t **map, uint16_t id)
{
	if (*map == NULL)
		*map = xcalloc(65536 / 8, 1);
	(*map)[id >> 3] |= (uint8_t)(1u << (id & 7));
}

static void
bit_clear(uint8_t *map, uint16_t id)
{
	if (map != NULL)
		map[id >> 3] &= (uint8_t)~(1u << (id & 7));
}

/* Returns a packet id not in use, marked as used; 0 when all are taken. */
static uint16_t
id_alloc(struct mqtt_client *c)
{
	unsigned	 tries;
	uint16_t	 id;

	for (tries = 0; tries < 65535; tries++) {
		id = c->next_id;
		c->next_id = id == 65535 ? 1 : id + 1;
		if (!bit_test(c->ids_used, id)) {
			bit_set(&c->ids_used, id);
			return id;
		}
	}
	return 0;
}

/* After a lost connection only the ids of messages in flight stay used. */
static void
ids_reset(struct mqtt_client *c)
{
	struct outmsg	*m;

	if (c->ids_used != NULL)
		memset(c->ids_used, 0, 65536 / 8);
	TAILQ_FOREACH(m, &c->inflight, entry)
		bit_set(&c->ids_used, m->packet_id);
}

/* ===== Output ===== */

static void
sent(struct mqtt_client *c)
{
	c->sent_since_tick = true;
}

/* Encodes p into the socket's output buffer. */
static enum mqtt_client_err
send_packet(struct mqtt_client *c, const struct packet *p)
{
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	struct evbuffer_iovec	 vec;
	size_t			 size;

	if (c->bev == NULL || (c->state != ST_CONNECTED &&
	    c->state != ST_CONNACK_WAIT))
		return MQTT_CLIENT_ERR_STATE;
	if ((size = packet_encoded_size(p, CLIENT_LEVEL)) == 0)
		return MQTT_CLIENT_ERR_ARG;
	if (evbuffer_reserve_space(out, (ev_ssize_t)size, &vec, 1) < 1)
		return MQTT_CLIENT_ERR_NOMEM;
	if (packet_encode(p, CLIENT_LEVEL, vec.iov_base, size) != size)
		return MQTT_CLIENT_ERR_ARG;
	vec.iov_len = size;
	if (evbuffer_commit_space(out, &vec, 1) == -1)
		return MQTT_CLIENT_ERR_NOMEM;
	sent(c);
	return MQTT_CLIENT_OK;
}

static void
send_ack(struct mqtt_client *c, enum packet_type type, uint16_t id)
{
	struct packet	 p = { .type = type };

	p.u.ack.packet_id = id;
	(void)send_packet(c, &p);
}

/* Sends m's PUBLISH, with DUP when it is a resend. */
static void
send_outmsg(struct mqtt_client *c, struct outmsg *m, bool dup)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	uint8_t		 first;

	first = dup ? (uint8_t)(m->data[0] | 0x08) : (uint8_t)(m->data[0] & ~0x08);
	evbuffer_add(out, &first, 1);
	evbuffer_add(out, m->data + 1, m->len - 1);
	sent(c);
}

static void
send_connect(struct mqtt_client *c)
{
	struct packet		 p = { .type = PACKET_CONNECT };
	struct packet_connect	*k = &p.u.connect;

	k->protocol_name.data = (const uint8_t *)"MQTT";
	k->protocol_name.len = 4;
	k->level = CLIENT_LEVEL;
	k->clean_start = c->clean_session;
	k->keep_alive = c->keep_alive;
	k->client_id.data = (const uint8_t *)c->client_id;
	k->client_id.len = strlen(c->client_id);
	if (c->will) {
		k->will_flag = true;
		k->will_qos = c->will_qos;
		k->will_retain = c->will_retain;
		k->will_topic.data = (const uint8_t *)c->will_topic;
		k->will_topic.len = strlen(c->will_topic);
		k->will_payload.data = c->will_payload;
		k->will_payload.len = c->will_payload_len;
	}
	if (c->username != NULL) {
		k->has_username = true;
		k->username.data = (const uint8_t *)c->username;
		k->username.len = strlen(c->username);
	}
	if (c->password != NULL) {
		k->has_password = true;
		k->password.data = (const uint8_t *)c->password;
		k->password.len = strlen(c->password);
	}
	(void)send_packet(c, &p);
}

/* ===== Connecting and closing ===== */

static void
timer_arm(struct event *ev, unsigned ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

static enum mqtt_client_err
client_start(struct mqtt_client *c)
{
	struct evutil_addrinfo	 hints, *ai = NULL;
	char			 port[8];
	int			 rv;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	snprintf(port, sizeof(port), "%u", c->port);
	if ((rv = evutil_getaddrinfo(c->host, port, &hints, &ai)) != 0 ||
	    ai == NULL)
		return MQTT_CLIENT_ERR_RESOLVE;
	c->bev = bufferevent_socket_new(c->base, -1,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (c->bev == NULL) {
		evutil_freeaddrinfo(ai);
		return MQTT_CLIENT_ERR_NOMEM;
	}
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
	    client_event_cb, c);
	c->sys_errno = 0;
	c->state = ST_CONNECTING;
	if (bufferevent_socket_connect(c->bev, ai->ai_addr,
	    (int)ai->ai_addrlen) == -1) {
		c->sys_errno = errno;
		evutil_freeaddrinfo(ai);
		bufferevent_free(c->bev);
		c->bev = NULL;
		c->state = ST_IDLE;
		return MQTT_CLIENT_ERR_CONNECT;
	}
	evutil_freeaddrinfo(ai);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	timer_arm(c->timer, c->connect_timeout * 1000);
	return MQTT_CLIENT_OK;
}

enum mqtt_client_err
mqtt_client_connect(struct mqtt_client *c)
{
	if (c->state != ST_IDLE && c->state != ST_RECONNECT_WAIT)
		return MQTT_CLIENT_ERR_STATE;
	if (!c->clean_session && c->client_id[0] == '\0')
		return MQTT_CLIENT_ERR_ARG;	/* [MQTT-3.1.3-7] */
	event_del(c->timer);
	return client_start(c);
}

/*
 * Ends the connection and tells the user. A lost connection of a client
 * with reconnect_delay is tried again later (not after a refusal: the
 * same CONNECT would be refused again).
 */
static void
client_close(struct mqtt_client *c, enum mqtt_client_err err, uint8_t code)
{
	bool	 again;

	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	event_del(c->timer);
	event_del(c->ping);
	c->ping_ticks = 0;
	ids_reset(c);
	again = err != MQTT_CLIENT_OK && err != MQTT_CLIENT_ERR_REFUSED &&
	    err != MQTT_CLIENT_ERR_RESOLVE && c->reconnect_delay > 0;
	if (again) {
		c->state = ST_RECONNECT_WAIT;
		timer_arm(c->timer, c->reconnect_delay * 1000);
	} else
		c->state = ST_IDLE;
	if (c->cb.closed != NULL) {
		enter(c);
		c->cb.closed(c, err, code, again, c->arg);
		(void)leave(c);
	}
}

enum mqtt_client_err
mqtt_client_disconnect(struct mqtt_client *c)
{
	struct packet	 p = { .type = PACKET_DISCONNECT };

	switch (c->state) {
	case ST_IDLE:
	case ST_DISCONNECTING:
		return MQTT_CLIENT_ERR_STATE;
	case ST_RECONNECT_WAIT:
		/* Nothing to say goodbye on: just stop trying. */
		event_del(c->timer);
		c->state = ST_IDLE;
		return MQTT_CLIENT_OK;
	case ST_CONNECTING:
	case ST_CONNACK_WAIT:
		/* Give up the attempt; closed runs from the timer. */
		bufferevent_free(c->bev);
		c->bev = NULL;
		c->state = ST_DISCONNECTING;
		timer_arm(c->timer, 0);
		return MQTT_CLIENT_OK;
	case ST_CONNECTED:
		break;
	}
	(void)send_packet(c, &p);
	c->state = ST_DISCONNECTING;
	event_del(c->ping);
	bufferevent_disable(c->bev, EV_READ);
	timer_arm(c->timer, DISCONNECT_LINGER_MS);
	return MQTT_CLIENT_OK;
}

static void
client_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mqtt_client	*c = arg;
	enum mqtt_client_err	 err;

	(void)fd; (void)what;
	switch (c->state) {
	case ST_CONNECTING:
	case ST_CONNACK_WAIT:
		client_close(c, MQTT_CLIENT_ERR_TIMEOUT, 0);
		break;
	case ST_DISCONNECTING:
		client_close(c, MQTT_CLIENT_OK, 0);
		break;
	case ST_RECONNECT_WAIT:
		if ((err = client_start(c)) != MQTT_CLIENT_OK)
			client_close(c, err, 0);
		break;
	case ST_IDLE:
	case ST_CONNECTED:
		break;
	}
}

/*
 * Keep-alive: ticks every keep_alive/2. A tick finding nothing sent since
 * the previous one sends PINGREQ, so the broker hears from the client at
 * least every keep_alive seconds [MQTT-3.1.2-23]; a PINGREQ unanswered
 * for two ticks means the connection is dead.
 */
static void
client_ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mqtt_client	*c = arg;
	struct packet		 p = { .type = PACKET_PINGREQ };

	(void)fd; (void)what;
	if (c->state != ST_CONNECTED)
		return;
	if (c->ping_ticks > 0 && ++c->ping_ticks > 2) {
		client_close(c, MQTT_CLIENT_ERR_KEEPALIVE, 0);
		return;
	}
	if (!c->sent_since_tick && c->ping_ticks == 0) {
		(void)send_packet(c, &p);
		c->ping_ticks = 1;
	}
	c->sent_since_tick = false;
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct mqtt_client	*c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		c->state = ST_CONNACK_WAIT;
		send_connect(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		c->sys_errno = EVUTIL_SOCKET_ERROR();
		client_close(c, c->state == ST_CONNECTING ?
		    MQTT_CLIENT_ERR_CONNECT : MQTT_CLIENT_ERR_IO, 0);
	} else if (what & BEV_EVENT_EOF)
		client_close(c, c->state == ST_DISCONNECTING ?
		    MQTT_CLIENT_OK : MQTT_CLIENT_ERR_CLOSED, 0);
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct mqtt_client	*c = arg;

	(void)bev;
	if (c->state == ST_DISCONNECTING) {
		client_close(c, MQTT_CLIENT_OK, 0);
		return;
	}
	if (c->cb.drained != NULL) {
		enter(c);
		c->cb.drained(c, c->arg);
		(void)leave(c);
	}
}

/* ===== Input: one handler per packet type ===== */

typedef void	 handler_fn(struct mqtt_client *, const struct packet *);

static void
handle_connack(struct mqtt_client *c, const struct packet *p)
{
	const struct packet_connack	*k = &p->u.connack;
	struct outmsg			*m, *next;
	struct timeval			 tv;

	if (c->state != ST_CONNACK_WAIT) {
		client_close(c, MQTT_CLIENT_ERR_PROTOCOL, 0);
		return;
	}
	if (k->code != CONNACK_ACCEPTED) {
		client_close(c, MQTT_CLIENT_ERR_REFUSED, k->code);
		return;
	}
	event_del(c->timer);
	c->state = ST_CONNECTED;
	c->ping_ticks = 0;
	c->sent_since_tick = false;
	if (c->keep_alive > 0) {
		tv.tv_sec = c->keep_alive / 2;
		tv.tv_usec = (c->keep_alive % 2) * 500000;
		event_add(c->ping, &tv);
	}

	/*
	 * Messages left in flight by the previous connection: with the
	 * session present the broker knows them, so they are resent as they
	 * were [MQTT-4.4.0-1]; without it, a PUBLISH is sent again as a new
	 * message and a message already at PUBREL is done.
	 */
	enter(c);
	for (m = TAILQ_FIRST(&c->inflight); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		if (k->session_present) {
			if (m->state == OUT_PUBLISH_SENT)
				send_outmsg(c, m, true);
			else
				send_ack(c, PACKET_PUBREL, m->packet_id);
			continue;
		}
		if (m->state == OUT_PUBLISH_SENT) {
			send_outmsg(c, m, false);
			continue;
		}
		TAILQ_REMOVE(&c->inflight, m, entry);
		c->ninflight--;
		bit_clear(c->ids_used, m->packet_id);
		if (c->cb.published != NULL)
			c->cb.published(c, m->token, c->arg);
		free(m);
		if (c->dead)
			break;
	}
	if (!c->dead && !k->session_present && c->qos2_in != NULL)
		memset(c->qos2_in, 0, 65536 / 8);
	if (!c->dead)
		client_pump(c);
	if (!c->dead && c->cb.connected != NULL)
		c->cb.connected(c, k->session_present, c->arg);
	(void)leave(c);
}

static void
deliver(struct mqtt_client *c, const struct packet_publish *pub)
{
	struct mqtt_message	 msg;

	if (c->cb.message == NULL)
		return;
	msg.topic = (const char *)pub->topic.data;
	msg.topic_len = pub->topic.len;
	msg.payload = pub->payload.data;
	msg.payload_len = pub->payload.len;
	msg.qos = pub->qos;
	msg.retain = pub->retain;
	msg.dup = pub->dup;
	msg.packet_id = pub->packet_id;
	c->cb.message(c, &msg, c->arg);
}

/*
 * The acknowledgement goes out before the message is handed over, so a
 * user who disconnects inside the message callback has still
 * acknowledged what it saw (and a persistent session does not get it
 * again).
 */
static void
handle_publish(struct mqtt_client *c, const struct packet *p)
{
	const struct packet_publish	*pub = &p->u.publish;

	switch (pub->qos) {
	case 0:
		break;
	case 1:
		send_ack(c, PACKET_PUBACK, pub->packet_id);
		break;
	default:
		send_ack(c, PACKET_PUBREC, pub->packet_id);
		/* Once per packet id until its PUBREL [MQTT-4.3.3-2]. */
		if (bit_test(c->qos2_in, pub->packet_id))
			return;
		bit_set(&c->qos2_in, pub->packet_id);
		break;
	}
	enter(c);
	deliver(c, pub);
	(void)leave(c);
}

static void
handle_pubrel(struct mqtt_client *c, const struct packet *p)
{
	bit_clear(c->qos2_in, p->u.ack.packet_id);
	send_ack(c, PACKET_PUBCOMP, p->u.ack.packet_id);
}

static struct outmsg *
inflight_find(struct mqtt_client *c, uint16_t id)
{
	struct outmsg	*m;

	TAILQ_FOREACH(m, &c->inflight, entry)
		if (m->packet_id == id)
			return m;
	return NULL;
}

/* m is acknowledged for good: release it and let the next one go. */
static void
outmsg_done(struct mqtt_client *c, struct outmsg *m)
{
	uint64_t	 token = m->token;

	TAILQ_REMOVE(&c->inflight, m, entry);
	c->ninflight--;
	bit_clear(c->ids_used, m->packet_id);
	free(m);
	client_pump(c);
	if (c->cb.published != NULL) {
		enter(c);
		c->cb.published(c, token, c->arg);
		(void)leave(c);
	}
}

static void
handle_puback(struct mqtt_client *c, const struct packet *p)
{
	struct outmsg	*m;

	m = inflight_find(c, p->u.ack.packet_id);
	if (m != NULL && m->qos == 1)
		outmsg_done(c, m);
}

static void
handle_pubrec(struct mqtt_client *c, const struct packet *p)
{
	struct outmsg	*m;

	m = inflight_find(c, p->u.ack.packet_id);
	if (m != NULL && m->qos == 2)
		m->state = OUT_PUBREL_SENT;
	/* An unknown id is answered too, so the broker can forget it. */
	send_ack(c, PACKET_PUBREL, p->u.ack.packet_id);
}

static void
handle_pubcomp(struct mqtt_client *c, const struct packet *p)
{
	struct outmsg	*m;

	m = inflight_find(c, p->u.ack.packet_id);
	if (m != NULL && m->state == OUT_PUBREL_SENT)
		outmsg_done(c, m);
}

static void
handle_suback(struct mqtt_client *c, const struct packet *p)
{
	bit_clear(c->ids_used, p->u.suback.packet_id);
	if (c->cb.subscribed != NULL) {
		enter(c);
		c->cb.subscribed(c, p->u.suback.packet_id, p->u.suback.codes,
		    p->u.suback.count, c->arg);
		(void)leave(c);
	}
}

static void
handle_unsuback(struct mqtt_client *c, const struct packet *p)
{
	bit_clear(c->ids_used, p->u.suback.packet_id);
	if (c->cb.unsubscribed != NULL) {
		enter(c);
		c->cb.unsubscribed(c, p->u.suback.packet_id, c->arg);
		(void)leave(c);
	}
}

static void
handle_pingresp(struct mqtt_client *c, const struct packet *p)
{
	(void)p;
	c->ping_ticks = 0;
}

/* What the broker may send a client; NULL: a protocol error. */
static handler_fn *const handlers[16] = {
	[PACKET_CONNACK] = handle_connack,
	[PACKET_PUBLISH] = handle_publish,
	[PACKET_PUBACK] = handle_puback,
	[PACKET_PUBREC] = handle_pubrec,
	[PACKET_PUBREL] = handle_pubrel,
	[PACKET_PUBCOMP] = handle_pubcomp,
	[PACKET_SUBACK] = handle_suback,
	[PACKET_UNSUBACK] = handle_unsuback,
	[PACKET_PINGRESP] = handle_pingresp,
};

/* Only a CONNACK may come before the CONNACK [MQTT-3.2.0-1]. */
static bool
expected(const struct mqtt_client *c, enum packet_type type)
{
	if (c->state == ST_CONNACK_WAIT)
		return type == PACKET_CONNACK;
	return c->state == ST_CONNECTED && type != PACKET_CONNACK;
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct mqtt_client	*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct packet_frame	 f;
	struct packet		 p;
	enum packet_err		 err;
	const uint8_t		*buf;
	size_t			 len, peek;
	handler_fn		*fn;

	enter(c);
	while (c->bev == bev && (c->state == ST_CONNACK_WAIT ||
	    c->state == ST_CONNECTED) && (len = evbuffer_get_length(in)) > 0) {
		peek = len < 5 ? len : 5;
		buf = evbuffer_pullup(in, (ev_ssize_t)peek);
		err = packet_frame(buf, peek, CLIENT_MAX_PACKET, &f);
		if (err == PACKET_NEED_MORE && f.total != 0 && len >= f.total)
			err = PACKET_OK;
		if (err == PACKET_NEED_MORE || (err == PACKET_OK &&
		    len < f.total))
			break;
		if (err != PACKET_OK) {
			client_close(c, MQTT_CLIENT_ERR_PROTOCOL, 0);
			break;
		}
		buf = evbuffer_pullup(in, (ev_ssize_t)f.total);
		if (packet_decode(buf, f.total, CLIENT_LEVEL, &p, NULL) !=
		    PACKET_OK) {
			client_close(c, MQTT_CLIENT_ERR_PROTOCOL, 0);
			break;
		}
		fn = handlers[p.type & 15];
		if (fn == NULL || !expected(c, p.type)) {
			packet_free(&p);
			client_close(c, MQTT_CLIENT_ERR_PROTOCOL, 0);
			break;
		}
		fn(c, &p);
		packet_free(&p);
		if (c->dead || c->bev != bev)
			break;
		evbuffer_drain(in, f.total);
	}
	(void)leave(c);
}

/* ===== Subscribing ===== */

static enum mqtt_client_err
check_filter(const char *filter)
{
	size_t	 len = strlen(filter);

	if (!utf8_valid((const uint8_t *)filter, len) ||
	    topic_filter_validate(filter, len, NULL) != TOPIC_OK)
		return MQTT_CLIENT_ERR_TOPIC;
	return MQTT_CLIENT_OK;
}

/* A SUBSCRIBE or UNSUBSCRIBE needs a connection and at least one filter. */
static enum mqtt_client_err
check_request(const struct mqtt_client *c, size_t count)
{
	if (c->state != ST_CONNECTED)
		return MQTT_CLIENT_ERR_STATE;
	if (count == 0)
		return MQTT_CLIENT_ERR_ARG;
	return MQTT_CLIENT_OK;
}

/*
 * Sends p, a SUBSCRIBE or UNSUBSCRIBE, with a new packet id written to
 * *p_id; the id goes to *packet_id, or back if p could not be sent.
 */
static enum mqtt_client_err
send_request(struct mqtt_client *c, struct packet *p, uint16_t *p_id,
    uint16_t *packet_id)
{
	enum mqtt_client_err	 err;

	if ((*p_id = id_alloc(c)) == 0)
		return MQTT_CLIENT_ERR_BUSY;
	if ((err = send_packet(c, p)) != MQTT_CLIENT_OK) {
		bit_clear(c->ids_used, *p_id);
		return err;
	}
	if (packet_id != NULL)
		*packet_id = *p_id;
	return MQTT_CLIENT_OK;
}

enum mqtt_client_err
mqtt_client_subscribe(struct mqtt_client *c,
    const struct mqtt_subscription *subs, size_t count, uint16_t *packet_id)
{
	struct packet		 p = { .type = PACKET_SUBSCRIBE };
	struct sub_request	*req;
	enum mqtt_client_err	 err;
	size_t			 i;

	if ((err = check_request(c, count)) != MQTT_CLIENT_OK)
		return err;
	for (i = 0; i < count; i++) {
		if ((err = check_filter(subs[i].filter)) != MQTT_CLIENT_OK)
			return err;
		if (subs[i].qos > 2)
			return MQTT_CLIENT_ERR_QOS;
	}
	req = xcalloc(count, sizeof(*req));
	for (i = 0; i < count; i++) {
		req[i].filter.data = (const uint8_t *)subs[i].filter;
		req[i].filter.len = strlen(subs[i].filter);
		req[i].qos = subs[i].qos;
	}
	p.u.subscribe.topics = req;
	p.u.subscribe.count = count;
	err = send_request(c, &p, &p.u.subscribe.packet_id, packet_id);
	free(req);
	return err;
}

enum mqtt_client_err
mqtt_client_unsubscribe(struct mqtt_client *c, const char *const *filters,
    size_t count, uint16_t *packet_id)
{
	struct packet		 p = { .type = PACKET_UNSUBSCRIBE };
	struct mqtt_bytes	*fs;
	enum mqtt_client_err	 err;
	size_t			 i;

	if ((err = check_request(c, count)) != MQTT_CLIENT_OK)
		return err;
	for (i = 0; i < count; i++)
		if ((err = check_filter(filters[i])) != MQTT_CLIENT_OK)
			return err;
	fs = xcalloc(count, sizeof(*fs));
	for (i = 0; i < count; i++) {
		fs[i].data = (const uint8_t *)filters[i];
		fs[i].len = strlen(filters[i]);
	}
	p.u.unsubscribe.filters = fs;
	p.u.unsubscribe.count = count;
	err = send_request(c, &p, &p.u.unsubscribe.packet_id, packet_id);
	free(fs);
	return err;
}

/* ===== Publishing ===== */

/* Sends queued messages while the window has room. */
static void
client_pump(struct mqtt_client *c)
{
	struct outmsg	*m;
	uint16_t	 id;

	while (c->state == ST_CONNECTED && c->ninflight < c->max_inflight &&
	    (m = TAILQ_FIRST(&c->queue)) != NULL) {
		if ((id = id_alloc(c)) == 0)
			break;
		TAILQ_REMOVE(&c->queue, m, entry);
		c->nqueued--;
		m->packet_id = id;
		m->data[m->id_off] = (uint8_t)(id >> 8);
		m->data[m->id_off + 1] = (uint8_t)(id & 0xff);
		m->state = OUT_PUBLISH_SENT;
		TAILQ_INSERT_TAIL(&c->inflight, m, entry);
		c->ninflight++;
		send_outmsg(c, m, false);
	}
}

enum mqtt_client_err
mqtt_client_publish(struct mqtt_client *c, const char *topic,
    const void *payload, size_t len, uint8_t qos, bool retain,
    uint64_t *token)
{
	struct packet	 p = { .type = PACKET_PUBLISH };
	struct outmsg	*m;
	size_t		 tlen = strlen(topic), size;

	if (qos > 2)
		return MQTT_CLIENT_ERR_QOS;
	if (!utf8_valid((const uint8_t *)topic, tlen) ||
	    topic_name_validate(topic, tlen, NULL) != TOPIC_OK)
		return MQTT_CLIENT_ERR_TOPIC;
	p.u.publish.qos = qos;
	p.u.publish.retain = retain;
	p.u.publish.topic.data = (const uint8_t *)topic;
	p.u.publish.topic.len = tlen;
	p.u.publish.payload.data = payload;
	p.u.publish.payload.len = len;
	if (token != NULL)
		*token = 0;
	if (qos == 0) {
		if (c->state != ST_CONNECTED)
			return MQTT_CLIENT_ERR_STATE;
		return send_packet(c, &p);
	}

	if (c->state == ST_IDLE || c->state == ST_DISCONNECTING)
		return MQTT_CLIENT_ERR_STATE;
	if (c->nqueued >= c->max_queued)
		return MQTT_CLIENT_ERR_BUSY;
	/* Encoded with a placeholder id; the real one is set when sent. */
	p.u.publish.packet_id = 1;
	if ((size = packet_encoded_size(&p, CLIENT_LEVEL)) == 0)
		return MQTT_CLIENT_ERR_ARG;
	if ((m = malloc(sizeof(*m) + size)) == NULL)
		return MQTT_CLIENT_ERR_NOMEM;
	if (packet_encode(&p, CLIENT_LEVEL, m->data, size) != size) {
		free(m);
		return MQTT_CLIENT_ERR_ARG;
	}
	m->len = size;
	/* PUBLISH ends with: packet id (2 bytes), payload [MQTT-3.3.2]. */
	m->id_off = size - len - 2;
	m->qos = qos;
	m->packet_id = 0;
	m->state = OUT_QUEUED;
	m->token = c->next_token++;
	TAILQ_INSERT_TAIL(&c->queue, m, entry);
	c->nqueued++;
	client_pump(c);
	if (token != NULL)
		*token = m->token;
	return MQTT_CLIENT_OK;
}

/* ===== Queries ===== */

bool
mqtt_client_is_connected(const struct mqtt_client *c)
{
	return c->state == ST_CONNECTED;
}

int
mqtt_client_errno(const struct mqtt_client *c)
{
	return c->sys_errno;
}

size_t
mqtt_client_pending(const struct mqtt_client *c)
{
	return c->ninflight + c->nqueued;
}

size_t
mqtt_client_output_len(const struct mqtt_client *c)
{
	if (c->bev == NULL)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

const char *
mqtt_client_id(const struct mqtt_client *c)
{
	return c->client_id;
}

const char *
mqtt_client_host(const struct mqtt_client *c)
{
	return c->host;
}

uint16_t
mqtt_client_port(const struct mqtt_client *c)
{
	return c->port;
}

static const char *const client_errors[] = {
	[MQTT_CLIENT_OK] = "success",
	[MQTT_CLIENT_ERR_RESOLVE] = "host not found",
	[MQTT_CLIENT_ERR_CONNECT] = "cannot connect",
	[MQTT_CLIENT_ERR_TIMEOUT] = "timed out waiting for the broker",
	[MQTT_CLIENT_ERR_REFUSED] = "connection refused by the broker",
	[MQTT_CLIENT_ERR_CLOSED] = "connection closed by the broker",
	[MQTT_CLIENT_ERR_KEEPALIVE] = "no answer to keep-alive ping",
	[MQTT_CLIENT_ERR_PROTOCOL] = "protocol error from the broker",
	[MQTT_CLIENT_ERR_IO] = "connection error",
	[MQTT_CLIENT_ERR_STATE] = "not connected",
	[MQTT_CLIENT_ERR_TOPIC] = "invalid topic",
	[MQTT_CLIENT_ERR_QOS] = "QoS must be 0, 1 or 2",
	[MQTT_CLIENT_ERR_ARG] = "invalid argument",
	[MQTT_CLIENT_ERR_BUSY] = "too many messages waiting",
	[MQTT_CLIENT_ERR_NOMEM] = "out of memory",
};

const char *
mqtt_client_strerror(enum mqtt_client_err err)
{
	if ((size_t)err >= sizeof(client_errors) / sizeof(client_errors[0]))
		return "unknown error";
	return client_errors[err];
}

const char *
mqtt_connack_strerror(uint8_t code)
{
	switch (code) {
	case CONNACK_ACCEPTED:
		return "accepted";
	case CONNACK_BAD_PROTOCOL:
		return "unacceptable protocol version";
	case CONNACK_ID_REJECTED:
		return "client identifier rejected";
	case CONNACK_SERVER_UNAVAILABLE:
		return "server unavailable";
	case CONNACK_BAD_CREDENTIALS:
		return "bad user name or password";
	case CONNACK_NOT_AUTHORIZED:
		return "not authorised";
	default:
		return "unknown CONNACK code";
	}
}
