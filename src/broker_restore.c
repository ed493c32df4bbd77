/*
 * broker_restore.c: rebuilding the broker's memory from the store at
 * start-up, before any listener opens (DESIGN.md, contract point 8).
 * Sessions come back offline; their in-flight messages are resent with
 * DUP and their original packet ids when the client reconnects.
 */
#include "broker_int.h"
#include "log.h"
#include "message.h"
#include "retain.h"
#include "session.h"
#include "store.h"
#include "strmap.h"

#include <string.h>

static struct session *
find_session(struct broker *b, const char *client_id)
{
	struct session	*s;

	s = strmap_get(b->sessions, client_id, strlen(client_id));
	if (s == NULL)
		log_warnx("storage: row for unknown session '%s' ignored",
		    client_id);
	return s;
}

static void
restore_session(void *arg, const char *client_id, uint8_t level)
{
	struct broker	*b = arg;
	struct session	*s;

	s = session_new(client_id, strlen(client_id));
	s->clean = false;
	s->level = level;
	strmap_put(b->sessions, s->client_id, s->client_id_len, s);
}

static void
restore_subscription(void *arg, const char *client_id, const char *filter,
    uint8_t qos)
{
	struct broker	*b = arg;
	struct session	*s;
	size_t		 len = strlen(filter);
	bool		 replaced;

	if ((s = find_session(b, client_id)) == NULL)
		return;
	session_sub_put(s, filter, len, qos);
	if (topic_tree_add(b->subs, filter, len, s, qos, &replaced) == -1)
		fatalx("out of memory restoring subscriptions");
}

static void
restore_delivery(void *arg, const char *client_id, uint64_t id,
    struct message *msg, uint8_t qos, bool retain, enum delivery_state state,
    uint16_t packet_id)
{
	struct broker	*b = arg;
	struct session	*s;
	struct delivery	*d;

	if ((s = find_session(b, client_id)) == NULL) {
		message_unref(msg);
		return;
	}
	d = delivery_new(msg, qos);
	message_unref(msg);		/* delivery_new took its own */
	d->store_id = id;
	d->retain = retain;
	d->state = state;
	d->packet_id = packet_id;
	if (state == DELIVERY_QUEUED)
		session_enqueue(s, d);
	else {
		session_inflight_add(s, d);
		/* New ids continue after the restored ones. */
		if (packet_id >= s->next_packet_id)
			s->next_packet_id = packet_id == 65535 ? 1 :
			    packet_id + 1;
	}
}

static void
restore_incoming(void *arg, const char *client_id, uint16_t packet_id)
{
	struct broker	*b = arg;
	struct session	*s;

	if ((s = find_session(b, client_id)) != NULL)
		session_incoming_add(s, packet_id);
}

static void
restore_retained(void *arg, struct message *msg)
{
	struct broker	*b = arg;

	retain_set(b->retained, msg);
	message_unref(msg);
}

static void
restore_backlog(void *arg, const char *client_id, size_t count, size_t bytes)
{
	struct broker	*b = arg;
	struct session	*s;

	if ((s = find_session(b, client_id)) == NULL)
		return;
	s->backlog = count;
	s->backlog_bytes = bytes;
	s->backlog_after = 0;
}

static const struct store_restore broker_restore_cb = {
	.session = restore_session,
	.subscription = restore_subscription,
	.delivery = restore_delivery,
	.incoming = restore_incoming,
	.retained = restore_retained,
	.backlog = restore_backlog,
};

int
broker_restore(struct broker *b, char *err, size_t errlen)
{
	return store_restore(b->store, &broker_restore_cb, b, err, errlen);
}
