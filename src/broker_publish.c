/*
 * broker_publish.c: PUBLISH and its acknowledgements, both ways
 * [MQTT-4.3]: routing a message to the sessions that subscribed, the
 * in-flight window and queue of each session, resending on reconnect
 * [MQTT-4.4.0-1] and on the retry timer.
 *
 * Incoming QoS 2 follows the spec's "method B": the message is routed
 * when its PUBLISH arrives and only its packet id is kept until PUBREL,
 * so a resent PUBLISH with that id is answered but not routed again
 * [MQTT-4.3.3-2].
 */
#include <string.h>

#include "broker_int.h"
#include "config.h"
#include "log.h"
#include "message.h"
#include "retain.h"
#include "session.h"
#include "store.h"
#include "xmalloc.h"

static void
send_ack(struct client *c, enum packet_type type, uint16_t id, uint64_t hold)
{
	struct packet	 p = { .type = type };

	p.u.ack.packet_id = id;
	broker_send(c, &p, hold);
}

static void
send_publish(struct client *c, const struct message *msg, uint8_t qos,
    uint16_t id, bool retain, bool dup, uint64_t hold)
{
	struct packet	 p = { .type = PACKET_PUBLISH };

	p.u.publish.dup = dup;
	p.u.publish.qos = qos;
	p.u.publish.retain = retain;
	p.u.publish.topic.data = (const uint8_t *)msg->topic;
	p.u.publish.topic.len = msg->topic_len;
	p.u.publish.packet_id = id;
	p.u.publish.payload.data = msg->payload;
	p.u.publish.payload.len = msg->payload_len;
	broker_send(c, &p, hold);
	c->broker->stats.msgs_sent++;
}

/*
 * Deliveries of a persistent session's queue kept in memory; beyond this
 * the queue grows on disk only, and is read back in chunks of the same
 * size when fewer than QUEUE_REFILL_BELOW are left (contract point 8).
 */
#define QUEUE_IN_MEMORY		256
#define QUEUE_REFILL_BELOW	64

static bool
congested(const struct broker *b, const struct client *c)
{
	return b->io->pending(c->conn) >= b->cfg->output_high_water;
}

/* ===== Outgoing: one session's window and queue ===== */

/*
 * The batch a delivery's PUBLISH waits for. At QoS 2: its own
 * "publish_sent" row, so that after a crash it is resent with the same
 * packet id and DUP, never as a new message the client would take twice.
 * At QoS 1 nothing of its own: a crash before the row commits can at
 * worst deliver it again, which QoS 1 allows (contract 2), and an
 * acknowledgement that beats the commit means the row is never written
 * at all (contract 4). Either way the publisher's QoS 2 "pubrec_sent" row
 * (d->hold) commits first.
 */
static uint64_t
delivery_hold(const struct delivery *d)
{
	return d->qos == 2 ? max_seq(d->hold, d->store_seq) : d->hold;
}

/* Puts d in flight with a fresh packet id and sends it. */
static uint64_t
send_new(struct broker *b, struct session *s, struct delivery *d)
{
	uint64_t	 seq = 0;

	d->packet_id = session_next_packet_id(s);
	d->state = DELIVERY_PUBLISH_SENT;
	d->sent_at = b->now;
	d->retries = 0;
	session_inflight_add(s, d);
	if (!s->clean)
		seq = store_delivery_put(b->store, s, d);
	send_publish(s->client, d->msg, d->qos, d->packet_id, d->retain, false,
	    delivery_hold(d));
	return seq;
}

/* Writes d to the end of the on-disk queue and lets go of it in memory. */
static uint64_t
spill(struct broker *b, struct session *s, struct delivery *d)
{
	struct delivery	*last;

	if (s->backlog == 0) {
		/* The disk part starts after the last stored one in memory. */
		s->backlog_after = 0;
		TAILQ_FOREACH_REVERSE(last, &s->queue, delivery_list, entry) {
			if (last->store_id != 0) {
				s->backlog_after = last->store_id;
				break;
			}
		}
	}
	s->spill_seq = store_delivery_put(b->store, s, d);
	s->backlog++;
	s->backlog_bytes += message_size(d->msg);
	/* The row keeps its body: the in-memory count is not released. */
	delivery_free(d);
	return s->spill_seq;
}

static void
refill_one(void *arg, uint64_t id, struct message *msg, uint8_t qos,
    bool retain)
{
	struct session	*s = arg;
	struct delivery	*d;

	d = delivery_new(msg, qos);
	message_unref(msg);
	d->store_id = id;
	d->retain = retain;
	session_enqueue(s, d);
	s->backlog--;
	s->backlog_bytes -= s->backlog_bytes < message_size(msg) ?
	    s->backlog_bytes : message_size(msg);
	s->backlog_after = id;
}

/* Reads the next part of an on-disk queue, once it is committed. */
static void
refill(struct broker *b, struct session *s)
{
	int	 n;

	if (s->backlog == 0 || s->nqueued >= QUEUE_REFILL_BELOW ||
	    s->refill_waiting)
		return;
	if (store_committed(b->store) < s->spill_seq) {
		s->refill_waiting = true;
		TAILQ_INSERT_TAIL(&b->refill, s, refill_entry);
		return;
	}
	n = store_queue_load(b->store, s->client_id, s->backlog_after,
	    QUEUE_IN_MEMORY - s->nqueued, refill_one, s);
	if (n <= 0) {
		log_warnx("%s: %zu queued messages expected on disk, %s; "
		    "queue count reset", s->client_id, s->backlog,
		    n == 0 ? "none found" : "read failed");
		s->backlog = 0;
		s->backlog_bytes = 0;
	}
}

/* Queues msg for s within its limits; a message beyond them is dropped. */
static uint64_t
enqueue(struct broker *b, struct session *s, struct message *msg, uint8_t qos,
    bool retain, uint64_t hold)
{
	const struct config	*cfg = b->cfg;
	struct delivery		*d;

	/* max_queued_messages 0 queues nothing; max_queued_bytes 0: no cap */
	if (s->nqueued + s->backlog >= cfg->max_queued_messages ||
	    (cfg->max_queued_bytes && s->queued_bytes + s->backlog_bytes +
	    message_size(msg) > cfg->max_queued_bytes)) {
		s->dropped++;
		b->stats.msgs_dropped++;
		/* One line for the first drop, then one per thousand. */
		if (s->dropped % 1000 == 1)
			log_warnx("%s: queue full (%zu messages, %zu bytes): "
			    "message on '%s' dropped (%llu dropped so far)",
			    s->client_id, s->nqueued, s->queued_bytes,
			    msg->topic, (unsigned long long)s->dropped);
		return 0;
	}
	d = delivery_new(msg, qos);
	d->retain = retain;
	d->hold = hold;
	if (!s->clean && qos > 0 &&
	    (s->backlog > 0 || s->nqueued >= QUEUE_IN_MEMORY))
		return spill(b, s, d);
	session_enqueue(s, d);
	if (!s->clean && qos > 0)
		return store_delivery_put(b->store, s, d);
	return 0;
}

/*
 * Delivers msg to s at qos (already the minimum of published and granted
 * QoS [MQTT-3.8.4-6]): at once when the window and the connection have
 * room, else through the queue, which keeps publish order.
 */
uint64_t
broker_deliver(struct broker *b, struct session *s, struct message *msg,
    uint8_t qos, bool retain, uint64_t hold)
{
	struct client	*c = s->client;
	struct delivery	*d;

	if (c == NULL) {
		if (qos == 0 && !b->cfg->queue_qos0)
			return 0;
		return enqueue(b, s, msg, qos, retain, hold);
	}
	if (s->nqueued > 0 || s->backlog > 0)
		return enqueue(b, s, msg, qos, retain, hold);
	if (qos == 0) {
		if (congested(b, c)) {
			/* Not s->dropped: that counts queue-limit drops,
			 * whose first one must be logged. */
			b->stats.msgs_dropped++;
			log_debug("%s: slow reader, QoS 0 message on '%s' "
			    "dropped", s->client_id, msg->topic);
			return 0;
		}
		send_publish(c, msg, 0, 0, retain, false, hold);
		return 0;
	}
	if (s->ninflight >= b->cfg->max_inflight || congested(b, c))
		return enqueue(b, s, msg, qos, retain, hold);
	d = delivery_new(msg, qos);
	d->retain = retain;
	d->hold = hold;
	return send_new(b, s, d);
}

void
broker_session_drain(struct broker *b, struct session *s)
{
	struct delivery	*d;

	while (s->client != NULL && !congested(b, s->client)) {
		refill(b, s);
		if ((d = TAILQ_FIRST(&s->queue)) == NULL)
			break;
		if (d->qos > 0 && s->ninflight >= b->cfg->max_inflight)
			break;
		session_dequeue(s);
		if (d->qos == 0) {
			send_publish(s->client, d->msg, 0, 0, d->retain, false,
			    d->hold);
			delivery_free(d);
		} else
			send_new(b, s, d);
	}
}

static void
resend(struct broker *b, struct client *c, struct delivery *d)
{
	d->sent_at = b->now;
	if (d->state == DELIVERY_PUBREL_SENT)
		send_ack(c, PACKET_PUBREL, d->packet_id, d->store_seq);
	else	/* [MQTT-3.3.1-1] DUP marks a resent PUBLISH */
		send_publish(c, d->msg, d->qos, d->packet_id, d->retain, true,
		    delivery_hold(d));
}

/* On reconnect: what was in flight goes again, in order [MQTT-4.4.0-1]. */
void
broker_session_resend(struct broker *b, struct session *s)
{
	struct delivery	*d;

	TAILQ_FOREACH(d, &s->inflight, entry) {
		d->retries = 0;
		resend(b, s->client, d);
	}
}

/* While connected: resend what waited retry_interval seconds (-r, -m). */
void
broker_retry(struct broker *b, struct client *c)
{
	struct session	*s = c->session;
	struct delivery	*d;
	unsigned	 max = b->cfg->max_retries;

	TAILQ_FOREACH(d, &s->inflight, entry) {
		/* The clock ticks in whole seconds: "more than" keeps every
		 * resend at least retry_interval after its send. */
		if (b->now - d->sent_at <= b->cfg->retry_interval)
			continue;
		if (max != 0 && d->retries >= max) {
			log_warnx("%s: no acknowledgement of packet id %u after "
			    "%u retries", s->client_id, d->packet_id, max);
			broker_client_end(c, "retries exhausted", true);
			return;
		}
		d->retries++;
		resend(b, c, d);
	}
}

/* ===== Routing ===== */

static void
route_collect(void *subscriber, uint64_t value, void *arg)
{
	struct broker		*b = arg;
	struct session		*s = subscriber;
	struct route_target	*t;
	uint8_t			 qos = value & 3;

	/* [MQTT-3.3.5-1] overlapping filters: one copy, the highest QoS */
	if (s->route_mark == b->route_mark) {
		t = &b->targets[s->route_slot];
		if (qos > t->qos)
			t->qos = qos;
		return;
	}
	if (b->ntargets == b->targets_cap) {
		b->targets_cap = b->targets_cap ? b->targets_cap * 2 : 16;
		b->targets = xreallocarray(b->targets, b->targets_cap,
		    sizeof(*b->targets));
	}
	s->route_mark = b->route_mark;
	s->route_slot = b->ntargets;
	b->targets[b->ntargets].session = s;
	b->targets[b->ntargets].qos = qos;
	b->ntargets++;
}

/* Keeps (or, when empty, clears) the retained message of a topic. */
static uint64_t
retain_update(struct broker *b, struct message *msg)
{
	struct message	*prev;
	uint64_t	 seq = 0;

	prev = retain_get(b->retained, msg->topic, msg->topic_len);
	if (msg->payload_len == 0) {
		/* [MQTT-3.3.1-10] [MQTT-3.3.1-11] an empty one clears it */
		if (prev != NULL) {
			seq = store_retain_del(b->store, prev);
			retain_clear(b->retained, msg->topic, msg->topic_len);
		}
		return seq;
	}
	/* [MQTT-3.3.1-5] */
	seq = store_retain_put(b->store, msg, prev);
	retain_set(b->retained, msg);
	return seq;
}

/*
 * Sends msg to every session with a matching subscription; no PUBLISH
 * leaves before batch hold commits. Returns the store batch that holds
 * the resulting changes.
 */
uint64_t
broker_publish(struct broker *b, struct message *msg, uint64_t hold)
{
	struct route_target	*t;
	uint64_t		 seq = 0;
	size_t			 i;

	if (msg->retain)
		seq = retain_update(b, msg);
	b->route_mark++;
	b->ntargets = 0;
	topic_tree_match(b->subs, msg->topic, msg->topic_len, route_collect, b);
	for (i = 0; i < b->ntargets; i++) {
		t = &b->targets[i];
		/* [MQTT-3.3.1-9] retain is 0 when forwarding to subscribers */
		seq = max_seq(seq, broker_deliver(b, t->session, msg,
		    msg->qos < t->qos ? msg->qos : t->qos, false, hold));
	}
	return seq;
}

/* ===== Incoming ===== */

/*
 * Incoming QoS 2 messages a session may leave awaiting PUBREL: as many as
 * the broker would hold for it the other way (window plus queue), so a
 * client that pipelines is not cut off but one that never releases is.
 */
static size_t
max_unreleased(const struct config *cfg)
{
	return (size_t)cfg->max_inflight + cfg->max_queued_messages;
}

int
broker_handle_publish(struct client *c, struct packet *p)
{
	struct broker		*b = c->broker;
	struct session		*s = c->session;
	struct packet_publish	*pp = &p->u.publish;
	struct message		*msg;
	enum topic_err		 terr;
	uint64_t		 seq = 0;

	terr = topic_name_validate((const char *)pp->topic.data, pp->topic.len,
	    &b->limits);
	if (terr != TOPIC_OK) {
		/* [MQTT-3.3.2-2] no wildcards in a topic name */
		log_info("%s: PUBLISH with invalid topic: %s", s->client_id,
		    topic_strerror(terr));
		broker_client_end(c, "invalid topic in PUBLISH", true);
		return -1;
	}
	b->stats.msgs_received++;
	if (pp->qos == 2 && session_incoming_has(s, pp->packet_id)) {
		/*
		 * [MQTT-4.3.3-2] a resent QoS 2 PUBLISH is not routed again.
		 * Its first PUBREC may still wait for its commit, possibly
		 * on a connection since taken over: this one waits for
		 * everything queued so far (contract 1).
		 */
		send_ack(c, PACKET_PUBREC, pp->packet_id,
		    s->clean ? 0 : store_last_seq(b->store));
		return 0;
	}
	if (pp->qos == 2 && s->nincoming >= max_unreleased(b->cfg)) {
		/* A client that never sends PUBREL cannot make the broker
		 * remember ids without bound. */
		log_info("%s: more than %zu QoS 2 messages awaiting PUBREL",
		    s->client_id, max_unreleased(b->cfg));
		broker_client_end(c, "too many unreleased QoS 2 messages", true);
		return -1;
	}
	if (pp->qos == 2) {
		/*
		 * DESIGN.md contract 2: "pubrec_sent" goes into the batch
		 * first and no subscriber sees the message before it commits,
		 * so a crash cannot turn one publish into two deliveries.
		 */
		session_incoming_add(s, pp->packet_id);
		if (!s->clean)
			seq = store_incoming_put(b->store, s, pp->packet_id);
	}
	if (topic_is_sys((const char *)pp->topic.data, pp->topic.len))
		log_debug("%s: PUBLISH to '$SYS' ignored", s->client_id);
	else {
		msg = message_new((const char *)pp->topic.data, pp->topic.len,
		    pp->payload.data, pp->payload.len, pp->qos, pp->retain);
		seq = max_seq(seq, broker_publish(b, msg, seq));
		message_unref(msg);
	}
	if (pp->qos == 1)		/* [MQTT-4.3.2-2] */
		send_ack(c, PACKET_PUBACK, pp->packet_id, seq);
	else if (pp->qos == 2)		/* [MQTT-4.3.3-2] */
		send_ack(c, PACKET_PUBREC, pp->packet_id, seq);
	return 0;
}

/* Ends an outgoing delivery that the client has acknowledged. */
static void
complete(struct broker *b, struct session *s, struct delivery *d)
{
	session_inflight_remove(s, d);
	if (!s->clean)
		store_delivery_del(b->store, s, d);
	delivery_free(d);
	broker_session_drain(b, s);
}

int
broker_handle_puback(struct client *c, struct packet *p)
{
	struct session	*s = c->session;
	struct delivery	*d;

	d = session_inflight_find(s, p->u.ack.packet_id);
	if (d == NULL || d->qos != 1) {
		log_debug("%s: PUBACK for unknown packet id %u", s->client_id,
		    p->u.ack.packet_id);
		return 0;
	}
	complete(c->broker, s, d);
	return 0;
}

int
broker_handle_pubrec(struct client *c, struct packet *p)
{
	struct broker	*b = c->broker;
	struct session	*s = c->session;
	struct delivery	*d;
	uint64_t	 seq = 0;
	uint16_t	 id = p->u.ack.packet_id;

	d = session_inflight_find(s, id);
	if (d == NULL || d->qos != 2) {
		/* Let the client finish its flow for an id we forgot. */
		log_debug("%s: PUBREC for unknown packet id %u", s->client_id,
		    id);
		send_ack(c, PACKET_PUBREL, id, 0);
		return 0;
	}
	if (d->state == DELIVERY_PUBLISH_SENT) {
		/* DESIGN.md contract 3: "pubrel pending" is committed first */
		d->state = DELIVERY_PUBREL_SENT;
		d->sent_at = b->now;
		d->retries = 0;
		if (!s->clean)
			seq = store_delivery_put(b->store, s, d);
	}
	/* [MQTT-4.3.3-1] A repeated PUBREC waits for the same row as the
	 * first (it may not be committed yet; d->store_seq is 0 if clean). */
	send_ack(c, PACKET_PUBREL, id, max_seq(seq, d->store_seq));
	return 0;
}

int
broker_handle_pubrel(struct client *c, struct packet *p)
{
	struct broker	*b = c->broker;
	struct session	*s = c->session;
	uint64_t	 seq = 0;
	uint16_t	 id = p->u.ack.packet_id;

	if (session_incoming_del(s, id)) {
		if (!s->clean)
			seq = store_incoming_del(b->store, s, id);
	} else
		log_debug("%s: PUBREL for unknown packet id %u", s->client_id,
		    id);
	/* [MQTT-4.3.3-2] PUBCOMP with the same id, known or not */
	send_ack(c, PACKET_PUBCOMP, id, seq);
	return 0;
}

int
broker_handle_pubcomp(struct client *c, struct packet *p)
{
	struct session	*s = c->session;
	struct delivery	*d;

	d = session_inflight_find(s, p->u.ack.packet_id);
	if (d == NULL || d->state != DELIVERY_PUBREL_SENT) {
		log_debug("%s: PUBCOMP for unknown packet id %u", s->client_id,
		    p->u.ack.packet_id);
		return 0;
	}
	complete(c->broker, s, d);
	return 0;
}
