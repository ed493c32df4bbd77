/*
 * session.c: per-client-id bookkeeping (see session.h). No protocol
 * decisions here: the broker asks, the session remembers.
 */
#include <sys/types.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "session.h"
#include "xmalloc.h"

struct session *
session_new(const char *client_id, size_t len)
{
	struct session	*s;

	s = xcalloc(1, sizeof(*s));
	s->client_id = xstrndup(client_id, len);
	s->client_id_len = len;
	TAILQ_INIT(&s->inflight);
	TAILQ_INIT(&s->queue);
	s->next_packet_id = 1;
	return s;
}

static void
delivery_list_free(struct delivery_list *list)
{
	struct delivery	*d;

	while ((d = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, d, entry);
		delivery_free(d);
	}
}

void
session_free(struct session *s)
{
	size_t	 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nsubs; i++)
		free(s->subs[i].filter);
	free(s->subs);
	delivery_list_free(&s->inflight);
	delivery_list_free(&s->queue);
	free(s->incoming);
	free(s->client_id);
	free(s);
}

/* ===== Subscriptions ===== */

static ssize_t
session_sub_find(const struct session *s, const char *filter, size_t len)
{
	size_t	 i;

	for (i = 0; i < s->nsubs; i++) {
		if (s->subs[i].len == len &&
		    memcmp(s->subs[i].filter, filter, len) == 0)
			return (ssize_t)i;
	}
	return -1;
}

bool
session_sub_put(struct session *s, const char *filter, size_t len,
    uint8_t qos)
{
	ssize_t	 i;

	if ((i = session_sub_find(s, filter, len)) >= 0) {
		s->subs[i].qos = qos;
		return true;
	}
	if (s->nsubs == s->subs_cap) {
		s->subs_cap = s->subs_cap ? s->subs_cap * 2 : 4;
		s->subs = xreallocarray(s->subs, s->subs_cap, sizeof(*s->subs));
	}
	s->subs[s->nsubs].filter = xstrndup(filter, len);
	s->subs[s->nsubs].len = len;
	s->subs[s->nsubs].qos = qos;
	s->nsubs++;
	return false;
}

struct session_sub *
session_sub_get(struct session *s, const char *filter, size_t len)
{
	ssize_t	 i;

	i = session_sub_find(s, filter, len);
	return i < 0 ? NULL : &s->subs[i];
}

int
session_sub_del(struct session *s, const char *filter, size_t len)
{
	ssize_t	 i;

	if ((i = session_sub_find(s, filter, len)) < 0)
		return -1;
	free(s->subs[i].filter);
	s->subs[i] = s->subs[--s->nsubs];
	return 0;
}

/* ===== Outgoing deliveries ===== */

struct delivery *
session_inflight_find(struct session *s, uint16_t packet_id)
{
	struct delivery	*d;

	/* Acknowledgements mostly come in order: the first is the usual hit. */
	TAILQ_FOREACH(d, &s->inflight, entry) {
		if (d->packet_id == packet_id)
			return d;
	}
	return NULL;
}

uint16_t
session_next_packet_id(struct session *s)
{
	uint16_t	 id;

	assert(s->ninflight < 65535);
	do {
		id = s->next_packet_id;
		s->next_packet_id = id == 65535 ? 1 : id + 1;
	} while (s->ninflight > 0 && session_inflight_find(s, id) != NULL);
	return id;
}

struct delivery *
delivery_new(struct message *msg, uint8_t qos)
{
	struct delivery	*d;

	d = xcalloc(1, sizeof(*d));
	d->msg = message_ref(msg);
	d->qos = qos;
	d->state = DELIVERY_QUEUED;
	return d;
}

void
delivery_free(struct delivery *d)
{
	if (d == NULL)
		return;
	message_unref(d->msg);
	free(d);
}

void
session_enqueue(struct session *s, struct delivery *d)
{
	TAILQ_INSERT_TAIL(&s->queue, d, entry);
	s->nqueued++;
	s->queued_bytes += message_size(d->msg);
}

struct delivery *
session_dequeue(struct session *s)
{
	struct delivery	*d;

	if ((d = TAILQ_FIRST(&s->queue)) == NULL)
		return NULL;
	TAILQ_REMOVE(&s->queue, d, entry);
	s->nqueued--;
	s->queued_bytes -= message_size(d->msg);
	return d;
}

void
session_inflight_add(struct session *s, struct delivery *d)
{
	TAILQ_INSERT_TAIL(&s->inflight, d, entry);
	s->ninflight++;
}

void
session_inflight_remove(struct session *s, struct delivery *d)
{
	TAILQ_REMOVE(&s->inflight, d, entry);
	s->ninflight--;
}

/* ===== Incoming QoS 2 ids ===== */

/* Index of the first id >= id in the sorted array. */
static size_t
incoming_lower_bound(const struct session *s, uint16_t id)
{
	size_t	 lo = 0, hi = s->nincoming, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->incoming[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool
session_incoming_has(const struct session *s, uint16_t id)
{
	size_t	 i;

	i = incoming_lower_bound(s, id);
	return i < s->nincoming && s->incoming[i] == id;
}

void
session_incoming_add(struct session *s, uint16_t id)
{
	size_t	 i;

	i = incoming_lower_bound(s, id);
	if (i < s->nincoming && s->incoming[i] == id)
		return;
	if (s->nincoming == s->incoming_cap) {
		s->incoming_cap = s->incoming_cap ? s->incoming_cap * 2 : 4;
		s->incoming = xreallocarray(s->incoming, s->incoming_cap,
		    sizeof(*s->incoming));
	}
	memmove(&s->incoming[i + 1], &s->incoming[i],
	    (s->nincoming - i) * sizeof(*s->incoming));
	s->incoming[i] = id;
	s->nincoming++;
}

bool
session_incoming_del(struct session *s, uint16_t id)
{
	size_t	 i;

	i = incoming_lower_bound(s, id);
	if (i >= s->nincoming || s->incoming[i] != id)
		return false;
	memmove(&s->incoming[i], &s->incoming[i + 1],
	    (s->nincoming - i - 1) * sizeof(*s->incoming));
	s->nincoming--;
	return true;
}
