/*
 * bench.h: the shared declarations of mqttd-bench, the load generator
 * that measures an MQTT broker over loopback.
 *
 * One event_base drives every client connection of a run. A client is a
 * small state machine (struct client) speaking MQTT 3.1.1 through the
 * project's codec (src/packet.h); bench.c drives the scenarios as
 * sequences of phases, stats.c holds what is measured. Nothing here
 * allocates per message: payloads are encoded straight into the output
 * evbuffer, sequence maps grow by doubling.
 */
#ifndef MQTTD_BENCH_H
#define MQTTD_BENCH_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct bufferevent;
struct event;
struct inflight;

/*
 * What the bench puts at the start of every payload it publishes, so that
 * a subscriber can tell loss, duplication and latency on its own.
 */
#define BENCH_MAGIC		0x6d716231u	/* "mqb1" */
#define BENCH_HEADER_LEN	24		/* magic, publisher, seq, time */

/* ===== stats.c ===== */

/*
 * Latency histogram in microseconds: exact below 1024 us, then 512
 * sub-buckets per power of two (relative error under 0.2%). Fixed size.
 */
#define HIST_SUB		512
#define HIST_BUCKETS		(1024 + 40 * HIST_SUB)

struct hist {
	uint64_t	 count;
	uint64_t	 max;
	uint64_t	 buckets[HIST_BUCKETS];
};

/* The sequence numbers one subscriber saw from one publisher. */
struct seqmap {
	uint8_t		*bits;		/* owned; grows by doubling */
	size_t		 nbytes;
	uint64_t	 distinct;
	uint64_t	 dup;
};

void		 hist_add(struct hist *, uint64_t us);
uint64_t	 hist_quantile(const struct hist *, double q);
void		 hist_merge(struct hist *dst, const struct hist *src);

/* Records seq; returns false (and counts it) when it was seen before. */
bool		 seqmap_mark(struct seqmap *, uint64_t seq);
void		 seqmap_free(struct seqmap *);

/* Nanoseconds of CLOCK_MONOTONIC. */
uint64_t	 now_ns(void);

/* Broker CPU time (utime + stime) in seconds, -1 if unreadable. */
double		 proc_cpu_seconds(int pid);
/* Whether pid runs (exists and is not a zombie). */
bool		 proc_alive(int pid);
/* Broker resident set (VmRSS) in KiB, -1 if unreadable. */
long		 proc_rss_kib(int pid);
/* CPU seconds this process has used. */
double		 self_cpu_seconds(void);

/* ===== client.c ===== */

enum client_role {
	ROLE_PUB,
	ROLE_SUB,
	ROLE_IDLE,		/* connect scenario, recovery probe */
};

enum client_state {
	CS_IDLE,		/* no socket */
	CS_CONNECTING,		/* CONNECT written, waiting for CONNACK */
	CS_SUBSCRIBING,		/* SUBSCRIBE written, waiting for SUBACK */
	CS_READY,
	CS_CLOSING,		/* DISCONNECT written, flushing */
	CS_FAILED,		/* refused, reset, or a protocol error */
};

struct bench;

struct client {
	struct bench		*b;
	struct bufferevent	*bev;
	enum client_role	 role;
	enum client_state	 state;
	unsigned		 index;		/* among its role */
	char			 id[48];
	bool			 clean;
	bool			 session_present;
	bool			 retry_refused;	/* probe: retry until it connects */
	bool			 subscribe;	/* send SUBSCRIBE after CONNACK */
	bool			 pub_done;	/* counted in b->n_pubs_done */
	struct event		*retry_ev;	/* owned; for retry_refused */
	uint64_t		 connect_ns;	/* when CONNECT was started */

	/* Publisher. */
	char			 topic[64];
	size_t			 topic_len;
	uint8_t			*payload;	/* owned; b->payload_len bytes */
	uint64_t		 next_seq;
	uint64_t		 limit;		/* messages to send; 0 = no limit */
	uint64_t		 sent;
	uint64_t		 completed;	/* PUBACK or PUBCOMP (QoS 0: sent);
						 * sent - completed are in flight */
	uint16_t		 next_pid;
	struct inflight		*slots;		/* owned; QoS 1/2, see client.c */
	uint32_t		 slot_mask;

	/* Subscriber. */
	uint64_t		 received;	/* every PUBLISH counted once */
	uint64_t		 received0;	/* received when publishing began */
	uint64_t		 foreign;	/* payloads that were not ours */
	struct seqmap		*seen;		/* owned; one per publisher */
	uint8_t			*qos2_held;	/* owned; PUBREC sent, no PUBREL yet */
	struct hist		*lat;		/* owned */
};

struct client	*client_new(struct bench *, enum client_role, unsigned index,
		    const char *id, bool clean);
void		 client_free(struct client *);
/* Opens the socket and writes CONNECT; 0 or -1. */
int		 client_connect(struct client *);
/* Writes DISCONNECT; the socket is closed once it has been flushed. */
void		 client_disconnect(struct client *);
/* Closes the socket at once (no DISCONNECT). */
void		 client_close(struct client *);
/* Publishes as far as the window and the output buffer allow. */
void		 client_pub_fill(struct client *);
/* Counts a publisher as done once it may send no more and has nothing
 * in flight. */
void		 client_pub_check_done(struct client *);

/* ===== bench.c ===== */

/* Which topics publishers use and subscribers ask for. */
enum layout {
	LAYOUT_EACH,		/* pub i -> PREFIX/i; subs subscribe to each */
	LAYOUT_WILDCARD,	/* pub i -> PREFIX/i; subs subscribe to PREFIX/+ */
	LAYOUT_SINGLE,		/* every pub -> PREFIX/all; subs to that */
};

/* The settings of a run and its counters, shared with client.c. */
struct bench {
	struct event_base	*base;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;

	/* Options. */
	uint8_t			 qos;
	size_t			 payload_len;
	unsigned		 window;
	uint64_t		 max_lag;	/* see client_pub_fill(); 0: none */
	double			 rate;		/* msg/s in all; 0: unpaced */
	size_t			 qos0_buffer;
	unsigned		 npubs;
	unsigned		 nsubs;
	const char		*prefix;	/* topic prefix */
	enum layout		 layout;

	/* Run state. */
	struct client		**pubs;		/* npubs of them */
	struct client		**subs;		/* nsubs of them */
	bool			 publishing;
	struct client		*lag_sub;	/* publishers wait for this one */
	uint64_t		 delivered0;	/* delivered when publishing began */
	bool			 record_latency;
	uint64_t		 t_start;	/* ns, start of measurement */
	uint64_t		 t_last_delivery;
	struct hist		*connect_hist;	/* CONNACK latency, if set */
	struct hist		*ack_hist;	/* PUBACK/PUBCOMP latency, if set */
	uint64_t		 rate_due;	/* messages the pacing allows so far */

	/* Counters the clients update. */
	unsigned		 n_connected;	/* CONNACK accepted */
	unsigned		 n_subscribed;	/* SUBACK seen */
	unsigned		 n_closed;	/* sockets gone */
	unsigned		 n_failed;
	unsigned		 n_pubs_done;	/* publishers at limit, nothing in flight */
	uint64_t		 sent;		/* PUBLISHes written */
	uint64_t		 completed;	/* PUBACKs and PUBCOMPs */
	uint64_t		 delivered;	/* PUBLISHes subscribers counted */
	uint64_t		 foreign;
	uint64_t		 protocol_errors;
	unsigned		 n_refused;	/* CONNACK with a non-zero code */

	/*
	 * Phase control: clients call bench_poke() after each batch of
	 * events; it runs step, which may start more work and returns true
	 * when the phase is over.
	 */
	bool			(*step)(struct bench *);
	void			*phase;		/* the phase's own state */
};

void		 bench_poke(struct bench *);

#endif /* MQTTD_BENCH_H */
