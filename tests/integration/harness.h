/*
 * harness.h: what the integration tests share. Owns two things:
 *
 *   - a broker under test (struct harness_broker): a real mqttd (or, with
 *     MQTTD_TEST_BROKER=mosquitto, Debian's mosquitto) started in its own
 *     temporary directory on a free loopback port, its stderr drained into
 *     a log file that tests can search;
 *   - raw test clients (struct tclient): blocking TCP sockets with a tiny
 *     MQTT 3.1.1 encoder and decoder of their own, so that tests assert on
 *     the bytes the broker sends and never share code with src/packet.c.
 *
 * The expect functions are cmocka assertions: they fail the current test
 * with a message saying what arrived instead.
 */
#ifndef MQTTD_TEST_HARNESS_H
#define MQTTD_TEST_HARNESS_H

#include <sys/types.h>

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* MQTT control packet types (the high nibble of byte 1). */
#define MQTT_CONNECT		1
#define MQTT_CONNACK		2
#define MQTT_PUBLISH		3
#define MQTT_PUBACK		4
#define MQTT_PUBREC		5
#define MQTT_PUBREL		6
#define MQTT_PUBCOMP		7
#define MQTT_SUBSCRIBE		8
#define MQTT_SUBACK		9
#define MQTT_UNSUBSCRIBE	10
#define MQTT_UNSUBACK		11
#define MQTT_PINGREQ		12
#define MQTT_PINGRESP		13
#define MQTT_DISCONNECT		14

#define HARNESS_TIMEOUT_MS	5000	/* default wait for one expected packet */
#define HARNESS_QUIET_MS	300	/* default wait when asserting absence */

/* ===== The broker under test ===== */

struct harness_broker {
	char		 dir[PATH_MAX];		/* temporary directory, removed at cleanup */
	char		 conf_path[PATH_MAX];
	char		 db_path[PATH_MAX];	/* mqttd's [storage] path */
	char		 log_path[PATH_MAX];	/* everything the broker wrote to stderr */
	char		*extra_ini;		/* kept for the mosquitto translation */
	bool		 mosquitto;		/* MQTTD_TEST_BROKER=mosquitto */
	int		 port;
	long		 broker_nofile;		/* > 0: its soft RLIMIT_NOFILE */
	pid_t		 pid;			/* -1 when not running */
	int		 status;		/* wait status of the last exit */

	/* The drain thread: stderr pipe -> log file and memory. */
	int		 err_fd;
	int		 log_fd;
	pthread_t	 drainer;
	bool		 draining;
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	char		*log;			/* what has been read so far, NUL-terminated */
	size_t		 log_len;
	size_t		 log_cap;
	size_t		 log_mark;		/* where the current run's output starts */
	bool		 eof;			/* the current run closed its stderr */
};

/* True when the tests run against mosquitto rather than mqttd. */
bool		 harness_mosquitto(void);

/*
 * Skips the calling test (cmocka skip()) in mosquitto mode, for behaviour
 * that only mqttd is asked to have; why says which, for the output.
 */
void		 harness_mqttd_only(const char *why);

/*
 * Creates a temporary directory, writes the configuration (the defaults
 * of the harness, then extra_ini, which is appended as whole ini sections
 * and may be NULL) and starts the broker. Returns 0 once the broker
 * listens, -1 (after printing why) otherwise. b is owned by the caller
 * and must be released with harness_broker_cleanup().
 */
int		 harness_broker_start(struct harness_broker *b,
		    const char *extra_ini);

/* What harness_broker_start_opts() may change; zero means the defaults. */
struct harness_opts {
	const char	*extra_ini;	/* as for harness_broker_start() */
	const char	*sync;		/* [storage] sync; NULL: "off" */
	/*
	 * NULL: the database is <dir>/mqttd.db. Otherwise the directory
	 * <dir>/<db_subdir> is created and the database is
	 * <dir>/<db_subdir>/mqttd.db (a test may mount a file system there).
	 */
	const char	*db_subdir;
	/*
	 * Only create the directory and write the configuration; the first
	 * harness_broker_restart() starts the broker (on a port it picks).
	 */
	bool		 no_launch;
	/*
	 * > 0: RLIMIT_NOFILE is raised to nofile first, for this process
	 * and the broker, which inherits it; the start fails if the limit
	 * stays below min_nofile (0: below nofile).
	 */
	long		 nofile;
	long		 min_nofile;
	/*
	 * > 0: the broker's soft RLIMIT_NOFILE, set in the child before
	 * exec and kept for restarts; this process keeps its own.
	 */
	long		 broker_nofile;
};

/* harness_broker_start() with options; o may be NULL. */
int		 harness_broker_start_opts(struct harness_broker *b,
		    const struct harness_opts *o);

/*
 * Sends sig, then waits up to 10 s for the broker to exit. Returns the
 * wait status, or -1 if it did not exit (it is then SIGKILLed).
 */
int		 harness_broker_kill(struct harness_broker *b, int sig);

/* SIGTERM; returns 0 if the broker exited with status 0 within 10 s. */
int		 harness_broker_stop(struct harness_broker *b);

/* Starts the broker again on the same port, configuration and database. */
int		 harness_broker_restart(struct harness_broker *b);

/*
 * Runs mqttd once more with conf_path (another configuration, or b's),
 * for a start-up that is expected to fail: what it writes to stdout and
 * stderr goes to out (NUL-terminated, cut to outlen). Waits up to
 * timeout_ms for it to exit and returns its wait status; returns -1 if it
 * got ready instead or did not exit in time (it is then killed).
 */
int		 harness_run_mqttd_once(const char *conf_path, char *out,
		    size_t outlen, int timeout_ms);

/*
 * Runs argv[0] (searched in PATH) with argv, stdout and stderr to
 * /dev/null unless verbose. Returns the exit status, or -1 if it could
 * not run or was killed.
 */
int		 harness_run_cmd(const char *const argv[], bool verbose);

/* Kills a broker still running and removes the temporary directory. */
void		 harness_broker_cleanup(struct harness_broker *b);

/*
 * harness_broker_stop(), then harness_broker_cleanup(); returns what the
 * stop did (-1 also when the broker was not running).
 */
int		 harness_broker_finish(struct harness_broker *b);

/*
 * Waits up to timeout_ms for the broker's log (this run and earlier ones)
 * to contain needle. Returns true if it does.
 */
bool		 harness_log_contains(struct harness_broker *b,
		    const char *needle, int timeout_ms);

/*
 * Waits up to timeout_ms for the broker's log (this run and earlier ones)
 * to contain needle at least n times. Returns how many times it does.
 */
int		 harness_log_count(struct harness_broker *b,
		    const char *needle, int n, int timeout_ms);

/*
 * cmocka setup and teardown for tests that need a broker of their own:
 * the prestate is the extra ini text (a const char *, or NULL), or for
 * harness_setup_broker_opts() a struct harness_opts *; the test then
 * finds its struct harness_broker * in *state.
 */
int		 harness_setup_broker(void **state);
int		 harness_setup_broker_opts(void **state);
int		 harness_teardown_broker(void **state);

struct CMUnitTest;

/*
 * Runs a file's tests (as cmocka_run_group_tests() does) around one
 * broker that they share: b, which the tests reach directly, is started
 * with o (may be NULL) before the first test and finished after the last.
 */
int		 harness_run_group(const char *name,
		    const struct CMUnitTest *tests, size_t ntests,
		    struct harness_broker *b, const struct harness_opts *o);
#define harness_run_group_tests(tests, b, o) \
	harness_run_group(#tests, (tests), sizeof(tests) / sizeof((tests)[0]), \
	    (b), (o))

/* Raises RLIMIT_NOFILE's soft limit to want (or to the hard limit). */
long		 harness_raise_nofile(long want);

/* CLOCK_MONOTONIC in milliseconds. */
long long	 harness_now_ms(void);

/* ===== Raw clients ===== */

struct tclient {
	int		 fd;
	char		 name[64];		/* for failure messages */
	uint16_t	 next_id;		/* for tclient_next_id() */
	int		 timeout_ms;		/* wait of each expect: HARNESS_TIMEOUT_MS */
	uint8_t		*rbuf;			/* bytes read and not yet returned */
	size_t		 rlen;
	size_t		 rcap;
};

/* One received packet; body is owned by it (tpacket_free()). */
struct tpacket {
	uint8_t		 type;			/* high nibble of byte 1 */
	uint8_t		 flags;			/* low nibble of byte 1 */
	uint8_t		*body;			/* variable header and payload */
	size_t		 len;
};

/* What tclient_read_packet() returns. */
enum tread {
	TREAD_OK = 0,
	TREAD_CLOSED,		/* the peer closed (EOF or ECONNRESET) */
	TREAD_TIMEOUT,
	TREAD_ERROR		/* a malformed packet or a socket error */
};

/* Everything a CONNECT can say. Zero-initialised means MQTT 3.1.1, clean
 * session 0, keep-alive 0, empty client id, no will, no credentials. */
struct tconnect {
	const char	*client_id;		/* NULL is sent as zero-length */
	bool		 clean;
	uint16_t	 keepalive;
	const char	*will_topic;		/* NULL: no will */
	const char	*will_payload;
	int		 will_qos;
	bool		 will_retain;
	const char	*username;		/* NULL: no user name */
	const char	*password;		/* NULL: no password */
	const char	*proto_name;		/* NULL: "MQTT" */
	int		 proto_level;		/* 0: 4 */
	bool		 raw_flags;		/* send flags as given, not computed */
	uint8_t		 flags;
};

/* Opens a TCP connection to the broker; fails the test if it cannot. */
struct tclient	*tclient_open(const struct harness_broker *b, const char *name);
void		 tclient_close(struct tclient *c);

/*
 * Opens, sends CONNECT (keep-alive 0) and expects CONNACK accepted;
 * session_present, if not NULL, receives the flag.
 */
struct tclient	*tclient_new(const struct harness_broker *b, const char *id,
		    bool clean, int *session_present);
/* tclient_new(), failing the test unless session present is as given. */
struct tclient	*tclient_new_sp(const struct harness_broker *b, const char *id,
		    bool clean, int session_present);

uint16_t	 tclient_next_id(struct tclient *c);

/* Senders. Each returns 0, or -1 if the socket refused the bytes. */
int		 tclient_send_raw(struct tclient *c, const void *buf, size_t len);
int		 tclient_send_packet(struct tclient *c, uint8_t byte1,
		    const void *body, size_t len);
int		 tclient_connect(struct tclient *c, const struct tconnect *o);
int		 tclient_publish(struct tclient *c, const char *topic,
		    const void *payload, size_t len, int qos, bool retain,
		    bool dup, uint16_t id);
int		 tclient_publish_str(struct tclient *c, const char *topic,
		    const char *payload, int qos, bool retain, uint16_t id);
int		 tclient_puback(struct tclient *c, uint16_t id);
int		 tclient_pubrec(struct tclient *c, uint16_t id);
int		 tclient_pubrel(struct tclient *c, uint16_t id);
int		 tclient_pubcomp(struct tclient *c, uint16_t id);
int		 tclient_subscribe(struct tclient *c, uint16_t id, size_t n,
		    const char *const *filters, const int *qos);
int		 tclient_unsubscribe(struct tclient *c, uint16_t id, size_t n,
		    const char *const *filters);
int		 tclient_pingreq(struct tclient *c);
int		 tclient_disconnect(struct tclient *c);

/* Reads one whole packet, waiting up to timeout_ms. */
enum tread	 tclient_read_packet(struct tclient *c, struct tpacket *p,
		    int timeout_ms);
void		 tpacket_free(struct tpacket *p);
/* The fields of a received PUBLISH; topic and payload point into its body. */
struct tpublish {
	int		 qos;
	bool		 dup;
	bool		 retain;
	uint16_t	 id;			/* 0 for QoS 0 */
	const uint8_t	*topic;
	size_t		 topic_len;
	const uint8_t	*payload;
	size_t		 payload_len;
};
/* Splits a PUBLISH; -1 if p is not one or is too short. */
int		 tpacket_publish(const struct tpacket *p, struct tpublish *pub);
/* The packet id of a PUBACK, PUBREC, PUBREL or PUBCOMP; -1 if malformed. */
int		 tpacket_ack_id(const struct tpacket *p);
/* "PUBLISH qos=1 dup=0 retain=0 id=3 topic='a' payload='x'", for messages. */
void		 tpacket_describe(const struct tpacket *p, char *buf, size_t len);

/* Expectations: each fails the test unless the next packet is as said. */
void		 tclient_expect_connack(struct tclient *c, int session_present,
		    int code);
void		 tclient_expect_suback(struct tclient *c, uint16_t id, size_t n,
		    const int *granted);
void		 tclient_expect_unsuback(struct tclient *c, uint16_t id);
void		 tclient_expect_ack(struct tclient *c, int type, uint16_t id);
void		 tclient_expect_pingresp(struct tclient *c);
/*
 * Expects a PUBLISH with this topic and payload; qos, retain and dup are
 * checked unless -1. The packet id (0 for QoS 0) goes to *id if not NULL.
 */
void		 tclient_expect_publish(struct tclient *c, const char *topic,
		    const char *payload, int qos, int retain, int dup,
		    uint16_t *id);
/* Expects the broker to close the connection, with no packet before. */
void		 tclient_expect_closed(struct tclient *c);
/* Expects no packet (and no close) within ms. */
void		 tclient_expect_nothing(struct tclient *c, int ms);

/* Compound steps. */
/* SUBSCRIBE one filter and expect SUBACK granting expect_granted. */
void		 tclient_sub(struct tclient *c, const char *filter, int qos,
		    int expect_granted);
void		 tclient_unsub(struct tclient *c, const char *filter);
/* PINGREQ/PINGRESP round trip: the broker has processed what came before. */
void		 tclient_sync(struct tclient *c);
/*
 * Publishes and completes the publisher's side of the flow (PUBACK, or
 * PUBREC/PUBREL/PUBCOMP), so that the broker has taken the message.
 */
void		 tclient_pub(struct tclient *c, const char *topic,
		    const char *payload, int qos, bool retain);
/* Acknowledges a received PUBLISH of this qos completely. */
void		 tclient_ack_received(struct tclient *c, int qos, uint16_t id);
/* Sends DISCONNECT, waits for the broker to close, closes the socket. */
void		 tclient_bye(struct tclient *c);
/*
 * Returns once everything the broker queued for the store so far is
 * committed: connects and disconnects the persistent session id, whose
 * CONNACK waits for a commit of its own row (batches commit in order,
 * DESIGN.md, contract 5).
 */
void		 harness_store_barrier(const struct harness_broker *b,
		    const char *id);

/* ===== Many non-blocking clients (harness_nb.c) ===== */

/*
 * One of the many connections that a test drives from a poll() loop of
 * its own, a state machine per client (test_many_clients.c, test_load.c).
 * Each function that takes i names client i when it fails the test.
 */
struct nbclient {
	int		 fd;			/* -1 when not open */
	uint8_t		 buf[512];		/* received, not yet handled */
	size_t		 len;
};

/* The first whole packet in an nbclient's buffer; body points into it. */
struct nbpacket {
	uint8_t		 byte1;
	const uint8_t	*body;
	size_t		 len;			/* of the body */
	size_t		 size;			/* of the whole packet */
};

/* Starts a TCP connect to b; fails the test if it cannot. */
void		 nbclient_open(struct nbclient *c,
		    const struct harness_broker *b, int i);
/* Once poll() reports c writable: fails the test unless it connected. */
void		 nbclient_check_connected(const struct nbclient *c, int i);
/* Sends all of buf, waiting up to 5 s for room. */
void		 nbclient_send(struct nbclient *c, const uint8_t *buf,
		    size_t len);
/* Sends a packet: byte1, then body (shorter than 128 bytes). */
void		 nbclient_packet(struct nbclient *c, uint8_t byte1,
		    const uint8_t *body, size_t len);
/* recv()s what there is into c's buffer; returns what recv() did. */
ssize_t		 nbclient_recv(struct nbclient *c);
/* The first whole packet received; false if there is none yet. */
bool		 nbclient_peek(const struct nbclient *c, struct nbpacket *p);
/* Drops p, which nbclient_peek() returned, from c's buffer. */
void		 nbclient_drop(struct nbclient *c, const struct nbpacket *p);

/* Appends s with its 2-byte length to b at *off. */
void		 nb_put_str(uint8_t *b, size_t *off, const char *s);
/*
 * A whole CONNECT (MQTT 3.1.1, clean session, keep-alive 0) from
 * client_id into out, which has room for 64 bytes; returns its length.
 */
size_t		 nb_connect_packet(uint8_t *out, const char *client_id);

/* ===== The database, read from outside (harness_db.c; links sqlite3) ===== */

struct harness_db;

/*
 * Opens path read-only (the broker may be running: WAL lets a reader in)
 * or, when rw, read-write (the broker must be stopped). Fails the test if
 * it cannot. Close with harness_db_close().
 */
struct harness_db *harness_db_open(const char *path, bool rw);
void		 harness_db_close(struct harness_db *db);
/* The first column of the first row of sql as an integer; fails the test
 * on an error or when there is no row. */
long long	 harness_db_long(struct harness_db *db, const char *sql);
/* Runs sql (any number of statements); fails the test on an error. */
void		 harness_db_exec(struct harness_db *db, const char *sql);
/* Opens path read-only, returns harness_db_long(sql), closes. */
long long	 harness_db_query(const char *path, const char *sql);

#endif /* MQTTD_TEST_HARNESS_H */
