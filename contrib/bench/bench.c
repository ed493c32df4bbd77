/*
 * bench.c: mqttd-bench, a load generator that measures an MQTT 3.1.1
 * broker over loopback.
 *
 * Owns the command line, the scenarios and the report. A scenario is a
 * short sequence of phases (connect these clients, publish until then,
 * drain, disconnect); each phase runs the one event_base until its step
 * function says it is over, or nothing has moved for --stall seconds, so
 * every run is bounded in time and in count. Clients (client.c) do the
 * protocol; stats.c holds the measures. Each run prints one line for a
 * person and one key=value line for scripts (contrib/bench/compare.sh).
 *
 * The broker is only ever seen through its socket and, when --broker-pid
 * is given, through /proc/PID/stat (CPU time) and /proc/PID/status (RSS).
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench.h"

/* Everything the command line sets. */
struct options {
	const char	*scenario;
	const char	*host;
	int		 port;
	int		 qos;
	unsigned	 pubs;
	unsigned	 subs;
	size_t		 payload;
	unsigned	 window;
	double		 duration;
	uint64_t	 count;
	enum layout	 layout;
	const char	*prefix;
	size_t		 qos0_buffer;
	unsigned	 conns;
	unsigned	 parallel;
	double		 hold;
	int		 broker_pid;
	const char	*restart_cmd;
	double		 stall;
	double		 restart_timeout;
	const char	*label;
	uint64_t	 max_lag;
	bool		 persistent;	/* throughput subscribers keep sessions */
	double		 rate;		/* msg/s in all; 0: unpaced */
};

/* The clients of a run, by role. */
struct run {
	struct bench	 b;
	struct options	*o;
	struct client	**pubs;
	struct client	**subs;
	struct client	**idle;
	unsigned	 nidle;
	unsigned	 want_subacks;	/* connect_all: SUBACKs to wait for */
	unsigned	 started;	/* connect scenario: connects begun */
	uint64_t	 deadline;	/* ns; publishing stops then (0: none) */
	uint64_t	 t_pubs_done;
	uint64_t	 expected;	/* deliveries wanted in this phase */
	uint64_t	 last_sum;	/* progress seen by the tick */
	uint64_t	 last_move;	/* ns of the last progress */
	bool		 stalled;
	int		 newpid;	/* recovery: the restarted broker */
	uint64_t	 probe_deadline;
};

static void	 usage(void) __attribute__((noreturn));

/* ===== Phases ===== */

void
bench_poke(struct bench *b)
{
	if (b->step != NULL && b->step(b))
		event_base_loopbreak(b->base);
}

static uint64_t
progress_sum(const struct bench *b)
{
	return b->n_connected + b->n_subscribed + b->n_closed + b->n_failed +
	    b->delivered + b->completed + b->sent;
}

/*
 * Makes due what --rate allows from the start of publishing until t and
 * wakes the publishers whose share grew. Counting from the start, not
 * per tick, keeps the rate whatever the timer's jitter.
 */
static void
pace_deal(struct run *r, uint64_t t)
{
	struct bench	*b = &r->b;
	uint64_t	 from = b->rate_due, due, k;

	if (b->rate <= 0 || !b->publishing || t <= b->t_start)
		return;
	due = (uint64_t)(b->rate * (double)(t - b->t_start) / 1e9);
	b->rate_due = due;
	for (k = from; k < due && k < from + b->npubs; k++)
		client_pub_fill(r->pubs[k % b->npubs]);
}

/* Stops publishing at the deadline, after what was due until then. */
static void
stop_at_deadline(struct run *r, uint64_t now)
{
	struct bench	*b = &r->b;
	unsigned	 i;

	if (r->deadline == 0 || now < r->deadline || !b->publishing)
		return;
	pace_deal(r, r->deadline);
	b->publishing = false;
	for (i = 0; i < b->npubs; i++)
		client_pub_check_done(r->pubs[i]);
}

/*
 * Every 20 ms: stop publishing at the deadline, notice progress, give up
 * on a phase that has not moved for --stall seconds.
 */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run	*r = arg;
	struct bench	*b = &r->b;
	uint64_t	 now = now_ns(), sum;

	(void)fd;
	(void)what;
	stop_at_deadline(r, now);
	sum = progress_sum(b);
	if (sum != r->last_sum) {
		r->last_sum = sum;
		r->last_move = now;
	} else if ((double)(now - r->last_move) / 1e9 > r->o->stall) {
		r->stalled = true;
		event_base_loopbreak(b->base);
		return;
	}
	bench_poke(b);
}

/*
 * Runs the loop until step says the phase is over or it stalls. Returns
 * 0, or -1 when it stalled.
 */
static int
phase_run(struct run *r, bool (*step)(struct bench *))
{
	struct bench	*b = &r->b;
	struct event	*tick;
	struct timeval	 tv = { 0, 20000 };

	r->stalled = false;
	r->last_sum = progress_sum(b);
	r->last_move = now_ns();
	b->step = step;
	if (step(b)) {
		b->step = NULL;
		return 0;
	}
	tick = event_new(b->base, -1, EV_PERSIST, tick_cb, r);
	event_add(tick, &tv);
	event_base_dispatch(b->base);
	event_free(tick);
	b->step = NULL;
	return r->stalled ? -1 : 0;
}

static bool
step_connected(struct bench *b)
{
	struct run	*r = b->phase;

	return b->n_failed > 0 ||
	    (b->n_connected >= r->expected && b->n_subscribed >= r->want_subacks);
}

/* Connects clients (nothing is running yet) and waits for their CONNACK
 * and, for subscribers that subscribe, their SUBACK. */
static int
connect_all(struct run *r, struct client **cs, unsigned n)
{
	struct bench	*b = &r->b;
	unsigned	 i, nsub = 0;

	b->n_connected = b->n_subscribed = 0;
	for (i = 0; i < n; i++) {
		if (cs[i]->role == ROLE_SUB && cs[i]->subscribe)
			nsub++;
		if (client_connect(cs[i]) == -1)
			return -1;
	}
	r->expected = n;
	r->want_subacks = nsub;
	if (phase_run(r, step_connected) == -1 || b->n_failed > 0) {
		fprintf(stderr, "mqttd-bench: %u of %u clients connected, "
		    "%u subscribed, %u failed\n", b->n_connected, n,
		    b->n_subscribed, b->n_failed);
		return -1;
	}
	return 0;
}

static bool
step_closed(struct bench *b)
{
	struct run	*r = b->phase;

	return b->n_closed >= r->expected;
}

/* Sends DISCONNECT on every open client and waits until all are closed. */
static void
disconnect_all(struct run *r, struct client **cs, unsigned n)
{
	struct bench	*b = &r->b;
	unsigned	 i, open = 0;

	b->n_closed = 0;
	for (i = 0; i < n; i++)
		if (cs[i]->bev != NULL) {
			open++;
			client_disconnect(cs[i]);
		}
	r->expected = open;
	if (phase_run(r, step_closed) == -1)
		for (i = 0; i < n; i++)
			client_close(cs[i]);
}

/* Publishing: over once every publisher is done and every copy arrived. */
static bool
step_publish(struct bench *b)
{
	struct run	*r = b->phase;

	if (b->n_pubs_done < b->npubs)
		return false;
	if (r->t_pubs_done == 0)
		r->t_pubs_done = now_ns();
	return b->delivered - b->delivered0 >= b->sent * b->nsubs;
}

/* Draining stored messages: over once `expected` have arrived. */
static bool
step_drain(struct bench *b)
{
	struct run	*r = b->phase;

	return b->delivered - b->delivered0 >= r->expected;
}

/* ===== Measures ===== */

struct tally {
	uint64_t	 lost;
	uint64_t	 dup;
	uint64_t	 foreign;
	struct hist	*lat;		/* owned */
};

/*
 * Loss and duplication over every (subscriber, publisher) pair: each
 * subscriber should have seen every sequence number each publisher sent.
 */
static void
tally(struct run *r, struct tally *t)
{
	struct bench	*b = &r->b;
	unsigned	 s, p;

	memset(t, 0, sizeof(*t));
	if ((t->lat = calloc(1, sizeof(*t->lat))) == NULL)
		exit(2);
	for (s = 0; s < b->nsubs; s++) {
		struct client *sub = r->subs[s];

		for (p = 0; p < b->npubs; p++) {
			uint64_t sent = r->pubs[p]->sent;
			uint64_t got = sub->seen[p].distinct;

			if (got < sent)
				t->lost += sent - got;
			t->dup += sub->seen[p].dup;
		}
		t->foreign += sub->foreign;
		hist_merge(t->lat, sub->lat);
	}
}

static double
secs(uint64_t from, uint64_t to)
{
	return to > from ? (double)(to - from) / 1e9 : 0;
}

static double
rate(uint64_t n, double s)
{
	return s > 0 ? (double)n / s : 0;
}

static double
cpu_delta(double before, double after)
{
	return before >= 0 && after >= 0 ? after - before : -1;
}

static void
print_cpu(const char *key, double cpu, uint64_t msgs)
{
	if (cpu < 0) {
		printf(" %s_s=NA msgs_per_%s_s=NA", key, key);
		return;
	}
	printf(" %s_s=%.3f msgs_per_%s_s=%.0f", key, cpu, key,
	    cpu > 0 ? (double)msgs / cpu : 0);
}

/* Publish to PUBACK (QoS 1) or PUBCOMP (QoS 2); NA at QoS 0. */
static void
print_ack_keys(const struct hist *ack)
{
	if (ack == NULL) {
		printf(" ack_p50_us=NA ack_p99_us=NA ack_max_us=NA");
		return;
	}
	printf(" ack_p50_us=%llu ack_p99_us=%llu ack_max_us=%llu",
	    (unsigned long long)hist_quantile(ack, 0.5),
	    (unsigned long long)hist_quantile(ack, 0.99),
	    (unsigned long long)ack->max);
}

static void
print_label(const struct options *o)
{
	if (o->label != NULL)
		printf(" label=%s", o->label);
	printf("\n");
	fflush(stdout);
}

/* ===== Scenario helpers ===== */

static struct client **
make_clients(struct run *r, enum client_role role, unsigned n, bool clean)
{
	struct client	**cs;
	char		  id[48];
	unsigned	  i;

	if ((cs = calloc(n ? n : 1, sizeof(*cs))) == NULL)
		exit(2);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "mb%ld-%c%u", (long)getpid(),
		    role == ROLE_PUB ? 'p' : role == ROLE_SUB ? 's' : 'c', i);
		cs[i] = client_new(&r->b, role, i, id, clean);
	}
	return cs;
}

static void
free_clients(struct client **cs, unsigned n)
{
	unsigned	 i;

	if (cs == NULL)
		return;
	for (i = 0; i < n; i++)
		client_free(cs[i]);
	free(cs);
}

/* Every millisecond under --rate. */
static void
pace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run	*r = arg;
	uint64_t	 now = now_ns();

	(void)fd;
	(void)what;
	stop_at_deadline(r, now);
	pace_deal(r, now);
	bench_poke(&r->b);
}

static struct event *
pace_start(struct run *r)
{
	struct timeval	 tv = { 0, 1000 };
	struct event	*ev;

	r->b.rate_due = 0;
	if (r->b.rate <= 0)
		return NULL;
	ev = event_new(r->b.base, -1, EV_PERSIST, pace_cb, r);
	if (ev == NULL || event_add(ev, &tv) == -1) {
		fprintf(stderr, "mqttd-bench: cannot start the pacing timer\n");
		exit(2);
	}
	return ev;
}

/*
 * Publishes `count` messages in all (spread over the publishers) or,
 * with count 0, for --duration seconds; waits for every copy to arrive
 * at the subscribers that are connected (nsubs_online of them).
 */
static int
publish_phase(struct run *r, uint64_t count, unsigned nsubs_online)
{
	struct bench	*b = &r->b;
	struct event	*pace;
	unsigned	 i;

	b->n_pubs_done = 0;
	b->sent = b->completed = 0;
	b->delivered0 = b->delivered;
	r->t_pubs_done = 0;
	for (i = 0; i < b->npubs; i++) {
		struct client *c = r->pubs[i];

		c->limit = count / b->npubs + (i < count % b->npubs ? 1 : 0);
		c->pub_done = false;
		if (count > 0 && c->limit == 0) {
			c->pub_done = true;
			b->n_pubs_done++;
		}
	}
	b->nsubs = nsubs_online;
	b->lag_sub = NULL;
	for (i = 0; i < nsubs_online; i++)
		r->subs[i]->received0 = r->subs[i]->received;
	b->t_start = now_ns();
	r->deadline = count == 0 ? b->t_start +
	    (uint64_t)(r->o->duration * 1e9) : 0;
	b->publishing = true;
	pace = pace_start(r);
	for (i = 0; i < b->npubs; i++)
		client_pub_fill(r->pubs[i]);
	i = phase_run(r, step_publish) == 0;
	if (pace != NULL)
		event_free(pace);
	b->publishing = false;
	r->deadline = 0;
	if (r->t_pubs_done == 0)
		r->t_pubs_done = now_ns();
	b->nsubs = r->o->subs;
	return i ? 0 : -1;
}

/* ===== throughput and fanout ===== */

/* What a throughput or fanout run measured. */
struct tp_result {
	struct tally	 t;
	struct hist	*ack;		/* NULL at QoS 0 */
	double		 pub_s;		/* until the last acknowledgement */
	double		 deliver_s;	/* until the last delivery */
	double		 broker_cpu;	/* -1: unknown */
	double		 bench_cpu;
	bool		 stalled;
};

static void
throughput_human(const struct run *r, const struct tp_result *m)
{
	const struct bench	*b = &r->b;
	const struct options	*o = r->o;

	printf("%s: qos %d, %u pub -> %u %ssub, %zu B: sent %.0f msg/s",
	    o->scenario, o->qos, o->pubs, o->subs,
	    o->persistent ? "persistent " : "", o->payload,
	    rate(b->sent, m->pub_s));
	if (o->rate > 0)
		printf(" (paced at %.0f)", o->rate);
	printf(", delivered %.0f msg/s, lost %llu, dup %llu, latency p50 "
	    "%llu us p99 %llu us max %llu us", rate(b->delivered,
	    m->deliver_s), (unsigned long long)m->t.lost,
	    (unsigned long long)m->t.dup,
	    (unsigned long long)hist_quantile(m->t.lat, 0.5),
	    (unsigned long long)hist_quantile(m->t.lat, 0.99),
	    (unsigned long long)m->t.lat->max);
	if (m->ack != NULL)
		printf(", %s p50 %llu us p99 %llu us max %llu us",
		    o->qos == 2 ? "PUBCOMP" : "PUBACK",
		    (unsigned long long)hist_quantile(m->ack, 0.5),
		    (unsigned long long)hist_quantile(m->ack, 0.99),
		    (unsigned long long)m->ack->max);
	if (m->broker_cpu >= 0)
		printf(", broker %.2f CPU-s (%.0f deliveries per CPU-s)",
		    m->broker_cpu, m->broker_cpu > 0 ?
		    (double)b->delivered / m->broker_cpu : 0);
	printf("%s\n", m->stalled ? " [stalled]" : "");
}

static void
throughput_keys(const struct run *r, const struct tp_result *m)
{
	const struct bench	*b = &r->b;
	const struct options	*o = r->o;

	printf("scenario=%s qos=%d pubs=%u subs=%u persistent=%d payload=%zu "
	    "window=%u max_lag=%llu rate=%.0f topics=%s sent=%llu "
	    "delivered=%llu sent_rate=%.0f delivered_rate=%.0f lost=%llu "
	    "dup=%llu foreign=%llu p50_us=%llu p99_us=%llu max_us=%llu",
	    o->scenario, o->qos, o->pubs, o->subs, o->persistent, o->payload,
	    o->window, (unsigned long long)o->max_lag, o->rate,
	    o->layout == LAYOUT_EACH ? "each" :
	    o->layout == LAYOUT_WILDCARD ? "wildcard" : "single",
	    (unsigned long long)b->sent, (unsigned long long)b->delivered,
	    rate(b->sent, m->pub_s), rate(b->delivered, m->deliver_s),
	    (unsigned long long)m->t.lost, (unsigned long long)m->t.dup,
	    (unsigned long long)m->t.foreign,
	    (unsigned long long)hist_quantile(m->t.lat, 0.5),
	    (unsigned long long)hist_quantile(m->t.lat, 0.99),
	    (unsigned long long)m->t.lat->max);
	print_ack_keys(m->ack);
	printf(" failed=%u stalled=%d pub_s=%.3f deliver_s=%.3f", b->n_failed,
	    m->stalled, m->pub_s, m->deliver_s);
	print_cpu("broker_cpu", m->broker_cpu, b->delivered);
	printf(" bench_cpu_s=%.3f", m->bench_cpu);
	print_label(o);
}

static int
scenario_throughput(struct run *r)
{
	struct bench		*b = &r->b;
	struct options		*o = r->o;
	struct tp_result	 m;
	double			 cpu0, self0;
	int			 rc = 0;

	r->subs = b->subs = make_clients(r, ROLE_SUB, o->subs,
	    !o->persistent);
	r->pubs = b->pubs = make_clients(r, ROLE_PUB, o->pubs, true);
	if (connect_all(r, r->subs, o->subs) == -1 ||
	    connect_all(r, r->pubs, o->pubs) == -1)
		return 2;

	memset(&m, 0, sizeof(m));
	if (o->qos > 0 && (m.ack = calloc(1, sizeof(*m.ack))) == NULL)
		return 2;
	cpu0 = proc_cpu_seconds(o->broker_pid);
	self0 = self_cpu_seconds();
	b->record_latency = true;
	b->ack_hist = m.ack;
	m.stalled = publish_phase(r, o->count, o->subs) != 0;
	b->ack_hist = NULL;
	b->record_latency = false;
	m.broker_cpu = cpu_delta(cpu0, proc_cpu_seconds(o->broker_pid));
	m.bench_cpu = self_cpu_seconds() - self0;

	tally(r, &m.t);
	m.pub_s = secs(b->t_start, r->t_pubs_done);
	m.deliver_s = secs(b->t_start, b->t_last_delivery);
	if (m.t.lost > 0 || b->n_failed > 0 || (o->qos == 2 && m.t.dup > 0))
		rc = 1;
	throughput_human(r, &m);
	throughput_keys(r, &m);
	free(m.t.lat);
	free(m.ack);

	disconnect_all(r, r->pubs, o->pubs);
	disconnect_all(r, r->subs, o->subs);
	return rc;
}

/* ===== connect ===== */

static bool
step_connect_many(struct bench *b)
{
	struct run	*r = b->phase;
	unsigned	 done = b->n_connected + b->n_failed;

	while (r->started < r->nidle &&
	    r->started - done < r->o->parallel) {
		client_connect(r->idle[r->started]);
		r->started++;
	}
	return done >= r->nidle;
}

static void
sleep_seconds(double s)
{
	struct timespec	 ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
scenario_connect(struct run *r)
{
	struct bench	*b = &r->b;
	struct options	*o = r->o;
	struct hist	*h;
	long		 rss0, rss1;
	double		 cpu0, cpu1, t;
	uint64_t	 t0, t1;
	int		 ok;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return 2;
	rss0 = proc_rss_kib(o->broker_pid);
	cpu0 = proc_cpu_seconds(o->broker_pid);
	r->nidle = o->conns;
	r->idle = make_clients(r, ROLE_IDLE, o->conns, true);
	b->connect_hist = h;
	t0 = now_ns();
	ok = phase_run(r, step_connect_many);
	t1 = now_ns();
	b->connect_hist = NULL;
	sleep_seconds(o->hold);
	rss1 = proc_rss_kib(o->broker_pid);
	cpu1 = proc_cpu_seconds(o->broker_pid);
	t = secs(t0, t1);

	printf("connect: %u of %u connections in %.2f s (%.0f/s), CONNACK "
	    "p50 %llu us p99 %llu us max %llu us", b->n_connected, o->conns,
	    t, rate(b->n_connected, t),
	    (unsigned long long)hist_quantile(h, 0.5),
	    (unsigned long long)hist_quantile(h, 0.99),
	    (unsigned long long)h->max);
	if (rss0 >= 0 && rss1 >= 0 && b->n_connected > 0)
		printf(", broker RSS %ld -> %ld KiB (%.0f B per connection)",
		    rss0, rss1, (double)(rss1 - rss0) * 1024 /
		    b->n_connected);
	printf("%s\n", ok == 0 ? "" : " [stalled]");
	printf("scenario=connect conns=%u connected=%u failed=%u "
	    "connect_s=%.3f connect_rate=%.0f p50_us=%llu p99_us=%llu "
	    "max_us=%llu rss_before_kib=%ld rss_after_kib=%ld", o->conns,
	    b->n_connected, b->n_failed, t, rate(b->n_connected, t),
	    (unsigned long long)hist_quantile(h, 0.5),
	    (unsigned long long)hist_quantile(h, 0.99),
	    (unsigned long long)h->max, rss0, rss1);
	if (rss0 >= 0 && rss1 >= 0 && b->n_connected > 0)
		printf(" rss_per_conn_bytes=%.0f", (double)(rss1 - rss0) *
		    1024 / b->n_connected);
	else
		printf(" rss_per_conn_bytes=NA");
	print_cpu("broker_cpu", cpu_delta(cpu0, cpu1), b->n_connected);
	print_label(o);
	free(h);
	disconnect_all(r, r->idle, o->conns);
	return b->n_connected == o->conns ? 0 : 1;
}

/* ===== durable and recovery ===== */

/*
 * Persistent subscribers connect, subscribe and leave; the publishers
 * send count messages that the broker must store for them. Fills
 * *puback_s with the time the publishers took, *cpu with the broker's
 * CPU meanwhile.
 */
static int
fill_offline_queues(struct run *r, double *puback_s, double *cpu)
{
	struct bench	*b = &r->b;
	struct options	*o = r->o;
	double		 cpu0;

	r->subs = b->subs = make_clients(r, ROLE_SUB, o->subs, false);
	r->pubs = b->pubs = make_clients(r, ROLE_PUB, o->pubs, true);
	if (connect_all(r, r->subs, o->subs) == -1)
		return -1;
	disconnect_all(r, r->subs, o->subs);
	sleep_seconds(0.2);	/* let the broker see them go */
	if (connect_all(r, r->pubs, o->pubs) == -1)
		return -1;
	cpu0 = proc_cpu_seconds(o->broker_pid);
	if (publish_phase(r, o->count, 0) == -1) {
		fprintf(stderr, "mqttd-bench: publishing stalled: %llu of "
		    "%llu acknowledged\n", (unsigned long long)b->completed,
		    (unsigned long long)o->count);
		return -1;
	}
	*cpu = cpu_delta(cpu0, proc_cpu_seconds(o->broker_pid));
	*puback_s = secs(b->t_start, r->t_pubs_done);
	disconnect_all(r, r->pubs, o->pubs);
	return 0;
}

/*
 * The subscribers come back with their sessions (clean session 0, no
 * new SUBSCRIBE) and take what was stored. Returns 0, or -1 when the
 * delivery stalled before every message arrived.
 */
static int
drain_offline_queues(struct run *r, unsigned *no_session)
{
	struct bench	*b = &r->b;
	struct options	*o = r->o;
	unsigned	 i;
	int		 ok;

	b->delivered0 = b->delivered;
	r->expected = o->count * o->subs;
	for (i = 0; i < o->subs; i++)
		r->subs[i]->subscribe = false;
	if (connect_all(r, r->subs, o->subs) == -1)
		return -1;
	*no_session = 0;
	for (i = 0; i < o->subs; i++)
		if (!r->subs[i]->session_present)
			(*no_session)++;
	r->expected = o->count * o->subs;
	ok = phase_run(r, step_drain);
	return ok;
}

static int
scenario_durable(struct run *r)
{
	struct bench	*b = &r->b;
	struct options	*o = r->o;
	struct tally	 t;
	double		 pub_s, pub_cpu, drain_s, cpu0, drain_cpu;
	uint64_t	 t0;
	unsigned	 no_session = 0;
	int		 ok, rc = 0;

	if (fill_offline_queues(r, &pub_s, &pub_cpu) == -1)
		return 2;
	cpu0 = proc_cpu_seconds(o->broker_pid);
	t0 = now_ns();
	b->t_last_delivery = t0;
	ok = drain_offline_queues(r, &no_session);
	drain_cpu = cpu_delta(cpu0, proc_cpu_seconds(o->broker_pid));
	drain_s = secs(t0, b->t_last_delivery);
	tally(r, &t);
	if (t.lost > 0 || b->n_failed > 0 || (o->qos == 2 && t.dup > 0))
		rc = 1;

	printf("durable: qos %d, %u pub -> %u persistent sub, %llu msgs: "
	    "PUBACK %.0f msg/s while storing, delivery after reconnect "
	    "%.0f msg/s, delivered %llu of %llu, lost %llu, dup %llu%s\n",
	    o->qos, o->pubs, o->subs, (unsigned long long)o->count,
	    rate(o->count, pub_s), rate(b->delivered, drain_s),
	    (unsigned long long)b->delivered,
	    (unsigned long long)(o->count * o->subs),
	    (unsigned long long)t.lost, (unsigned long long)t.dup,
	    ok == 0 ? "" : " [stalled]");
	printf("scenario=durable qos=%d pubs=%u subs=%u payload=%zu "
	    "window=%u count=%llu puback_rate=%.0f pub_s=%.3f", o->qos,
	    o->pubs, o->subs, o->payload, o->window,
	    (unsigned long long)o->count, rate(o->count, pub_s), pub_s);
	print_cpu("pub_broker_cpu", pub_cpu, o->count);
	printf(" delivered=%llu drain_rate=%.0f drain_s=%.3f lost=%llu "
	    "dup=%llu foreign=%llu no_session=%u failed=%u stalled=%d",
	    (unsigned long long)b->delivered, rate(b->delivered, drain_s),
	    drain_s, (unsigned long long)t.lost, (unsigned long long)t.dup,
	    (unsigned long long)t.foreign, no_session, b->n_failed, ok != 0);
	print_cpu("drain_broker_cpu", drain_cpu, b->delivered);
	print_label(o);
	free(t.lat);
	disconnect_all(r, r->subs, o->subs);
	return rc;
}

/*
 * Waits (up to 10 s) until pid has exited and let go of its files: gone,
 * or a zombie with no thread left. The first thread of a process shows
 * as a zombie while its other threads may still be exiting and holding
 * the descriptors (and so the locks) of the process.
 */
static void
wait_dead(int pid)
{
	char	 path[64], line[256];
	FILE	*f;
	int	 i, threads;
	bool	 zombie;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	for (i = 0; i < 1000; i++) {
		if ((f = fopen(path, "r")) == NULL)
			return;
		zombie = false;
		threads = -1;
		while (fgets(line, sizeof(line), f) != NULL) {
			if (strncmp(line, "State:", 6) == 0)
				zombie = strchr(line, 'Z') != NULL ||
				    strchr(line, 'X') != NULL;
			else if (strncmp(line, "Threads:", 8) == 0)
				threads = atoi(line + 8);
		}
		fclose(f);
		if (zombie && threads <= 1)
			return;
		sleep_seconds(0.01);
	}
	fprintf(stderr, "mqttd-bench: pid %d still there after kill -9\n",
	    pid);
}

/*
 * Runs the restart command with sh -c. If its standard output starts
 * with a number, that is the new broker's pid; else 0.
 */
static int
run_restart(const char *cmd)
{
	char	 line[64];
	FILE	*f;
	int	 pid = 0;

	if ((f = popen(cmd, "r")) == NULL) {
		fprintf(stderr, "mqttd-bench: cannot run %s\n", cmd);
		return -1;
	}
	if (fgets(line, sizeof(line), f) != NULL)
		pid = atoi(line);
	while (fgets(line, sizeof(line), f) != NULL)
		;
	if (pclose(f) != 0)
		fprintf(stderr, "mqttd-bench: restart command failed\n");
	return pid;
}

/*
 * Waiting for the restarted broker: over when the probe has its CONNACK,
 * when the new broker died, or at --restart-timeout.
 */
static bool
step_probe(struct bench *b)
{
	struct run	*r = b->phase;

	if (b->n_connected >= 1)
		return true;
	if (r->newpid > 0 && !proc_alive(r->newpid)) {
		fprintf(stderr, "mqttd-bench: the restarted broker (pid %d) "
		    "exited\n", r->newpid);
		return true;
	}
	return now_ns() >= r->probe_deadline;
}

static int
scenario_recovery(struct run *r)
{
	struct bench	*b = &r->b;
	struct options	*o = r->o;
	struct client	*probe;
	struct tally	 t;
	double		 pub_s, pub_cpu, cpu0, accept_s, all_s;
	uint64_t	 t0;
	unsigned	 no_session = 0;
	int		 newpid = 0, ok, rc = 0;
	char		 id[48], all_text[32];

	if (o->broker_pid <= 0) {
		fprintf(stderr, "mqttd-bench: recovery needs --broker-pid\n");
		return 2;
	}
	if (fill_offline_queues(r, &pub_s, &pub_cpu) == -1)
		return 2;
	if (kill(o->broker_pid, SIGKILL) == -1) {
		fprintf(stderr, "mqttd-bench: kill %d: %s\n", o->broker_pid,
		    strerror(errno));
		return 2;
	}
	wait_dead(o->broker_pid);

	t0 = now_ns();
	if (o->restart_cmd != NULL && (newpid = run_restart(o->restart_cmd)) < 0)
		return 2;
	cpu0 = newpid > 0 ? proc_cpu_seconds(newpid) : -1;
	snprintf(id, sizeof(id), "mb%ld-probe", (long)getpid());
	probe = client_new(b, ROLE_IDLE, 0, id, true);
	probe->retry_refused = true;
	b->n_connected = 0;
	r->newpid = newpid;
	r->probe_deadline = t0 + (uint64_t)(o->restart_timeout * 1e9);
	client_connect(probe);
	{
		/* Restoring a big store takes a while: no stall limit. */
		double stall = o->stall;

		o->stall = o->restart_timeout;
		ok = phase_run(r, step_probe);
		o->stall = stall;
	}
	accept_s = secs(t0, now_ns());
	if (ok != 0 || b->n_connected != 1) {
		fprintf(stderr, "mqttd-bench: the broker did not come back\n");
		return 2;
	}
	client_disconnect(probe);

	b->t_last_delivery = now_ns();
	ok = drain_offline_queues(r, &no_session);
	all_s = secs(t0, b->t_last_delivery);
	tally(r, &t);
	if (t.lost > 0 || b->n_failed > 0 || (o->qos == 2 && t.dup > 0))
		rc = 1;
	if (t.lost == 0 && ok == 0)
		snprintf(all_text, sizeof(all_text), "%.3f", all_s);
	else
		snprintf(all_text, sizeof(all_text), "NA");

	printf("recovery: %llu msgs stored for %u offline sessions "
	    "(PUBACK %.0f msg/s); after kill -9 and restart: accepting in "
	    "%.3f s, %llu of %llu delivered in %.3f s, lost %llu, dup %llu%s\n",
	    (unsigned long long)o->count, o->subs, rate(o->count, pub_s),
	    accept_s, (unsigned long long)b->delivered,
	    (unsigned long long)(o->count * o->subs), all_s,
	    (unsigned long long)t.lost, (unsigned long long)t.dup,
	    ok == 0 ? "" : " [stalled]");
	printf("scenario=recovery qos=%d pubs=%u subs=%u payload=%zu "
	    "count=%llu puback_rate=%.0f restart_accept_s=%.3f "
	    "restart_all_delivered_s=%s delivered=%llu lost=%llu dup=%llu "
	    "no_session=%u stalled=%d new_broker_pid=%d", o->qos, o->pubs,
	    o->subs, o->payload, (unsigned long long)o->count,
	    rate(o->count, pub_s), accept_s, all_text,
	    (unsigned long long)b->delivered, (unsigned long long)t.lost,
	    (unsigned long long)t.dup, no_session, ok != 0, newpid);
	print_cpu("broker_cpu", newpid > 0 ? cpu_delta(cpu0,
	    proc_cpu_seconds(newpid)) : -1, b->delivered);
	print_label(o);
	free(t.lat);
	disconnect_all(r, r->subs, o->subs);
	r->expected = 1;
	if (probe->bev != NULL) {
		b->n_closed = 0;
		phase_run(r, step_closed);
	}
	client_free(probe);
	return rc;
}

/* ===== Command line ===== */

static void
usage(void)
{
	fprintf(stderr,
"usage: mqttd-bench SCENARIO [options]\n"
"scenarios:\n"
"  throughput  P publishers, S subscribers to every publisher's topic\n"
"  fanout      one publisher, N subscribers (defaults: --subs 100, QoS 0)\n"
"  connect     open and hold --conns connections; connect rate, RSS\n"
"  durable     persistent subscribers leave, --count messages are stored,\n"
"              they come back and must get every one\n"
"  recovery    as durable, but the broker is killed (kill -9) and\n"
"              restarted (--restart-cmd) before the subscribers return\n"
"options:\n"
"  -H, --host ADDR        broker address (127.0.0.1)\n"
"  -p, --port PORT        broker port (1883)\n"
"  -q, --qos N            0, 1 or 2 (throughput 0; durable, recovery 1)\n"
"  -P, --pubs N           publishers (1)\n"
"  -S, --subs N           subscribers (1; fanout 100)\n"
"  -s, --payload BYTES    payload size, at least %d (64)\n"
"  -w, --window N         unacknowledged messages per publisher (20)\n"
"  -d, --duration SEC     publishing time (5)\n"
"  -n, --count N          messages in all instead of a duration\n"
"                         (durable 10000, recovery 100000)\n"
"  -t, --topics LAYOUT    each: subscribe to each PREFIX/i; wildcard:\n"
"                         to PREFIX/+; single: all use PREFIX/all (each)\n"
"      --prefix STR       topic prefix (bench/PID)\n"
"      --qos0-buffer B    QoS 0: bytes a publisher may have unsent (65536)\n"
"      --max-lag N        publishers pause while a subscriber is N messages\n"
"                         behind; 0: never (1000)\n"
"      --rate N           throughput, fanout: N messages a second from all\n"
"                         publishers together, dealt out every 1 ms\n"
"                         within the window (unpaced)\n"
"      --persistent       throughput, fanout: subscribers keep sessions\n"
"                         (clean session 0): QoS 1 and 2 messages take\n"
"                         the broker's durable path\n"
"  -c, --conns N          connect: connections (1000)\n"
"      --parallel N       connect: connection attempts at once (100)\n"
"      --hold SEC         connect: hold before reading RSS (1)\n"
"  -b, --broker-pid PID   read the broker's CPU time and RSS from /proc\n"
"      --restart-cmd CMD  recovery: sh -c CMD restarts the broker; a\n"
"                         number on its first output line is the new pid\n"
"      --restart-timeout S  recovery: give up if not back after S s (600)\n"
"      --stall SEC        a phase with no progress for SEC ends (5)\n"
"      --label STR        added to the key=value line as label=STR\n",
	    BENCH_HEADER_LEN);
	exit(2);
}

static double
num_arg(const char *name, const char *s, double min, double max)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "mqttd-bench: bad value for --%s: %s\n", name,
		    s);
		exit(2);
	}
	return v;
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "qos", required_argument, NULL, 'q' },
		{ "pubs", required_argument, NULL, 'P' },
		{ "subs", required_argument, NULL, 'S' },
		{ "payload", required_argument, NULL, 's' },
		{ "window", required_argument, NULL, 'w' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "topics", required_argument, NULL, 't' },
		{ "prefix", required_argument, NULL, 1 },
		{ "qos0-buffer", required_argument, NULL, 2 },
		{ "conns", required_argument, NULL, 'c' },
		{ "parallel", required_argument, NULL, 3 },
		{ "hold", required_argument, NULL, 4 },
		{ "broker-pid", required_argument, NULL, 'b' },
		{ "restart-cmd", required_argument, NULL, 5 },
		{ "stall", required_argument, NULL, 6 },
		{ "label", required_argument, NULL, 7 },
		{ "max-lag", required_argument, NULL, 8 },
		{ "restart-timeout", required_argument, NULL, 9 },
		{ "persistent", no_argument, NULL, 10 },
		{ "rate", required_argument, NULL, 11 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static char	 prefix[64];
	int		 ch, qos = -1, subs = -1;
	bool		 count_set = false;

	if (argc < 2 || argv[1][0] == '-')
		usage();
	o->scenario = argv[1];
	o->host = "127.0.0.1";
	o->port = 1883;
	o->pubs = 1;
	o->payload = 64;
	o->window = 20;
	o->duration = 5;
	o->layout = LAYOUT_EACH;
	o->qos0_buffer = 65536;
	o->conns = 1000;
	o->parallel = 100;
	o->hold = 1;
	o->stall = 5;
	o->max_lag = 1000;
	o->restart_timeout = 600;
	snprintf(prefix, sizeof(prefix), "bench/%ld", (long)getpid());
	o->prefix = prefix;

	optind = 2;
	while ((ch = getopt_long(argc, argv, "H:p:q:P:S:s:w:d:n:t:c:b:h",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			o->host = optarg;
			break;
		case 'p':
			o->port = (int)num_arg("port", optarg, 1, 65535);
			break;
		case 'q':
			qos = (int)num_arg("qos", optarg, 0, 2);
			break;
		case 'P':
			o->pubs = (unsigned)num_arg("pubs", optarg, 1, 10000);
			break;
		case 'S':
			subs = (int)num_arg("subs", optarg, 0, 100000);
			break;
		case 's':
			o->payload = (size_t)num_arg("payload", optarg,
			    BENCH_HEADER_LEN, 1 << 24);
			break;
		case 'w':
			o->window = (unsigned)num_arg("window", optarg,
			    1, 65000);
			break;
		case 'd':
			o->duration = num_arg("duration", optarg, 0.01, 86400);
			break;
		case 'n':
			o->count = (uint64_t)num_arg("count", optarg, 1, 1e10);
			count_set = true;
			break;
		case 't':
			if (strcmp(optarg, "each") == 0)
				o->layout = LAYOUT_EACH;
			else if (strcmp(optarg, "wildcard") == 0)
				o->layout = LAYOUT_WILDCARD;
			else if (strcmp(optarg, "single") == 0)
				o->layout = LAYOUT_SINGLE;
			else
				usage();
			break;
		case 1:
			o->prefix = optarg;
			break;
		case 2:
			o->qos0_buffer = (size_t)num_arg("qos0-buffer", optarg,
			    1024, 1 << 30);
			break;
		case 'c':
			o->conns = (unsigned)num_arg("conns", optarg, 1, 1e6);
			break;
		case 3:
			o->parallel = (unsigned)num_arg("parallel", optarg,
			    1, 1e6);
			break;
		case 4:
			o->hold = num_arg("hold", optarg, 0, 3600);
			break;
		case 'b':
			o->broker_pid = (int)num_arg("broker-pid", optarg,
			    1, 1e9);
			break;
		case 5:
			o->restart_cmd = optarg;
			break;
		case 6:
			o->stall = num_arg("stall", optarg, 0.1, 86400);
			break;
		case 7:
			o->label = optarg;
			break;
		case 9:
			o->restart_timeout = num_arg("restart-timeout", optarg,
			    1, 86400);
			break;
		case 8:
			o->max_lag = (uint64_t)num_arg("max-lag", optarg,
			    0, 1e9);
			break;
		case 10:
			o->persistent = true;
			break;
		case 11:
			o->rate = num_arg("rate", optarg, 1, 1e9);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if ((o->persistent || o->rate > 0) &&
	    strcmp(o->scenario, "throughput") != 0 &&
	    strcmp(o->scenario, "fanout") != 0) {
		fprintf(stderr, "mqttd-bench: --persistent and --rate are for "
		    "throughput and fanout\n");
		exit(2);
	}

	if (strcmp(o->scenario, "durable") == 0 ||
	    strcmp(o->scenario, "recovery") == 0) {
		o->qos = qos >= 0 ? qos : 1;
		if (o->qos == 0) {
			fprintf(stderr, "mqttd-bench: %s needs QoS 1 or 2\n",
			    o->scenario);
			exit(2);
		}
		if (!count_set)
			o->count = strcmp(o->scenario, "durable") == 0 ?
			    10000 : 100000;
	} else
		o->qos = qos >= 0 ? qos : 0;
	if (strcmp(o->scenario, "fanout") == 0)
		o->subs = subs >= 0 ? (unsigned)subs : 100;
	else
		o->subs = subs >= 0 ? (unsigned)subs : 1;
}

/* Enough descriptors for every client; the hard limit is the ceiling. */
static void
raise_nofile(unsigned want)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur >= want + 64)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want + 64)
		fprintf(stderr, "mqttd-bench: the hard limit of open files "
		    "(%llu) is below %u\n", (unsigned long long)rl.rlim_max,
		    want + 64);
	setrlimit(RLIMIT_NOFILE, &rl);
}

static int
resolve(struct run *r)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&r->b.addr;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&r->b.addr;

	memset(&r->b.addr, 0, sizeof(r->b.addr));
	if (inet_pton(AF_INET, r->o->host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)r->o->port);
		r->b.addrlen = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, r->o->host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)r->o->port);
		r->b.addrlen = sizeof(*sin6);
		return 0;
	}
	fprintf(stderr, "mqttd-bench: %s: not an IP address\n", r->o->host);
	return -1;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char	*name;
		int		(*run)(struct run *);
	} scenarios[] = {
		{ "throughput", scenario_throughput },
		{ "fanout", scenario_throughput },
		{ "connect", scenario_connect },
		{ "durable", scenario_durable },
		{ "recovery", scenario_recovery },
	};
	struct options	 o;
	struct run	 r;
	size_t		 i;
	int		 rc;

	memset(&o, 0, sizeof(o));
	parse_options(argc, argv, &o);
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(scenarios[i].name, o.scenario) == 0)
			break;
	if (i == sizeof(scenarios) / sizeof(scenarios[0]))
		usage();

	signal(SIGPIPE, SIG_IGN);
	raise_nofile(o.conns + o.pubs + o.subs + 16);
	memset(&r, 0, sizeof(r));
	r.o = &o;
	if (resolve(&r) == -1)
		return 2;
	r.b.base = event_base_new();
	if (r.b.base == NULL) {
		fprintf(stderr, "mqttd-bench: event_base_new failed\n");
		return 2;
	}
	r.b.phase = &r;
	r.b.qos = (uint8_t)o.qos;
	r.b.payload_len = o.payload;
	r.b.window = o.window;
	r.b.max_lag = o.max_lag;
	r.b.rate = o.rate;
	r.b.qos0_buffer = o.qos0_buffer;
	r.b.npubs = o.pubs;
	r.b.nsubs = o.subs;
	r.b.prefix = o.prefix;
	r.b.layout = o.layout;

	rc = scenarios[i].run(&r);

	free_clients(r.pubs, o.pubs);
	free_clients(r.subs, o.subs);
	free_clients(r.idle, r.idle != NULL ? o.conns : 0);
	event_base_free(r.b.base);
	return rc;
}
