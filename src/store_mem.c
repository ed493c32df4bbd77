/*
 * store_mem.c: the store that keeps nothing. Every change is committed the
 * moment it is made, so no answer is ever held. It stands in for the
 * SQLite store and serves tests that need a broker without a disk.
 */
#include <stdlib.h>

#include "store.h"
#include "xmalloc.h"

struct store {
	uint64_t	 committed;
};

struct store *
store_open(const struct config *cfg, char *err, size_t errlen)
{
	(void)cfg;
	(void)err;
	(void)errlen;
	return xcalloc(1, sizeof(struct store));
}

void
store_close(struct store *st)
{
	free(st);
}

uint64_t
store_committed(const struct store *st)
{
	return st->committed;
}

uint64_t
store_session_put(struct store *st, const struct session *s)
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
    const struct delivery *d)
{
	(void)st; (void)s; (void)d;
	return 0;
}

uint64_t
store_delivery_del(struct store *st, const struct session *s,
    const struct delivery *d)
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
store_retain_put(struct store *st, const struct message *msg)
{
	(void)st; (void)msg;
	return 0;
}

uint64_t
store_retain_del(struct store *st, const char *topic, size_t len)
{
	(void)st; (void)topic; (void)len;
	return 0;
}
