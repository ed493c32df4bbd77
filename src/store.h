/*
 * store.h: where the broker's durable state goes.
 *
 * Every change to a persistent session, its subscriptions, its deliveries
 * and incoming QoS 2 ids, and to the retained table, is one call here.
 * Each call returns the sequence number of the batch that will hold the
 * change (0: nothing to wait for). An answer that acknowledges the change
 * is held by its connection until store_committed() reaches that number
 * (DESIGN.md, "The durability contract", point 1).
 *
 * The broker calls the store only for what must persist (point 4): never
 * for clean sessions, never for QoS 0.
 *
 * This header is the interface; the implementation in this tree keeps
 * nothing (everything is "committed" at once) until the SQLite store
 * lands.
 */
#ifndef MQTTD_STORE_H
#define MQTTD_STORE_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct delivery;
struct message;
struct session;
struct store;

/* Opens the store named by the configuration; NULL with err filled. */
struct store	*store_open(const struct config *cfg, char *err, size_t errlen);
void		 store_close(struct store *st);

/* The highest batch sequence number known committed. */
uint64_t	 store_committed(const struct store *st);

uint64_t	 store_session_put(struct store *st, const struct session *s);
uint64_t	 store_session_del(struct store *st, const struct session *s);
uint64_t	 store_sub_put(struct store *st, const struct session *s,
		    const char *filter, size_t len, uint8_t qos);
uint64_t	 store_sub_del(struct store *st, const struct session *s,
		    const char *filter, size_t len);
uint64_t	 store_delivery_put(struct store *st, const struct session *s,
		    const struct delivery *d);
uint64_t	 store_delivery_del(struct store *st, const struct session *s,
		    const struct delivery *d);
uint64_t	 store_incoming_put(struct store *st, const struct session *s,
		    uint16_t packet_id);
uint64_t	 store_incoming_del(struct store *st, const struct session *s,
		    uint16_t packet_id);
uint64_t	 store_retain_put(struct store *st, const struct message *msg);
uint64_t	 store_retain_del(struct store *st, const char *topic, size_t len);

#endif /* MQTTD_STORE_H */
