/*
 * mqttd.c: main(). Owns the process's roots (configuration, logger,
 * event base, store, broker, network front end), wires them together,
 * and handles signals: SIGINT/SIGTERM shut down cleanly, SIGHUP reopens
 * the log file.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "broker.h"
#include "config.h"
#include "log.h"
#include "net.h"
#include "store.h"

/* How long a shutdown waits for connections to flush their output. */
#define SHUTDOWN_GRACE_SECONDS	5

struct mqttd {
	struct config		 cfg;
	struct event_base	*base;
	struct store		*store;
	struct broker		*broker;
	struct net		*net;
	struct event		*tick;
	struct event		*sigint, *sigterm, *sighup;
	bool			 stopping;
};

static uint64_t
monotonic_seconds(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct mqttd	*m = arg;

	(void)fd; (void)what;
	if (m->stopping) {
		if (m->net->nconns == 0)
			event_base_loopexit(m->base, NULL);
		return;
	}
	broker_tick(m->broker, monotonic_seconds());
}

static void
on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct mqttd	*m = arg;
	struct timeval	 grace = { SHUTDOWN_GRACE_SECONDS, 0 };

	(void)what;
	if (m->stopping) {
		log_info("second signal: exiting now");
		event_base_loopbreak(m->base);
		return;
	}
	log_info("%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
	m->stopping = true;
	net_stop_listening(m->net);
	broker_shutdown(m->broker);
	event_base_loopexit(m->base, &grace);
	if (m->net->nconns == 0)
		event_base_loopexit(m->base, NULL);
}

static void
on_sighup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig; (void)what; (void)arg;
	if (log_reopen() == -1)
		log_warn("SIGHUP: cannot reopen the log file");
	else
		log_info("SIGHUP: log file reopened");
}

/* The store's writer finished batches up to seq (loop thread). */
static void
on_store_done(uint64_t seq, bool failed, void *arg)
{
	struct mqttd	*m = arg;

	if (m->net != NULL)
		net_store_done(m->net, seq, failed);
	if (m->broker != NULL)
		broker_store_done(m->broker, seq);
}

static int
mqttd_start(struct mqttd *m)
{
	struct timeval	 one_second = { 1, 0 };
	char		 err[512];

	/* The store's writer thread wakes the loop through libevent. */
	if (evthread_use_pthreads() == -1 ||
	    (m->base = event_base_new()) == NULL) {
		log_errorx("cannot create the event loop");
		return -1;
	}
	m->store = store_open(&m->cfg, m->base, on_store_done, m, err,
	    sizeof(err));
	if (m->store == NULL) {
		log_errorx("%s", err);
		return -1;
	}
	/* Contract point 8: the store is read back before any listener opens. */
	m->broker = broker_new(&m->cfg, &conn_broker_io, m->store);
	if (broker_restore(m->broker, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		return -1;
	}
	/* Signals are handled before "listening on" tells anyone we are up. */
	m->tick = event_new(m->base, -1, EV_PERSIST, on_tick, m);
	m->sigint = evsignal_new(m->base, SIGINT, on_stop_signal, m);
	m->sigterm = evsignal_new(m->base, SIGTERM, on_stop_signal, m);
	m->sighup = evsignal_new(m->base, SIGHUP, on_sighup, m);
	if (m->tick == NULL || m->sigint == NULL || m->sigterm == NULL ||
	    m->sighup == NULL || event_add(m->tick, &one_second) == -1 ||
	    event_add(m->sigint, NULL) == -1 ||
	    event_add(m->sigterm, NULL) == -1 ||
	    event_add(m->sighup, NULL) == -1) {
		log_errorx("cannot set up timers and signal handlers");
		return -1;
	}
	if ((m->net = net_new(m->base, &m->cfg, err, sizeof(err))) == NULL) {
		log_errorx("%s", err);
		return -1;
	}
	net_set_broker(m->net, m->broker, m->store);
	broker_tick(m->broker, monotonic_seconds());

	return 0;
}

static void
mqttd_stop(struct mqttd *m)
{
	if (m->tick)
		event_free(m->tick);
	if (m->sigint)
		event_free(m->sigint);
	if (m->sigterm)
		event_free(m->sigterm);
	if (m->sighup)
		event_free(m->sighup);
	if (m->broker)
		broker_shutdown(m->broker);
	net_free(m->net);
	m->net = NULL;
	/* Commit what is queued before the broker's memory goes. */
	if (m->store)
		store_sync(m->store);
	broker_free(m->broker);
	if (m->store)
		store_close(m->store);
	if (m->base)
		event_base_free(m->base);
}

int
main(int argc, char **argv)
{
	struct mqttd	 m;
	char		 err[512];
	int		 rv = 0;

	memset(&m, 0, sizeof(m));
	switch (config_from_args(&m.cfg, argc, argv, err, sizeof(err))) {
	case CONFIG_EXIT:
		return 0;
	case CONFIG_ERROR:
		fprintf(stderr, "mqttd: %s\n", err);
		return 2;
	case CONFIG_OK:
		break;
	}
	if (log_init(m.cfg.log_level, m.cfg.log_file) == -1)
		log_warn("cannot open log file %s", m.cfg.log_file);
	signal(SIGPIPE, SIG_IGN);

	log_info("mqttd %s starting%s%s", PACKAGE_VERSION,
	    m.cfg.config_path[0] ? " with " : "", m.cfg.config_path);
	if (mqttd_start(&m) == -1)
		rv = 1;
	else if (event_base_dispatch(m.base) == -1) {
		log_errorx("event loop failed");
		rv = 1;
	}
	mqttd_stop(&m);
	if (rv == 0)
		log_info("mqttd stopped");
	log_close();
	return rv;
}
