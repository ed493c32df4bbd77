/*
 * broker_subscribe.c: SUBSCRIBE and UNSUBSCRIBE [MQTT-3.8], [MQTT-3.10]:
 * the subscription tree, granted QoS, and the retained messages a new
 * subscription receives.
 */
#include <stdlib.h>

#include "broker_int.h"
#include "config.h"
#include "log.h"
#include "message.h"
#include "retain.h"
#include "session.h"
#include "store.h"
#include "xmalloc.h"

struct retained_send {
	struct broker	*broker;
	struct session	*session;
	uint8_t		 qos;
};

static void
retained_send_cb(struct message *msg, void *arg)
{
	struct retained_send	*rs = arg;

	/* [MQTT-3.3.1-8] retain is 1 when sent because of a subscription */
	broker_deliver(rs->broker, rs->session, msg,
	    msg->qos < rs->qos ? msg->qos : rs->qos, true, 0);
}

/* Returns the granted QoS, or SUBACK_FAILURE for a refused filter. */
static uint8_t
subscribe_one(struct broker *b, struct session *s, const struct sub_request *r,
    uint64_t *seq)
{
	const char	*filter = (const char *)r->filter.data;
	uint8_t		 qos;
	bool		 replaced;

	qos = r->qos > b->cfg->max_qos ? b->cfg->max_qos : r->qos;
	if (s->nsubs >= b->cfg->max_subscriptions_per_client &&
	    session_sub_get(s, filter, r->filter.len) == NULL) {
		log_info("%s: SUBSCRIBE '%.*s' refused: %zu subscriptions",
		    s->client_id, (int)r->filter.len, filter, s->nsubs);
		return SUBACK_FAILURE;
	}
	session_sub_put(s, filter, r->filter.len, qos);
	if (topic_tree_add(b->subs, filter, r->filter.len, s, qos,
	    &replaced) == -1) {
		session_sub_del(s, filter, r->filter.len);
		log_warnx("%s: SUBSCRIBE '%.*s' refused: out of memory",
		    s->client_id, (int)r->filter.len, filter);
		return SUBACK_FAILURE;
	}
	if (!s->clean)
		*seq = max_seq(*seq, store_sub_put(b->store, s, filter,
		    r->filter.len, qos));
	log_debug("%s: subscribed to '%.*s' at QoS %u", s->client_id,
	    (int)r->filter.len, filter, qos);
	return qos;
}

int
broker_handle_subscribe(struct client *c, struct packet *p)
{
	struct broker		*b = c->broker;
	struct session		*s = c->session;
	struct packet_subscribe	*ps = &p->u.subscribe;
	struct packet		 ack = { .type = PACKET_SUBACK };
	struct retained_send	 rs = { b, s, 0 };
	struct sub_request	*r;
	enum topic_err		 terr;
	uint64_t		 seq = 0;
	uint8_t			*codes;
	size_t			 i;

	/* A malformed filter is a protocol violation [MQTT-4.7.3-1]. */
	for (i = 0; i < ps->count; i++) {
		r = &ps->topics[i];
		terr = topic_filter_validate((const char *)r->filter.data,
		    r->filter.len, NULL);
		if (terr != TOPIC_OK) {
			log_info("%s: SUBSCRIBE with invalid filter: %s",
			    s->client_id, topic_strerror(terr));
			broker_client_end(c, "invalid topic filter", true);
			return -1;
		}
	}
	codes = xcalloc(ps->count, 1);
	for (i = 0; i < ps->count; i++) {
		r = &ps->topics[i];
		/* Over the configured depth or length: refused, not fatal. */
		if (topic_filter_validate((const char *)r->filter.data,
		    r->filter.len, &b->limits) != TOPIC_OK)
			codes[i] = SUBACK_FAILURE;
		else
			codes[i] = subscribe_one(b, s, r, &seq);
	}
	/* [MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-3.8.4-5] */
	ack.u.suback.packet_id = ps->packet_id;
	ack.u.suback.codes = codes;
	ack.u.suback.count = ps->count;
	broker_send(c, &ack, seq);

	/* [MQTT-3.8.4-3] retained messages follow, also on a re-subscribe */
	for (i = 0; i < ps->count; i++) {
		r = &ps->topics[i];
		if (codes[i] == SUBACK_FAILURE)
			continue;
		rs.qos = r->qos > b->cfg->max_qos ? b->cfg->max_qos : r->qos;
		retain_match(b->retained, (const char *)r->filter.data,
		    r->filter.len, retained_send_cb, &rs);
	}
	free(codes);
	return 0;
}

int
broker_handle_unsubscribe(struct client *c, struct packet *p)
{
	struct broker			*b = c->broker;
	struct session			*s = c->session;
	struct packet_unsubscribe	*pu = &p->u.unsubscribe;
	struct packet			 ack = { .type = PACKET_UNSUBACK };
	struct mqtt_bytes		*f;
	enum topic_err			 terr;
	uint64_t			 seq = 0;
	size_t				 i;

	/* The whole packet is checked before any filter is removed: a
	 * protocol violation changes nothing [MQTT-4.8.0-1]. */
	for (i = 0; i < pu->count; i++) {
		f = &pu->filters[i];
		terr = topic_filter_validate((const char *)f->data, f->len,
		    NULL);
		if (terr != TOPIC_OK) {
			log_info("%s: UNSUBSCRIBE with invalid filter: %s",
			    s->client_id, topic_strerror(terr));
			broker_client_end(c, "invalid topic filter", true);
			return -1;
		}
	}
	for (i = 0; i < pu->count; i++) {
		f = &pu->filters[i];
		if (session_sub_del(s, (const char *)f->data, f->len) == -1)
			continue;
		topic_tree_remove(b->subs, (const char *)f->data, f->len, s);
		if (!s->clean)
			seq = max_seq(seq, store_sub_del(b->store, s,
			    (const char *)f->data, f->len));
	}
	/* [MQTT-3.10.4-4] [MQTT-3.10.4-5] UNSUBACK even if nothing matched */
	ack.u.suback.packet_id = pu->packet_id;
	broker_send(c, &ack, seq);
	return 0;
}
