/*
 * session.h: the state MQTT keeps per client id [MQTT-3.1.2-4]: its
 * subscriptions, the messages in flight each way, the queue of messages
 * not yet sent, and the packet identifiers in use.
 *
 * Pure bookkeeping: no sockets, no SQL, no protocol decisions. The broker
 * decides what to send; the session remembers it.
 */
#ifndef MQTTD_SESSION_H
#define MQTTD_SESSION_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;
struct message;

/* Outgoing delivery states, spelled as the store and the spec spell them. */
enum delivery_state {
	DELIVERY_QUEUED = 0,		/* waiting for a slot in the window */
	DELIVERY_PUBLISH_SENT,		/* QoS 1/2: waiting for PUBACK/PUBREC */
	DELIVERY_PUBREL_SENT		/* QoS 2: waiting for PUBCOMP */
};

/* One message on its way to one session. Owns a reference to msg. */
struct delivery {
	TAILQ_ENTRY(delivery)	 entry;
	struct message		*msg;
	uint64_t		 store_id;	/* the store's row; 0 = none */
	uint64_t		 store_seq;	/* batch of its latest change */
	size_t			 store_op;	/* that change's place in the batch */
	bool			 store_new;	/* inserted by batch store_seq */
	uint64_t		 hold;		/* batch that must commit before it is sent */
	uint8_t			 qos;		/* as delivered: min(publish, granted) */
	enum delivery_state	 state;
	uint16_t		 packet_id;	/* 0 while queued */
	bool			 retain;		/* sent because of a new subscription [MQTT-3.3.1-8] */
	unsigned		 retries;	/* resends while connected */
	uint64_t		 sent_at;	/* monotonic seconds */
};
TAILQ_HEAD(delivery_list, delivery);

/* A subscription as the session remembers it (the tree holds the same). */
struct session_sub {
	char		*filter;
	size_t		 len;
	uint8_t		 qos;	/* granted */
};

struct session {
	char			*client_id;	/* NUL-terminated */
	size_t			 client_id_len;
	bool			 clean;		/* Clean Session 1: ends with the connection */
	uint8_t			 level;		/* protocol level of the last CONNECT */
	struct client		*client;	/* NULL while offline */

	struct session_sub	*subs;
	size_t			 nsubs, subs_cap;

	struct delivery_list	 inflight;	/* sent, not yet completed, in send order */
	size_t			 ninflight;
	struct delivery_list	 queue;		/* not yet sent, in arrival order */
	size_t			 nqueued;
	size_t			 queued_bytes;
	/*
	 * A long offline queue stays on disk: backlog deliveries (ids above
	 * backlog_after, the newest in batch spill_seq) follow the queue
	 * above and are read back as it drains.
	 */
	size_t			 backlog;
	size_t			 backlog_bytes;
	uint64_t		 backlog_after;
	uint64_t		 spill_seq;
	bool			 refill_waiting;	/* for spill_seq's commit */
	TAILQ_ENTRY(session)	 refill_entry;
	uint16_t		 next_packet_id;

	uint16_t		*incoming;	/* QoS 2 ids awaiting PUBREL, sorted */
	size_t			 nincoming, incoming_cap;

	uint64_t		 route_mark;	/* routing: last publish that saw us */
	size_t			 route_slot;	/* routing: our slot for that publish */
	uint64_t		 dropped;	/* messages refused by queue limits */
};

/* A new empty session; client_id is copied. */
struct session	*session_new(const char *client_id, size_t len);
/* Frees the session and its deliveries; subscriptions must be gone. */
void		 session_free(struct session *s);

/* Subscriptions: add or replace (returns true if it replaced), remove. */
bool		 session_sub_put(struct session *s, const char *filter,
		    size_t len, uint8_t qos);
int		 session_sub_del(struct session *s, const char *filter, size_t len);
struct session_sub *session_sub_get(struct session *s, const char *filter,
		    size_t len);

/*
 * A free packet identifier, never one still in flight [MQTT-2.3.1-2].
 * The session must have fewer than 65535 deliveries in flight.
 */
uint16_t	 session_next_packet_id(struct session *s);
struct delivery	*session_inflight_find(struct session *s, uint16_t packet_id);

/* New delivery of msg (referenced) at qos, not yet on any list. */
struct delivery	*delivery_new(struct message *msg, uint8_t qos);
void		 delivery_free(struct delivery *d);

void		 session_enqueue(struct session *s, struct delivery *d);
struct delivery	*session_dequeue(struct session *s);
void		 session_inflight_add(struct session *s, struct delivery *d);
void		 session_inflight_remove(struct session *s, struct delivery *d);

/* Incoming QoS 2 packet ids awaiting PUBREL [MQTT-4.3.3-2]. */
bool		 session_incoming_has(const struct session *s, uint16_t id);
void		 session_incoming_add(struct session *s, uint16_t id);
bool		 session_incoming_del(struct session *s, uint16_t id);

#endif /* MQTTD_SESSION_H */
