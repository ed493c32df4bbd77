/*
 * conn.c: one client connection over a libevent bufferevent.
 *
 * Input: the codec's framer finds whole packets in the input buffer; each
 * goes to the broker. A declared length over max_packet_size ends the
 * connection as soon as the length is read, so a partial packet never
 * costs more than the configured maximum.
 *
 * Output: one ordered queue per connection. An answer the broker marks
 * with a store batch number waits here, with everything after it, until
 * that batch is committed (DESIGN.md, durability contract point 1).
 * A client whose output (written or held) reaches output_high_water is
 * not read until it has taken half of it: every packet it sends may add
 * an answer, so a client that sends and never reads would otherwise grow
 * its output without bound.
 *
 * Timers: the connect timeout until CONNECT is accepted, then the
 * keep-alive: silence for 1.5 times the keep-alive ends the connection
 * [MQTT-3.1.2-24].
 */
#include <sys/time.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "broker.h"
#include "log.h"
#include "net.h"
#include "packet.h"
#include "store.h"
#include "xmalloc.h"

/* An answer waiting for a commit. */
struct held {
	STAILQ_ENTRY(held)	 entry;
	uint64_t		 hold;
	size_t			 len;
	uint8_t			 data[];
};
STAILQ_HEAD(held_list, held);

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	TAILQ_ENTRY(conn)	 hold_entry;	/* in net->holding when held */
	TAILQ_ENTRY(conn)	 pause_entry;	/* in net->paused when paused */
	bool			 paused;
	bool			 output_full;	/* not read until output drains */
	struct net		*net;
	struct bufferevent	*bev;
	struct client		*client;	/* NULL once the broker is done */
	struct event		*timer;		/* connect timeout, keep-alive, linger */
	struct timeval		 last_input;
	unsigned		 keep_alive;	/* seconds; 0 = none */
	bool			 connected;	/* CONNECT accepted */
	bool			 closing;	/* flush, then free */
	struct held_list	 held;
	size_t			 held_bytes;
	char			 peer[64];
};

/* How long a closing connection may take to flush its last answers. */
#define CONN_LINGER_SECONDS	5

static void	conn_read_cb(struct bufferevent *bev, void *arg);
static void	conn_write_cb(struct bufferevent *bev, void *arg);
static void	conn_event_cb(struct bufferevent *bev, short what, void *arg);
static void	conn_timer_cb(evutil_socket_t fd, short what, void *arg);

static void
timer_arm(struct conn *c, unsigned ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(c->timer, &tv);
}

struct conn *
conn_new(struct net *net, int fd, const char *peer)
{
	struct conn	*c;

	c = xcalloc(1, sizeof(*c));
	c->net = net;
	STAILQ_INIT(&c->held);
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->bev = bufferevent_socket_new(net->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(net->base, conn_timer_cb, c);
	if (c->bev == NULL || c->timer == NULL) {
		log_warnx("connection from %s refused: out of memory", peer);
		if (c->bev != NULL)
			bufferevent_free(c->bev);	/* closes fd */
		else
			evutil_closesocket(fd);
		if (c->timer != NULL)
			event_free(c->timer);
		free(c);
		return NULL;
	}
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	/* conn_write_cb runs when the output has drained to half the mark. */
	bufferevent_setwatermark(c->bev, EV_WRITE,
	    net->cfg->output_high_water / 2, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&net->conns, c, entry);
	net->nconns++;
	c->client = broker_client_new(net->broker, c, peer);
	/* A connection that does not send CONNECT in time is closed. */
	timer_arm(c, net->cfg->connect_timeout * 1000);
	log_debug("%s: connection accepted", peer);
	return c;
}

void
conn_free(struct conn *c)
{
	struct net	*net = c->net;
	struct held	*h;

	if (c->client != NULL)
		broker_client_lost(c->client, "connection freed");
	while ((h = STAILQ_FIRST(&c->held)) != NULL) {
		STAILQ_REMOVE_HEAD(&c->held, entry);
		free(h);
	}
	if (c->hold_entry.tqe_prev != NULL)
		TAILQ_REMOVE(&net->holding, c, hold_entry);
	if (c->paused)
		TAILQ_REMOVE(&net->paused, c, pause_entry);
	TAILQ_REMOVE(&net->conns, c, entry);
	net->nconns--;
	event_free(c->timer);
	bufferevent_free(c->bev);
	free(c);
}

/* The broker is done with c, or c is lost: end it once output is out. */
static void
conn_close(struct conn *c)
{
	c->client = NULL;
	if (c->closing)
		return;
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	/* Wake conn_write_cb when the output is empty, or give up later. */
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	timer_arm(c, CONN_LINGER_SECONDS * 1000);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0 &&
	    STAILQ_EMPTY(&c->held))
		timer_arm(c, 0);
}

/* Ends c on the transport's initiative: tells the broker, then closes. */
static void
conn_lost(struct conn *c, const char *reason)
{
	struct client	*client = c->client;

	c->client = NULL;
	if (client != NULL)
		broker_client_lost(client, reason);
	conn_close(c);
}

/* ===== Input ===== */

static void
conn_pause(struct conn *c)
{
	if (c->paused)
		return;
	c->paused = true;
	bufferevent_disable(c->bev, EV_READ);
	TAILQ_INSERT_TAIL(&c->net->paused, c, pause_entry);
	log_debug("%s: reading paused: the store is %zu changes behind",
	    c->peer, store_pending(c->net->store));
}

void
conn_resume(struct conn *c)
{
	if (!c->paused)
		return;
	c->paused = false;
	TAILQ_REMOVE(&c->net->paused, c, pause_entry);
	if (c->closing || c->output_full)
		return;
	bufferevent_enable(c->bev, EV_READ);
	/* Packets already buffered would otherwise wait for the next byte. */
	conn_read_cb(c->bev, c);
}

static size_t	conn_pending(void *arg);

/* Stops reading c until its output drains (see conn_write_cb). */
static void
conn_stop_reading_output_full(struct conn *c)
{
	if (c->output_full)
		return;
	c->output_full = true;
	bufferevent_disable(c->bev, EV_READ);
	log_debug("%s: reading paused: %zu bytes of output not taken",
	    c->peer, conn_pending(c));
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct packet_frame	 f;
	enum packet_err		 err;
	const uint8_t		*buf;
	size_t			 len, peek;
	char			 why[128];

	event_base_gettimeofday_cached(c->net->base, &c->last_input);
	while (c->client != NULL && (len = evbuffer_get_length(in)) > 0) {
		if (store_pending(c->net->store) > c->net->cfg->max_pending) {
			/* Contract point 9: wait for the writer, drop nothing. */
			conn_pause(c);
			return;
		}
		if (conn_pending(c) >= c->net->cfg->output_high_water) {
			conn_stop_reading_output_full(c);
			return;
		}
		peek = len < 5 ? len : 5;
		buf = evbuffer_pullup(in, (ssize_t)peek);
		err = packet_frame(buf, peek, c->net->cfg->max_packet_size, &f);
		if (err == PACKET_NEED_MORE && f.total != 0 && len >= f.total)
			err = PACKET_OK;
		if (err == PACKET_NEED_MORE)
			return;
		if (err != PACKET_OK) {
			snprintf(why, sizeof(why), "bad fixed header: %s",
			    packet_strerror(err));
			log_info("%s: %s", c->peer, why);
			conn_lost(c, why);
			return;
		}
		if (len < f.total)
			return;
		buf = evbuffer_pullup(in, (ssize_t)f.total);
		if (broker_client_packet(c->client, buf, f.total) == -1) {
			/* The broker has closed c: the rest is not read. */
			c->client = NULL;
			return;
		}
		evbuffer_drain(in, f.total);
	}
}

/* ===== Output ===== */

static void
conn_send(void *arg, const uint8_t *buf, size_t len, uint64_t hold)
{
	struct conn	*c = arg;
	struct held	*h;

	if (c->closing)
		return;
	if (STAILQ_EMPTY(&c->held) && hold <= c->net->committed) {
		if (bufferevent_write(c->bev, buf, len) == -1)
			log_warnx("%s: cannot queue %zu bytes of output",
			    c->peer, len);
		return;
	}
	h = xmalloc(sizeof(*h) + len);
	h->hold = hold;
	h->len = len;
	memcpy(h->data, buf, len);
	if (STAILQ_EMPTY(&c->held))
		TAILQ_INSERT_TAIL(&c->net->holding, c, hold_entry);
	STAILQ_INSERT_TAIL(&c->held, h, entry);
	c->held_bytes += len;
}

void
conn_release(struct conn *c, uint64_t seq, bool failed)
{
	struct held	*h;

	if (failed && (h = STAILQ_FIRST(&c->held)) != NULL && h->hold <= seq) {
		/* Its acknowledgement can never be sent: the client must
		 * not believe what the disk did not take. */
		log_warnx("%s: closing: the store could not commit what this "
		    "connection was about to be told", c->peer);
		while ((h = STAILQ_FIRST(&c->held)) != NULL) {
			STAILQ_REMOVE_HEAD(&c->held, entry);
			free(h);
		}
		c->held_bytes = 0;
		TAILQ_REMOVE(&c->net->holding, c, hold_entry);
		c->hold_entry.tqe_prev = NULL;
		conn_lost(c, "storage failure");
		return;
	}
	while ((h = STAILQ_FIRST(&c->held)) != NULL && h->hold <= seq) {
		STAILQ_REMOVE_HEAD(&c->held, entry);
		c->held_bytes -= h->len;
		if (bufferevent_write(c->bev, h->data, h->len) == -1)
			log_warnx("%s: cannot queue %zu bytes of output",
			    c->peer, h->len);
		free(h);
	}
	if (STAILQ_EMPTY(&c->held)) {
		TAILQ_REMOVE(&c->net->holding, c, hold_entry);
		c->hold_entry.tqe_prev = NULL;
		if (c->closing &&
		    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			timer_arm(c, 0);
	}
}

void
net_store_done(struct net *net, uint64_t seq, bool failed)
{
	struct conn	*c, *next;

	net->committed = seq;
	for (c = TAILQ_FIRST(&net->holding); c != NULL; c = next) {
		next = TAILQ_NEXT(c, hold_entry);
		conn_release(c, seq, failed);
	}
	if (store_pending(net->store) > net->cfg->max_pending / 2)
		return;
	for (c = TAILQ_FIRST(&net->paused); c != NULL; c = next) {
		next = TAILQ_NEXT(c, pause_entry);
		conn_resume(c);
	}
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	(void)bev;
	if (c->closing) {
		if (STAILQ_EMPTY(&c->held))
			conn_free(c);
		return;
	}
	if (c->client != NULL)
		broker_client_writable(c->client);
	if (c->output_full && c->client != NULL &&
	    conn_pending(c) < c->net->cfg->output_high_water / 2) {
		c->output_full = false;
		log_debug("%s: reading resumed", c->peer);
		if (c->paused)
			return;		/* conn_resume() reads on */
		bufferevent_enable(c->bev, EV_READ);
		/* Packets already buffered would otherwise wait. */
		conn_read_cb(c->bev, c);
	}
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	char		 why[128];

	(void)bev;
	if (c->closing) {
		conn_free(c);
		return;
	}
	if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "connection closed by peer");
	else if (what & BEV_EVENT_ERROR)
		snprintf(why, sizeof(why), "socket error: %s",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	else
		snprintf(why, sizeof(why), "connection event 0x%x", what);
	conn_lost(c, why);
	/* Nothing more can be written to a dead socket. */
	conn_free(c);
}

/* ===== Timers ===== */

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	struct timeval	 now, idle;
	unsigned	 limit_ms, idle_ms;
	char		 why[64];

	(void)fd; (void)what;
	if (c->closing) {
		/* Flushed, or the linger time ran out. */
		conn_free(c);
		return;
	}
	if (!c->connected) {
		snprintf(why, sizeof(why), "no CONNECT within %u s",
		    c->net->cfg->connect_timeout);
		log_info("%s: %s", c->peer, why);
		conn_lost(c, why);
		return;
	}
	limit_ms = c->keep_alive * 1500;
	event_base_gettimeofday_cached(c->net->base, &now);
	timersub(&now, &c->last_input, &idle);
	idle_ms = (unsigned)(idle.tv_sec * 1000 + idle.tv_usec / 1000);
	if (idle.tv_sec >= 0 && idle_ms < limit_ms) {
		timer_arm(c, limit_ms - idle_ms);
		return;
	}
	/* [MQTT-3.1.2-24] */
	snprintf(why, sizeof(why), "keep-alive timeout (%u s)", c->keep_alive);
	conn_lost(c, why);
}

/* ===== What the broker calls ===== */

static void
conn_broker_close(void *arg)
{
	conn_close(arg);
}

static size_t
conn_pending(void *arg)
{
	struct conn	*c = arg;

	return evbuffer_get_length(bufferevent_get_output(c->bev)) +
	    c->held_bytes;
}

static void
conn_connected(void *arg, unsigned keep_alive)
{
	struct conn	*c = arg;

	c->connected = true;
	c->keep_alive = keep_alive;
	evtimer_del(c->timer);
	if (keep_alive > 0)
		timer_arm(c, keep_alive * 1500);
}

const struct broker_io	 conn_broker_io = {
	.send = conn_send,
	.close = conn_broker_close,
	.pending = conn_pending,
	.connected = conn_connected,
};
