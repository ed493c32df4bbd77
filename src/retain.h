/*
 * retain.h: the retained messages, one per topic [MQTT-3.3.1-5], found by
 * topic filter when a client subscribes [MQTT-3.3.1-6].
 *
 * Pure code: no sockets, no SQL. The table holds a reference to each
 * message; the broker tells the store about changes.
 */
#ifndef MQTTD_RETAIN_H
#define MQTTD_RETAIN_H

#include <stddef.h>

struct message;
struct retain;

struct retain	*retain_new(void);
void		 retain_free(struct retain *rt);

/* Makes msg the retained message of its topic, replacing any other. */
void		 retain_set(struct retain *rt, struct message *msg);
/* Removes the retained message of topic; returns 0, or -1 if none. */
int		 retain_clear(struct retain *rt, const char *topic, size_t len);
struct message	*retain_get(struct retain *rt, const char *topic, size_t len);

/*
 * Calls fn for every retained message whose topic matches filter (a valid
 * filter, not a shared one), with the rule that wildcards in the first
 * level do not match topics starting with '$' [MQTT-4.7.2-1].
 */
typedef void	 retain_fn(struct message *msg, void *arg);
void		 retain_match(struct retain *rt, const char *filter, size_t len,
		    retain_fn *fn, void *arg);

size_t		 retain_count(const struct retain *rt);

#endif /* MQTTD_RETAIN_H */
