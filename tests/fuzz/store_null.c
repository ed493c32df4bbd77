/*
 * store_null.c: a store that keeps nothing, for fuzz_broker.
 *
 * Every function of src/store.h, each doing nothing: every change is
 * "committed" at once (batch 0, which the transport treats as already
 * committed), nothing is ever read back, nothing is pending. The real
 * store.c has a writer thread, a database file and a commit per batch:
 * far too slow for a fuzzer, and not what fuzz_broker is about.
 *
 * Linked before src/libmqttd.a, so that the archive's store.o (and with
 * it SQLite and the schema) is never pulled in: nothing but store.c's
 * public functions is used from it, and these define all of them.
 *
 * What the broker sees: store ids stay 0 (no delivery, session or
 * message ever gets a row). The broker spills a persistent session's
 * queue to disk only beyond QUEUE_IN_MEMORY deliveries, which
 * fuzz_broker's max_queued_messages (at most 8) never reaches; were it
 * reached, store_queue_load() returning 0 makes refill() log one warning
 * and reset the backlog count, so it cannot loop either.
 *
 * No SQL, no threads, no files.
 */
#include <stdlib.h>

#include "store.h"
#include "xmalloc.h"

struct store {
	int	 unused;
};

struct store *
store_open(const struct config *cfg, struct event_base *base,
    store_done_fn *done, void *arg, char *err, size_t errlen)
{
	(void)cfg; (void)base; (void)done; (void)arg; (void)err; (void)errlen;
	return xcalloc(1, sizeof(struct store));
}

void
store_close(struct store *st)
{
	free(st);
}

int
store_restore(struct store *st, const struct store_restore *cb, void *arg,
    char *err, size_t errlen)
{
	(void)st; (void)cb; (void)arg; (void)err; (void)errlen;
	return 0;
}

int
store_queue_load(struct store *st, const char *client_id, uint64_t after_id,
    size_t limit, store_queue_fn *fn, void *arg)
{
	(void)st; (void)client_id; (void)after_id; (void)limit; (void)fn;
	(void)arg;
	return 0;
}

void
store_sync(struct store *st)
{
	(void)st;
}

uint64_t
store_committed(struct store *st)
{
	(void)st;
	return 0;
}

size_t
store_pending(struct store *st)
{
	(void)st;
	return 0;
}

uint64_t
store_session_put(struct store *st, const struct session *s)
{
	(void)st; (void)s;
	return 0;
}

uint64_t
store_session_offline(struct store *st, const struct session *s)
{
	(void)st; (void)s;
	return 0;
}

uint64_t
store_session_del(struct store *st, const struct session *s)
{
	(void)st; (void)s;
	return 0;
}

uint64_t
store_sub_put(struct store *st, const struct session *s, const char *filter,
    size_t len, uint8_t qos)
{
	(void)st; (void)s; (void)filter; (void)len; (void)qos;
	return 0;
}

uint64_t
store_sub_del(struct store *st, const struct session *s, const char *filter,
    size_t len)
{
	(void)st; (void)s; (void)filter; (void)len;
	return 0;
}

uint64_t
store_delivery_put(struct store *st, const struct session *s,
    struct delivery *d)
{
	(void)st; (void)s; (void)d;
	return 0;
}

uint64_t
store_delivery_del(struct store *st, const struct session *s,
    struct delivery *d)
{
	(void)st; (void)s; (void)d;
	return 0;
}

uint64_t
store_incoming_put(struct store *st, const struct session *s,
    uint16_t packet_id)
{
	(void)st; (void)s; (void)packet_id;
	return 0;
}

uint64_t
store_incoming_del(struct store *st, const struct session *s,
    uint16_t packet_id)
{
	(void)st; (void)s; (void)packet_id;
	return 0;
}

uint64_t
store_retain_put(struct store *st, struct message *msg, struct message *prev)
{
	(void)st; (void)msg; (void)prev;
	return 0;
}

uint64_t
store_retain_del(struct store *st, struct message *prev)
{
	(void)st; (void)prev;
	return 0;
}

void
store_unit_begin(struct store *st)
{
	(void)st;
}

void
store_unit_end(struct store *st)
{
	(void)st;
}

void
store_on_lost_incoming(struct store *st, store_incoming_fn *fn, void *arg)
{
	(void)st; (void)fn; (void)arg;
}

uint64_t
store_last_seq(struct store *st)
{
	(void)st;
	return 0;
}
