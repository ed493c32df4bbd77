/*
 * test_crash_random.c: publishers and persistent subscribers at QoS 1 and
 * 2 keep a flow of messages going while mqttd is killed with SIGKILL at
 * random moments, over and over, and started again on its database.
 *
 * The clients are small state machines over the harness's raw sockets,
 * all polled from one loop. Each is a persistent session (clean session
 * 0) that behaves as MQTT 3.1.1 asks of a client: after every restart it
 * reconnects, expects session present 1, and resends what the broker had
 * not acknowledged, PUBLISH with DUP 1 and PUBREL, with the original
 * packet ids [MQTT-4.4.0-1]. A subscriber receives QoS 2 by the spec's
 * method B: the message counts when its PUBLISH first arrives, and the id
 * is held until PUBREL, so a resent PUBLISH with that id is answered but
 * not counted again [MQTT-4.3.3-2].
 *
 * What is checked: every message a publisher saw acknowledged (PUBACK,
 * PUBREC) reached every subscriber, at least once at QoS 1 and exactly
 * once at QoS 2 (DESIGN.md, durability contract points 1, 2, 3 and 8);
 * no QoS 2 message ever arrives twice; every reconnect finds its session.
 * At the end a last crash with everything settled must bring nothing back
 * but QoS 1 duplicates, and after a clean stop the database holds no
 * delivery, message or incoming QoS 2 row.
 *
 * The seed is printed at the start; MQTTD_TEST_SEED=<n> replays a run
 * (the same choices; the kill moments fall on other packets, as timing
 * varies), MQTTD_TEST_KILLS=<n> changes the number of crashes (default
 * 15). [storage] sync = normal, the level whose promise a process crash
 * tests; checkpoint_pages is small so that checkpoints are killed too,
 * and max_batch is chosen by the seed.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#define NPUB		3
#define NSUB		3
#define WINDOW		10		/* a publisher's messages in flight */
#define MAX_MSGS	40000		/* per publisher */
#define DEFAULT_KILLS	15
#define RUN_MIN_MS	30		/* traffic between two crashes */
#define RUN_MAX_MS	400
#define SETTLE_MS	20000		/* after the last crash, to finish */
#define NO_ID		(-1)

enum msg_state {
	M_WAIT_ACK,			/* PUBLISH sent, PUBACK/PUBREC due */
	M_WAIT_COMP,			/* PUBREL sent, PUBCOMP due */
	M_DONE
};

struct msg {
	uint8_t		 qos;
	uint8_t		 state;
	bool		 acked;		/* PUBACK or PUBREC seen */
	uint16_t	 id;
};

struct pubc {
	char		 name[32];
	struct tclient	*c;
	struct msg	 msgs[MAX_MSGS];
	int		 nmsgs;		/* published so far */
	int		 first_open;	/* every message before it is done */
	int		 inflight;
	uint16_t	 next_id;
	int32_t		 by_id[65536];	/* packet id -> message, or NO_ID */
};

struct subc {
	char		 name[32];
	int		 sub_qos;
	struct tclient	*c;
	uint8_t		 count[NPUB][MAX_MSGS];	/* deliveries counted */
	int32_t		 held[65536];	/* QoS 2 id -> message until PUBREL */
	long		 nheld;
	long		 dups_seen;	/* resent PUBLISH answered, not counted */
};

struct run {
	struct harness_broker	 broker;
	struct pubc		 pubs[NPUB];
	struct subc		 subs[NSUB];
	uint64_t		 seed;
	uint64_t		 rng;
	bool			 generating;
	int			 kills;
	long			 reconnects;
};

static struct run	 R;

/* ===== Small things ===== */

/* xorshift64*: small, and the same sequence for the same seed. */
static uint64_t
rnd(void)
{
	R.rng ^= R.rng >> 12;
	R.rng ^= R.rng << 25;
	R.rng ^= R.rng >> 27;
	return R.rng * 2685821657736338717ULL;
}

static int
rnd_between(int lo, int hi)
{
	return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

static int
msg_key(int pub, int seq)
{
	return pub * MAX_MSGS + seq;
}

/* Fails the test with the seed, so that the run can be replayed. */
#define FAIL(...) do {							\
	print_error("[   SEED   ] MQTTD_TEST_SEED=%" PRIu64 "\n", R.seed);	\
	fail_msg(__VA_ARGS__);						\
} while (0)

/* ===== Publishers ===== */

static void
pub_send(struct pubc *p, int seq, bool dup)
{
	struct msg *m = &p->msgs[seq];
	char topic[32], payload[32];

	snprintf(topic, sizeof(topic), "crash/p%d", (int)(p - R.pubs));
	snprintf(payload, sizeof(payload), "p%d-%d", (int)(p - R.pubs), seq);
	/* A broker that just died refuses the bytes; the resend after the
	 * reconnect covers them. */
	(void)tclient_publish(p->c, topic, payload, strlen(payload), m->qos,
	    false, dup, m->id);
}

/* Starts new messages while the window has room. */
static void
pub_top_up(struct pubc *p)
{
	struct msg *m;

	while (R.generating && p->c != NULL && p->inflight < WINDOW &&
	    p->nmsgs < MAX_MSGS) {
		do {
			if (++p->next_id == 0)
				p->next_id = 1;
		} while (p->by_id[p->next_id] != NO_ID);
		m = &p->msgs[p->nmsgs];
		m->qos = (uint8_t)rnd_between(1, 2);
		m->state = M_WAIT_ACK;
		m->id = p->next_id;
		p->by_id[m->id] = p->nmsgs;
		p->inflight++;
		pub_send(p, p->nmsgs++, false);
	}
}

static void
pub_done(struct pubc *p, struct msg *m)
{
	m->state = M_DONE;
	p->by_id[m->id] = NO_ID;
	p->inflight--;
	while (p->first_open < p->nmsgs &&
	    p->msgs[p->first_open].state == M_DONE)
		p->first_open++;
}

static void
pub_packet(struct pubc *p, const struct tpacket *pk)
{
	char desc[256];
	struct msg *m = NULL;
	int id = tpacket_ack_id(pk);

	if (id > 0 && p->by_id[id] != NO_ID)
		m = &p->msgs[p->by_id[id]];
	switch (pk->type) {
	case MQTT_PUBACK:
		/* [MQTT-4.3.2-1] the PUBACK ends a QoS 1 flow */
		if (m != NULL && m->qos == 1 && m->state == M_WAIT_ACK) {
			m->acked = true;
			pub_done(p, m);
			return;
		}
		break;
	case MQTT_PUBREC:
		/* [MQTT-4.3.3-1] PUBREC: the broker owns it; send PUBREL */
		if (m != NULL && m->qos == 2 && m->state != M_DONE) {
			m->acked = true;
			m->state = M_WAIT_COMP;
			(void)tclient_pubrel(p->c, m->id);
			return;
		}
		break;
	case MQTT_PUBCOMP:
		if (m != NULL && m->qos == 2 && m->state == M_WAIT_COMP) {
			pub_done(p, m);
			return;
		}
		break;
	default:
		break;
	}
	tpacket_describe(pk, desc, sizeof(desc));
	FAIL("%s: unexpected %s (id %s in flight)", p->name, desc,
	    m != NULL ? "is" : "is not");
}

/* [MQTT-4.4.0-1] after a reconnect: PUBLISH (DUP 1) and PUBREL again. */
static void
pub_resend(struct pubc *p)
{
	int seq;

	for (seq = p->first_open; seq < p->nmsgs; seq++) {
		if (p->msgs[seq].state == M_WAIT_ACK)
			pub_send(p, seq, true);
		else if (p->msgs[seq].state == M_WAIT_COMP)
			(void)tclient_pubrel(p->c, p->msgs[seq].id);
	}
}

/* ===== Subscribers ===== */

/* Parses "p<pub>-<seq>" on "crash/p<pub>"; -1 if it is not ours. */
static int
sub_identify(const struct tpublish *pb, int *pub, int *seq)
{
	char topic[32], payload[32], expect[32];

	if (pb->topic_len >= sizeof(topic) || pb->payload_len >= sizeof(payload))
		return -1;
	memcpy(topic, pb->topic, pb->topic_len);
	topic[pb->topic_len] = '\0';
	memcpy(payload, pb->payload, pb->payload_len);
	payload[pb->payload_len] = '\0';
	if (sscanf(payload, "p%d-%d", pub, seq) != 2 || *pub < 0 ||
	    *pub >= NPUB || *seq < 0 || *seq >= R.pubs[*pub].nmsgs)
		return -1;
	snprintf(expect, sizeof(expect), "crash/p%d", *pub);
	return strcmp(topic, expect) == 0 ? 0 : -1;
}

static void
sub_count(struct subc *s, int pub, int seq, const struct tpublish *pb)
{
	if (s->count[pub][seq] < 255)
		s->count[pub][seq]++;
	if (pb->qos == 2 && s->count[pub][seq] > 1)
		FAIL("%s: QoS 2 message p%d-%d delivered twice (the second "
		    "time id=%u dup=%d) [MQTT-4.3.3-2]", s->name, pub, seq,
		    pb->id, pb->dup);
}

static void
sub_publish(struct subc *s, const struct tpacket *pk)
{
	struct tpublish pb;
	char desc[256];
	int pub, seq, want_qos, key;

	tpacket_describe(pk, desc, sizeof(desc));
	if (tpacket_publish(pk, &pb) == -1 || sub_identify(&pb, &pub, &seq))
		FAIL("%s: a message nobody published: %s", s->name, desc);
	want_qos = R.pubs[pub].msgs[seq].qos;
	if (want_qos > s->sub_qos)
		want_qos = s->sub_qos;
	/* [MQTT-3.8.4-6] the lower of published and granted QoS */
	if (pb.qos != want_qos || pb.retain)
		FAIL("%s: expected QoS %d retain 0, got %s", s->name,
		    want_qos, desc);
	key = msg_key(pub, seq);
	if (pb.qos == 1) {
		sub_count(s, pub, seq, &pb);
		(void)tclient_puback(s->c, pb.id);
		return;
	}
	if (s->held[pb.id] != NO_ID) {
		/* A PUBLISH again before PUBREL: the same message, resent
		 * with DUP 1 [MQTT-3.3.1-1]; answered, not delivered. */
		if (s->held[pb.id] != key || !pb.dup)
			FAIL("%s: id %u is held for p%d-%d, got %s", s->name,
			    pb.id, s->held[pb.id] / MAX_MSGS,
			    s->held[pb.id] % MAX_MSGS, desc);
		s->dups_seen++;
	} else {
		sub_count(s, pub, seq, &pb);
		s->held[pb.id] = key;
		s->nheld++;
	}
	(void)tclient_pubrec(s->c, pb.id);
}

static void
sub_packet(struct subc *s, const struct tpacket *pk)
{
	char desc[256];
	int id;

	if (pk->type == MQTT_PUBLISH) {
		sub_publish(s, pk);
		return;
	}
	if (pk->type == MQTT_PUBREL && pk->flags == 2 &&
	    (id = tpacket_ack_id(pk)) > 0) {
		/* Known or not (a PUBCOMP lost in a crash), PUBCOMP. */
		if (s->held[id] != NO_ID) {
			s->held[id] = NO_ID;
			s->nheld--;
		}
		(void)tclient_pubcomp(s->c, (uint16_t)id);
		return;
	}
	tpacket_describe(pk, desc, sizeof(desc));
	FAIL("%s: unexpected %s", s->name, desc);
}

/* ===== The loop ===== */

/* All the clients, publishers first, as (tclient **, name, handler). */
static struct tclient **
client_slot(int i, const char **name)
{
	if (i < NPUB) {
		*name = R.pubs[i].name;
		return &R.pubs[i].c;
	}
	*name = R.subs[i - NPUB].name;
	return &R.subs[i - NPUB].c;
}

static void
client_packet(int i, const struct tpacket *pk)
{
	if (i < NPUB)
		pub_packet(&R.pubs[i], pk);
	else
		sub_packet(&R.subs[i - NPUB], pk);
}

/*
 * Handles what client i has received. With wait_ms 0 it returns when
 * nothing more is there; otherwise (after a crash) it reads until the
 * connection is closed. Returns false if the connection closed.
 */
static bool
client_input(int i, int wait_ms)
{
	const char *name;
	struct tclient **cp = client_slot(i, &name);
	struct tpacket pk;
	enum tread r;

	if (*cp == NULL)
		return false;
	for (;;) {
		r = tclient_read_packet(*cp, &pk, wait_ms);
		if (r == TREAD_TIMEOUT && wait_ms == 0)
			return true;
		if (r != TREAD_OK)
			return false;
		client_packet(i, &pk);
		tpacket_free(&pk);
	}
}

/* Runs the clients for ms milliseconds (or until done() is true). */
static void
run_for(int ms, bool (*done)(void))
{
	long long deadline = harness_now_ms() + ms;
	struct pollfd pfd[NPUB + NSUB];
	const char *name;
	struct tclient **cp;
	int i, n, left;

	while ((left = (int)(deadline - harness_now_ms())) > 0) {
		if (done != NULL && done())
			return;
		for (i = 0; i < NPUB; i++)
			pub_top_up(&R.pubs[i]);
		for (i = n = 0; i < NPUB + NSUB; i++) {
			cp = client_slot(i, &name);
			pfd[n].fd = (*cp)->fd;
			pfd[n].events = POLLIN;
			n++;
		}
		if (poll(pfd, (nfds_t)n, left < 20 ? left : 20) == -1 &&
		    errno != EINTR)
			FAIL("poll: %s", strerror(errno));
		for (i = 0; i < NPUB + NSUB; i++)
			if (!client_input(i, 0)) {
				client_slot(i, &name);
				FAIL("%s: mqttd closed the connection while "
				    "running (see its log)", name);
			}
	}
}

static void
connect_all(bool first)
{
	int order[NPUB + NSUB], i, j, t, sp;
	const char *name;
	struct tclient **cp;

	for (i = 0; i < NPUB + NSUB; i++)
		order[i] = i;
	for (i = NPUB + NSUB - 1; i > 0; i--) {
		j = rnd_between(0, i);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < NPUB + NSUB; i++) {
		cp = client_slot(order[i], &name);
		*cp = tclient_new(&R.broker, name, false, &sp);
		/* [MQTT-3.2.2-2] DESIGN contracts 1 and 8 */
		if (sp != (first ? 0 : 1))
			FAIL("%s: session present %d after %s", name, sp,
			    first ? "a first connect" : "a restart");
		if (!first)
			R.reconnects++;
		if (order[i] < NPUB && !first)
			pub_resend(&R.pubs[order[i]]);
	}
}

/* SIGKILL; what the dead broker had sent is still read; restart. */
static void
crash(void)
{
	const char *name;
	struct tclient **cp;
	int i, st;

	st = harness_broker_kill(&R.broker, SIGKILL);
	if (st == -1 || !WIFSIGNALED(st))
		FAIL("mqttd did not die of SIGKILL (status 0x%x)", st);
	for (i = 0; i < NPUB + NSUB; i++) {
		(void)client_input(i, 2000);
		cp = client_slot(i, &name);
		tclient_close(*cp);
		*cp = NULL;
	}
	if (harness_broker_restart(&R.broker) != 0)
		FAIL("mqttd did not start again after crash %d", R.kills);
	R.kills++;
	connect_all(false);
}

static bool
all_settled(void)
{
	static long long next_scan;
	int p, s, seq;

	for (p = 0; p < NPUB; p++)
		if (R.pubs[p].inflight > 0)
			return false;
	for (s = 0; s < NSUB; s++)
		if (R.subs[s].nheld > 0)
			return false;
	/* The full scan is long: not at every turn of the loop. */
	if (harness_now_ms() < next_scan)
		return false;
	next_scan = harness_now_ms() + 50;
	for (s = 0; s < NSUB; s++) {
		for (p = 0; p < NPUB; p++)
			for (seq = 0; seq < R.pubs[p].nmsgs; seq++)
				if (R.pubs[p].msgs[seq].acked &&
				    R.subs[s].count[p][seq] == 0)
					return false;
	}
	return true;
}

/* all_settled() without waiting for its next full scan. */
static bool
settled_now(void)
{
	long long deadline = harness_now_ms() + 100;

	while (harness_now_ms() < deadline)
		if (all_settled())
			return true;
	return false;
}

/* The final word: every acknowledged message, at every subscriber. */
static void
check_deliveries(void)
{
	long missing = 0, twice = 0, acked = 0, unacked = 0;
	int p, s, seq, c, q;

	for (p = 0; p < NPUB; p++)
		for (seq = 0; seq < R.pubs[p].nmsgs; seq++) {
			if (R.pubs[p].msgs[seq].acked)
				acked++;
			else
				unacked++;
			for (s = 0; s < NSUB; s++) {
				c = R.subs[s].count[p][seq];
				q = R.pubs[p].msgs[seq].qos;
				if (q > R.subs[s].sub_qos)
					q = R.subs[s].sub_qos;
				if (R.pubs[p].msgs[seq].acked && c == 0 &&
				    missing++ < 10)
					print_error("%s: acknowledged p%d-%d "
					    "(published at QoS %d, id %u, "
					    "expected at QoS %d) never "
					    "arrived\n", R.subs[s].name, p,
					    seq, R.pubs[p].msgs[seq].qos,
					    R.pubs[p].msgs[seq].id, q);
				if (q == 2 && c > 1 && twice++ < 10)
					print_error("%s: p%d-%d (QoS 2) "
					    "arrived %d times\n",
					    R.subs[s].name, p, seq, c);
			}
		}
	print_message("[   INFO   ] %d crashes, %ld reconnects, %ld messages "
	    "acknowledged (%ld not), %ld missing deliveries, %ld QoS 2 "
	    "duplicates\n", R.kills, R.reconnects, acked, unacked, missing,
	    twice);
	if (missing > 0 || twice > 0 || unacked > 0)
		FAIL("%ld acknowledged deliveries missing, %ld QoS 2 "
		    "delivered more than once, %ld never acknowledged",
		    missing, twice, unacked);
}

static void
test_crash_random_kill9_loses_nothing_acknowledged(void **state)
{
	/*
	 * The largest transaction, from the seed: small ones put batch
	 * boundaries inside the changes of one packet, the default leaves
	 * them to the writer's timing.
	 */
	static const int batch_sizes[] = { 2, 16, 10000 };
	struct harness_opts o = { 0 };
	const char *env;
	char ini[256];
	long long t0 = harness_now_ms();
	int i, s, kills = DEFAULT_KILLS, max_batch;

	(void)state;
	if ((env = getenv("MQTTD_TEST_SEED")) != NULL && *env != '\0')
		R.seed = strtoull(env, NULL, 0);
	else
		R.seed = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	if ((env = getenv("MQTTD_TEST_KILLS")) != NULL && *env != '\0')
		kills = atoi(env);
	R.rng = R.seed ? R.seed : 1;
	max_batch = batch_sizes[rnd() % (sizeof(batch_sizes) /
	    sizeof(batch_sizes[0]))];
	print_message("[   SEED   ] MQTTD_TEST_SEED=%" PRIu64 " (%d kills, "
	    "max_batch %d)\n", R.seed, kills, max_batch);

	snprintf(ini, sizeof(ini), "[session]\nmax_queued_messages = 1000000\n"
	    "max_inflight = 20\n\n[storage]\ncheckpoint_pages = 32\n"
	    "max_batch = %d\n", max_batch);
	o.sync = "normal";
	o.extra_ini = ini;
	if (harness_broker_start_opts(&R.broker, &o) != 0)
		FAIL("mqttd did not start");
	for (i = 0; i < NPUB; i++) {
		snprintf(R.pubs[i].name, sizeof(R.pubs[i].name), "crash-pub%d",
		    i);
		memset(R.pubs[i].by_id, 0xff, sizeof(R.pubs[i].by_id));
	}
	for (s = 0; s < NSUB; s++) {
		snprintf(R.subs[s].name, sizeof(R.subs[s].name), "crash-sub%d",
		    s);
		/* Two receive QoS 2 as sent, one has everything at QoS 1. */
		R.subs[s].sub_qos = s == NSUB - 1 ? 1 : 2;
		memset(R.subs[s].held, 0xff, sizeof(R.subs[s].held));
	}
	connect_all(true);
	for (s = 0; s < NSUB; s++)
		tclient_sub(R.subs[s].c, "crash/#", R.subs[s].sub_qos,
		    R.subs[s].sub_qos);

	R.generating = true;
	while (R.kills < kills) {
		/* Now and then a crash right after the reconnects, while
		 * the resends are under way. */
		run_for(rnd() % 5 == 0 ? rnd_between(0, 10) :
		    rnd_between(RUN_MIN_MS, RUN_MAX_MS), NULL);
		crash();
	}
	R.generating = false;
	run_for(SETTLE_MS, all_settled);
	if (!settled_now())
		print_error("not settled %d ms after the last crash\n",
		    SETTLE_MS);
	check_deliveries();

	/* A last crash with everything settled brings back no QoS 2
	 * message (the counts would catch it) and needs nothing resent. */
	crash();
	run_for(HARNESS_QUIET_MS, NULL);
	if (!settled_now())
		FAIL("the crash after everything settled left flows open");
	check_deliveries();

	/* Every flow is complete: after a clean stop (which commits what
	 * is queued) no delivery, body or incoming id is left behind. */
	for (i = 0; i < NPUB + NSUB; i++) {
		const char *name;
		struct tclient **cp = client_slot(i, &name);

		tclient_bye(*cp);
		*cp = NULL;
	}
	if (harness_broker_stop(&R.broker) != 0)
		FAIL("mqttd did not stop cleanly");
	assert_int_equal(harness_db_query(R.broker.db_path,
	    "SELECT count(*) FROM deliveries"), 0);
	assert_int_equal(harness_db_query(R.broker.db_path,
	    "SELECT count(*) FROM messages"), 0);
	assert_int_equal(harness_db_query(R.broker.db_path,
	    "SELECT count(*) FROM incoming"), 0);
	assert_int_equal(harness_db_query(R.broker.db_path,
	    "SELECT count(*) FROM subscriptions"), NSUB);
	print_message("[   INFO   ] %.1f s, QoS 2 resends answered without "
	    "delivery: %ld %ld %ld\n", (double)(harness_now_ms() - t0) / 1000.0,
	    R.subs[0].dups_seen, R.subs[1].dups_seen, R.subs[2].dups_seen);
}

/* Whatever the test left running (after a failure) goes. */
static int
teardown(void **state)
{
	(void)state;
	if (R.broker.dir[0] != '\0')
		harness_broker_cleanup(&R.broker);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
		    test_crash_random_kill9_loses_nothing_acknowledged,
		    teardown),
	};

	if (harness_mosquitto()) {
		printf("SKIP: the crash tests are mqttd's own (mosquitto "
		    "persists on a timer)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
