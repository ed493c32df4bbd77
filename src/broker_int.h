/*
 * broker_int.h: what broker.c, broker_connect.c, broker_publish.c and
 * broker_subscribe.c share, and nothing else includes.
 */
#ifndef MQTTD_BROKER_INT_H
#define MQTTD_BROKER_INT_H

#include <sys/queue.h>

#include "broker.h"
#include "packet.h"
#include "topic.h"

struct message;
struct retain;
struct session;
struct strmap;

struct client {
	TAILQ_ENTRY(client)	 entry;
	struct broker		*broker;
	void			*conn;
	struct session		*session;	/* after CONNECT */
	struct message		*will;		/* NULL if none */
	uint8_t			 level;		/* 0 before CONNECT */
	bool			 connected;	/* CONNACK 0 sent */
	bool			 disconnecting;	/* DISCONNECT received */
	uint16_t		 keep_alive;
	char			 peer[64];
};
TAILQ_HEAD(client_list, client);
TAILQ_HEAD(session_list, session);

/* One matching session of a publish, merged over its filters. */
struct route_target {
	struct session		*session;
	uint8_t			 qos;		/* highest granted */
};

struct broker {
	const struct config	*cfg;
	const struct broker_io	*io;
	struct store		*store;
	struct topic_tree	*subs;		/* subscriber = struct session */
	struct retain		*retained;
	struct strmap		*sessions;	/* client id -> struct session */
	struct client_list	 clients;
	size_t			 nclients;
	struct session_list	 refill;	/* sessions waiting for a commit to read their queue */
	struct topic_limits	 limits;
	uint64_t		 now;		/* monotonic seconds */
	uint64_t		 route_mark;
	struct route_target	*targets;	/* scratch for routing */
	size_t			 ntargets, targets_cap;
	struct broker_stats	 stats;
	uint64_t		 id_counter;	/* generated client ids */
};

/* Printable client id (or peer before CONNECT) for log lines. */
const char	*client_name(const struct client *c);

/* broker.c */
void		 broker_send(struct client *c, const struct packet *p, uint64_t hold);
void		 broker_client_end(struct client *c, const char *reason, bool will);
void		 broker_session_destroy(struct broker *b, struct session *s);
uint64_t	 max_seq(uint64_t a, uint64_t b);

/* broker_connect.c */
int		 broker_handle_connect(struct client *c, struct packet *p);
int		 broker_handle_connect_refused(struct client *c, const char *why);

/* broker_publish.c */
int		 broker_handle_publish(struct client *c, struct packet *p);
int		 broker_handle_puback(struct client *c, struct packet *p);
int		 broker_handle_pubrec(struct client *c, struct packet *p);
int		 broker_handle_pubrel(struct client *c, struct packet *p);
int		 broker_handle_pubcomp(struct client *c, struct packet *p);
uint64_t	 broker_publish(struct broker *b, struct message *msg,
		    uint64_t hold);
uint64_t	 broker_deliver(struct broker *b, struct session *s,
		    struct message *msg, uint8_t qos, bool retain, uint64_t hold);
void		 broker_session_drain(struct broker *b, struct session *s);
void		 broker_session_resend(struct broker *b, struct session *s);
void		 broker_retry(struct broker *b, struct client *c);

/* broker_subscribe.c */
int		 broker_handle_subscribe(struct client *c, struct packet *p);
int		 broker_handle_unsubscribe(struct client *c, struct packet *p);

#endif /* MQTTD_BROKER_INT_H */
