/*
 * net.c: listening sockets (IPv4 and IPv6, one per configured address)
 * and the set of live connections, with max_connections enforced at
 * accept time. A failing accept (EMFILE and friends) is logged and the
 * listeners pause for a second instead of spinning.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "net.h"
#include "xmalloc.h"

/* "127.0.0.1:1883" or "[::1]:1883" */
static void
sockaddr_format(const struct sockaddr *sa, char *buf, size_t size)
{
	char		 host[INET6_ADDRSTRLEN] = "?";
	unsigned	 port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
		snprintf(buf, size, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
		snprintf(buf, size, "[%s]:%u", host, port);
	} else
		snprintf(buf, size, "unknown");
}

static void
net_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct net	*net = arg;
	char		 peer[64];
	int		 one = 1;

	(void)l; (void)salen;
	sockaddr_format(sa, peer, sizeof(peer));
	if (net->nconns >= net->cfg->max_connections) {
		/* One line for the first refusal, then one per thousand. */
		if (net->refused++ % 1000 == 0)
			log_warnx("connection from %s refused: max_connections "
			    "(%u) reached", peer, net->cfg->max_connections);
		close(fd);
		return;
	}
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		log_debug("%s: TCP_NODELAY: %s", peer, strerror(errno));
	if (conn_new(net, fd, peer) == NULL)
		close(fd);
}

static void
net_resume_accept(evutil_socket_t fd, short what, void *arg)
{
	struct net	*net = arg;
	size_t		 i;

	(void)fd; (void)what;
	for (i = 0; i < net->nlisteners; i++)
		evconnlistener_enable(net->listeners[i]);
}

static void
net_accept_error(struct evconnlistener *l, void *arg)
{
	struct net	*net = arg;
	struct timeval	 one_second = { 1, 0 };
	size_t		 i;
	int		 err = EVUTIL_SOCKET_ERROR();

	(void)l;
	log_warnx("accept: %s", evutil_socket_error_to_string(err));
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		/* Out of descriptors or memory: pause instead of spinning. */
		for (i = 0; i < net->nlisteners; i++)
			evconnlistener_disable(net->listeners[i]);
		evtimer_add(net->resume_accept, &one_second);
	}
}

static int
net_listen(struct net *net, const char *address, uint16_t port, char *err,
    size_t errlen)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 sslen;
	struct evconnlistener	*l;
	char			 name[80];

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sslen = sizeof(*sin6);
	} else {
		snprintf(err, errlen, "cannot listen on '%s': not an IPv4 or "
		    "IPv6 address", address);
		return -1;
	}
	l = evconnlistener_new_bind(net->base, net_accept, net,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    SOMAXCONN, (struct sockaddr *)&ss, (int)sslen);
	if (l == NULL) {
		sockaddr_format((struct sockaddr *)&ss, name, sizeof(name));
		snprintf(err, errlen, "cannot listen on %s: %s", name,
		    strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(l, net_accept_error);
	net->listeners[net->nlisteners++] = l;

	/* With port 0 the kernel chose: say which, tests read it here. */
	sslen = sizeof(ss);
	if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss,
	    &sslen) == 0) {
		sockaddr_format((struct sockaddr *)&ss, name, sizeof(name));
		log_info("listening on %s", name);
	}
	return 0;
}

struct net *
net_new(struct event_base *base, const struct config *cfg, char *err,
    size_t errlen)
{
	struct net	*net;
	size_t		 i;

	net = xcalloc(1, sizeof(*net));
	net->base = base;
	net->cfg = cfg;
	TAILQ_INIT(&net->conns);
	TAILQ_INIT(&net->holding);
	TAILQ_INIT(&net->paused);
	net->resume_accept = evtimer_new(base, net_resume_accept, net);
	if (net->resume_accept == NULL) {
		snprintf(err, errlen, "cannot create a timer event");
		net_free(net);
		return NULL;
	}
	for (i = 0; i < cfg->address_count; i++) {
		if (net_listen(net, cfg->addresses[i], cfg->port, err,
		    errlen) == -1) {
			net_free(net);
			return NULL;
		}
	}
	return net;
}

void
net_set_broker(struct net *net, struct broker *broker, struct store *store)
{
	net->broker = broker;
	net->store = store;
}

void
net_stop_listening(struct net *net)
{
	size_t	 i;

	for (i = 0; i < net->nlisteners; i++)
		evconnlistener_free(net->listeners[i]);
	net->nlisteners = 0;
	if (net->resume_accept != NULL)
		evtimer_del(net->resume_accept);
}

void
net_free(struct net *net)
{
	struct conn	*c;

	if (net == NULL)
		return;
	net_stop_listening(net);
	while ((c = TAILQ_FIRST(&net->conns)) != NULL)
		conn_free(c);
	if (net->resume_accept != NULL)
		event_free(net->resume_accept);
	free(net);
}
