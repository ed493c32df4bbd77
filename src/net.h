/*
 * net.h: the network front end: listening sockets and connections over
 * libevent bufferevents. net.c owns the listeners and the list of
 * connections; conn.c owns one connection (framing, output queue, timers).
 *
 * No protocol decisions here: whole packets go to the broker, and the
 * broker's answers come back through struct broker_io.
 */
#ifndef MQTTD_NET_H
#define MQTTD_NET_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct broker;
struct broker_io;
struct store;
struct client;
struct conn;
struct event;
struct event_base;
struct evconnlistener;

TAILQ_HEAD(conn_list, conn);

struct net {
	struct event_base	*base;
	const struct config	*cfg;
	struct broker		*broker;
	struct store		*store;
	struct evconnlistener	*listeners[CONFIG_MAX_ADDRESSES];
	size_t			 nlisteners;
	struct event		*resume_accept;	/* after EMFILE */
	struct conn_list	 conns;
	size_t			 nconns;
	struct conn_list	 holding;	/* conns with answers held for a commit */
	struct conn_list	 paused;	/* conns not read while the store catches up */
	uint64_t		 committed;	/* the store's last committed batch */
	uint64_t		 refused;	/* connections over max_connections */
};

/* The callbacks the broker is given; conn.c implements them. */
extern const struct broker_io	 conn_broker_io;

/*
 * Binds every configured address. Returns NULL with one line in err
 * ("cannot listen on 127.0.0.1:1883: Address already in use").
 */
struct net	*net_new(struct event_base *base, const struct config *cfg,
		    char *err, size_t errlen);
void		 net_set_broker(struct net *net, struct broker *broker,
		    struct store *store);
/* Stops accepting new connections (shutdown). */
void		 net_stop_listening(struct net *net);
/* Frees every connection and listener. */
void		 net_free(struct net *net);

/*
 * The store finished batches up to seq: release the answers they held,
 * or, when the last of them failed, close the connections whose answers
 * can now never be sent (DESIGN.md, contract point 7).
 */
void		 net_store_done(struct net *net, uint64_t seq, bool failed);

/* conn.c */
struct conn	*conn_new(struct net *net, int fd, const char *peer);
void		 conn_free(struct conn *c);
void		 conn_release(struct conn *c, uint64_t seq, bool failed);
void		 conn_resume(struct conn *c);

#endif /* MQTTD_NET_H */
