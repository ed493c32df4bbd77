/*
 * broker.c: the broker's roots and a connection's life: dispatch of each
 * packet to its handler, the end of a connection (will, clean session),
 * retries, shutdown. The handlers live in broker_connect.c,
 * broker_publish.c and broker_subscribe.c.
 *
 * No sockets here: the transport is reached through struct broker_io.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "config.h"
#include "log.h"
#include "message.h"
#include "retain.h"
#include "session.h"
#include "store.h"
#include "strmap.h"
#include "xmalloc.h"

typedef int	 handler_fn(struct client *, struct packet *);

/*
 * Packet type -> handler. Types a client never sends (CONNACK, SUBACK,
 * UNSUBACK, PINGRESP) have none: receiving one is a protocol violation.
 */
static handler_fn	*const handlers[16] = {
	[PACKET_CONNECT] = broker_handle_connect,
	[PACKET_PUBLISH] = broker_handle_publish,
	[PACKET_PUBACK] = broker_handle_puback,
	[PACKET_PUBREC] = broker_handle_pubrec,
	[PACKET_PUBREL] = broker_handle_pubrel,
	[PACKET_PUBCOMP] = broker_handle_pubcomp,
	[PACKET_SUBSCRIBE] = broker_handle_subscribe,
	[PACKET_UNSUBSCRIBE] = broker_handle_unsubscribe,
};

static int	broker_handle_pingreq(struct client *c, struct packet *p);
static int	broker_handle_disconnect(struct client *c, struct packet *p);

/* An incoming QoS 2 id did not reach the disk: forget it here too. */
static void
broker_lost_incoming(void *arg, const char *client_id, size_t len,
    uint16_t packet_id)
{
	struct broker	*b = arg;
	struct session	*s;

	if ((s = strmap_get(b->sessions, client_id, len)) != NULL &&
	    session_incoming_del(s, packet_id))
		log_warnx("%s: QoS 2 packet id %u forgotten: its commit failed",
		    s->client_id, packet_id);
}

struct broker *
broker_new(const struct config *cfg, const struct broker_io *io,
    struct store *st)
{
	struct broker	*b;

	b = xcalloc(1, sizeof(*b));
	b->cfg = cfg;
	b->io = io;
	b->store = st;
	if ((b->subs = topic_tree_new()) == NULL)
		fatalx("out of memory for the subscription tree");
	b->retained = retain_new();
	b->sessions = strmap_new();
	TAILQ_INIT(&b->clients);
	TAILQ_INIT(&b->refill);
	b->limits.max_len = cfg->max_topic_length;
	b->limits.max_levels = cfg->max_topic_levels;
	store_on_lost_incoming(st, broker_lost_incoming, b);
	return b;
}

static void
broker_free_session_cb(const char *key, size_t len, void *value, void *arg)
{
	struct broker	*b = arg;
	struct session	*s = value;
	size_t		 i;

	(void)key; (void)len;
	for (i = 0; i < s->nsubs; i++)
		topic_tree_remove(b->subs, s->subs[i].filter, s->subs[i].len, s);
	session_free(s);
}

void
broker_free(struct broker *b)
{
	struct client	*c;

	if (b == NULL)
		return;
	store_on_lost_incoming(b->store, NULL, NULL);
	while ((c = TAILQ_FIRST(&b->clients)) != NULL)
		broker_client_end(c, "broker freed", false);
	strmap_foreach(b->sessions, broker_free_session_cb, b);
	strmap_free(b->sessions);
	topic_tree_free(b->subs);
	retain_free(b->retained);
	free(b->targets);
	free(b);
}

const struct broker_stats *
broker_stats(const struct broker *b)
{
	return &b->stats;
}

size_t
broker_client_count(const struct broker *b)
{
	return b->nclients;
}

uint64_t
max_seq(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

const char *
client_name(const struct client *c)
{
	return c->session ? c->session->client_id : c->peer;
}

/* ===== A connection's life ===== */

struct client *
broker_client_new(struct broker *b, void *conn, const char *peer)
{
	struct client	*c;

	c = xcalloc(1, sizeof(*c));
	c->broker = b;
	c->conn = conn;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	TAILQ_INSERT_TAIL(&b->clients, c, entry);
	b->nclients++;
	return c;
}

/*
 * Encodes p at the client's protocol level and hands it to the transport.
 * Small packets are encoded on the stack: this is every answer's path.
 */
void
broker_send(struct client *c, const struct packet *p, uint64_t hold)
{
	const struct broker_io	*io = c->broker->io;
	uint8_t			 stackbuf[512], *buf = stackbuf;
	size_t			 size, n;

	if ((size = packet_encoded_size(p, c->level)) == 0) {
		log_warnx("%s: cannot encode %s", client_name(c),
		    packet_type_name(p->type));
		return;
	}
	if (size > sizeof(stackbuf))
		buf = xmalloc(size);
	n = packet_encode(p, c->level, buf, size);
	if (n == size)
		io->send(c->conn, buf, n, hold);
	else
		log_warnx("%s: cannot encode %s", client_name(c),
		    packet_type_name(p->type));
	if (buf != stackbuf)
		free(buf);
}

/* Removes a session, its subscriptions and its deliveries, everywhere. */
void
broker_session_destroy(struct broker *b, struct session *s)
{
	struct delivery	*d;
	size_t		 i;

	for (i = 0; i < s->nsubs; i++)
		topic_tree_remove(b->subs, s->subs[i].filter, s->subs[i].len, s);
	if (s->refill_waiting)
		TAILQ_REMOVE(&b->refill, s, refill_entry);
	if (!s->clean) {
		/* Each delivery lets go of its stored message body. */
		TAILQ_FOREACH(d, &s->inflight, entry)
			store_delivery_del(b->store, s, d);
		TAILQ_FOREACH(d, &s->queue, entry)
			store_delivery_del(b->store, s, d);
		store_session_del(b->store, s);
	}
	strmap_del(b->sessions, s->client_id, s->client_id_len);
	session_free(s);
}

/* Publishes the will of a connection that ended without DISCONNECT. */
static void
broker_publish_will(struct client *c)
{
	struct message	*will = c->will;

	c->will = NULL;
	log_debug("%s: publishing will on '%s'", client_name(c), will->topic);
	broker_publish(c->broker, will, 0);
	message_unref(will);
}

/*
 * Ends a client: the will is published when asked and no DISCONNECT came
 * [MQTT-3.1.2-8], a clean session ends with its connection [MQTT-3.1.2-6],
 * a persistent one waits offline. Frees c; does not close the transport.
 */
static void
broker_client_free(struct client *c, const char *reason, bool will)
{
	struct broker	*b = c->broker;
	struct session	*s = c->session;

	if (c->connected)
		log_info("%s: disconnected (%s)", client_name(c), reason);
	else
		log_debug("%s: connection closed before CONNECT (%s)", c->peer,
		    reason);
	/* Offline first, so a will the session itself subscribes to is
	 * queued for it rather than written to a dead connection. */
	if (s != NULL)
		s->client = NULL;
	if (c->will != NULL && will && !c->disconnecting)
		broker_publish_will(c);
	message_unref(c->will);
	if (s != NULL) {
		if (s->clean)
			broker_session_destroy(b, s);
		else
			store_session_offline(b->store, s);
	}
	if (c->connected)
		b->stats.clients_connected--;
	TAILQ_REMOVE(&b->clients, c, entry);
	b->nclients--;
	free(c);
}

void
broker_client_end(struct client *c, const char *reason, bool will)
{
	void			*conn = c->conn;
	const struct broker_io	*io = c->broker->io;

	broker_client_free(c, reason, will);
	io->close(conn);
}

void
broker_client_lost(struct client *c, const char *reason)
{
	broker_client_free(c, reason, true);
}

/* ===== Dispatch ===== */

int
broker_client_packet(struct client *c, const uint8_t *buf, size_t len)
{
	struct store	*st = c->broker->store;
	struct packet	 p;
	const char	*why = NULL;
	enum packet_err	 err;
	enum packet_type type = buf[0] >> 4;
	handler_fn	*fn;
	int		 rv;

	/* [MQTT-3.1.0-1] the first packet from a client must be CONNECT */
	if (!c->connected && type != PACKET_CONNECT) {
		broker_client_end(c, c->session ? "packet before CONNACK" :
		    "first packet is not CONNECT", true);
		return -1;
	}
	err = packet_decode(buf, len, c->level, &p, &why);
	if (err != PACKET_OK) {
		/* [MQTT-3.1.2-1] [MQTT-3.1.2-2] CONNACK 0x01, then close */
		if (type == PACKET_CONNECT && !c->connected &&
		    (err == PACKET_ERR_PROTOCOL_LEVEL ||
		    err == PACKET_ERR_PROTOCOL_NAME))
			return broker_handle_connect_refused(c,
			    why ? why : packet_strerror(err));
		log_info("%s: malformed %s: %s", client_name(c),
		    packet_type_name(type), why ? why : packet_strerror(err));
		broker_client_end(c, "malformed packet", true);
		return -1;
	}
	switch (type) {
	case PACKET_PINGREQ:
		fn = broker_handle_pingreq;
		break;
	case PACKET_DISCONNECT:
		fn = broker_handle_disconnect;
		break;
	default:
		fn = handlers[type];
		break;
	}
	if (fn == NULL) {
		/* [MQTT-4.8.0-1] a protocol violation closes the connection */
		log_info("%s: unexpected %s from a client", client_name(c),
		    packet_type_name(type));
		packet_free(&p);
		broker_client_end(c, "protocol violation", true);
		return -1;
	}
	/* One packet's changes commit together (DESIGN.md, contract 2). */
	store_unit_begin(st);
	rv = fn(c, &p);		/* may free c */
	store_unit_end(st);
	packet_free(&p);
	return rv;
}

static int
broker_handle_pingreq(struct client *c, struct packet *p)
{
	struct packet	 resp = { .type = PACKET_PINGRESP };

	(void)p;
	/* [MQTT-3.12.4-1] */
	broker_send(c, &resp, 0);
	return 0;
}

static int
broker_handle_disconnect(struct client *c, struct packet *p)
{
	(void)p;
	/* [MQTT-3.14.4-3] the will is discarded */
	c->disconnecting = true;
	broker_client_end(c, "DISCONNECT", false);
	return -1;
}

/* ===== Timers and shutdown ===== */

void
broker_tick(struct broker *b, uint64_t now)
{
	struct client	*c, *next;

	b->now = now;
	for (c = TAILQ_FIRST(&b->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->connected && c->session->ninflight > 0)
			broker_retry(b, c);
	}
}

void
broker_shutdown(struct broker *b)
{
	struct client	*c;

	while ((c = TAILQ_FIRST(&b->clients)) != NULL)
		broker_client_end(c, "broker shutting down",
		    b->cfg->will_on_shutdown);
}

/* The store committed up to seq: sessions waiting to read their queue go on. */
void
broker_store_done(struct broker *b, uint64_t seq)
{
	struct session	*s, *next;

	for (s = TAILQ_FIRST(&b->refill); s != NULL; s = next) {
		next = TAILQ_NEXT(s, refill_entry);
		if (s->spill_seq > seq)
			continue;
		TAILQ_REMOVE(&b->refill, s, refill_entry);
		s->refill_waiting = false;
		broker_session_drain(b, s);
	}
}

void
broker_client_writable(struct client *c)
{
	if (c->connected && c->session->nqueued > 0)
		broker_session_drain(c->broker, c->session);
}
