/*
 * fuzz_broker.c: libFuzzer target for the whole protocol layer (broker*.c,
 * session.c, retain.c, topic.c, packet.c), driven as conn.c drives it but
 * without sockets, over the do-nothing store of store_null.c.
 *
 * Each input runs on a fresh broker. Its first HEADER_LEN bytes choose
 * configuration knobs (see run_configure()); the rest is a list of
 * actions, each one byte "slot | action << 2" and its arguments:
 *
 *	ACT_DELIVER	n, then n bytes: data from the peer of the slot's
 *			connection (a new connection if the slot has none)
 *	ACT_DELIVER_LONG hi, lo, then hi << 8 | lo bytes: the same
 *	ACT_OPEN	a new connection in the slot (the old one is lost)
 *	ACT_DROP	the slot's connection is lost (broker_client_lost)
 *	ACT_TICK	n: the clock moves n seconds, broker_tick()
 *	ACT_WRITABLE	n: output drained, n * 32 bytes still reported
 *			pending from now on; broker_client_writable()
 *
 * Data goes through the codec's framer with the configured maximum, as
 * in conn.c; each whole packet goes to broker_client_packet() in a buffer
 * of exactly its size, a framing error loses the connection.
 *
 * Checked, with abort() on any failure (libFuzzer reports it):
 *
 *  - every byte the broker sends decodes, at the connection's protocol
 *    level, into whole packets of types a server may send;
 *  - the first packet to a connection is CONNACK, there is only one, a
 *    refusal has session present 0 and is followed by close() with
 *    nothing sent in between; connected() comes once, after CONNACK 0,
 *    with the CONNECT's keep-alive;
 *  - each request gets its one answer, of the right type and packet id
 *    (CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK with one code per
 *    filter, none above the requested or the maximum QoS, UNSUBACK,
 *    PINGRESP), and requests that need none get none;
 *    broker_client_packet() returns -1 exactly when it closed the
 *    connection;
 *  - an outgoing PUBLISH carries a topic and payload some client
 *    published (or left as a will), at no higher QoS than it was
 *    published with nor than max_qos; its topic is a valid name within
 *    the limits, not in $SYS; DUP only with QoS 1 or 2;
 *  - its retain flag only on a message published (or left as a will)
 *    retained, with that topic and payload [MQTT-3.3.1-8] [MQTT-3.3.1-9];
 *  - with QoS 1 or 2: a non-zero packet id, not one in flight on that
 *    connection unless it is a resend (DUP), which then carries the
 *    same message at the same QoS; never more than max_inflight of them
 *    unacknowledged (the fuzzer forgets an id when its input acknowledges
 *    it with PUBACK or PUBCOMP: an approximation that errs towards
 *    forgetting, so it cannot report a false reuse);
 *  - CONNACK 0 says session present exactly when a CONNECT with Clean
 *    Session 0 for that client id was accepted before and no Clean
 *    Session 1 one since [MQTT-3.2.2-1] [MQTT-3.2.2-2] (3.1.1 only: 3.1
 *    has no such flag);
 *  - after close(), or after broker_client_lost() returned, the broker
 *    never calls the transport about that connection again, and never
 *    calls close() from inside broker_client_lost() (a send there is
 *    allowed: the will may match the lost client's own subscription);
 *  - broker_client_count() is the number of connections open, the
 *    connected count the number of those past CONNACK 0; broker_free()
 *    closes all of them; AddressSanitizer sees no leak.
 *
 * Logging is off; FUZZ_BROKER_LOG=debug (any level name) turns it on to
 * read what a reproducer does.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "config.h"
#include "log.h"
#include "packet.h"
#include "store.h"
#include "topic.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c)	do { if (!(c)) check_failed(#c, __LINE__); } while (0)

#define HEADER_LEN	4
#define NSLOTS		4
#define MAX_CONNS	64	/* per input: later opens are ignored */
#define NANSWERS	8	/* answers remembered during one call */
#define MAX_INFLIGHT	4	/* the highest max_inflight a header chooses */

enum action {
	ACT_DELIVER = 0,
	ACT_DELIVER_LONG,
	ACT_OPEN,
	ACT_DROP,
	ACT_TICK,
	ACT_WRITABLE,
	ACT_DELIVER2,		/* 6 and 7 deliver too */
	ACT_DELIVER3
};

enum fconn_state {
	FC_OPEN = 0,		/* the broker has a client for it */
	FC_CLOSED,		/* the broker called close() */
	FC_LOST			/* broker_client_lost() returned */
};

/* One answer (not a PUBLISH) sent during the current request. */
struct answer {
	enum packet_type type;
	uint16_t	 id;
	uint8_t		 code;		/* CONNACK */
};

/* An outgoing QoS 1 or 2 PUBLISH not yet acknowledged by the input. */
struct inflight {
	uint16_t	 id;
	uint8_t		 qos;
	uint64_t	 hash;		/* of topic and payload */
};

/* A message some client published or left as a will. */
struct published {
	uint64_t	 hash;		/* of topic and payload; 0: free slot */
	uint8_t		 qos;		/* the highest it was published with */
	bool		 retained;	/* ever published with retain 1 */
};

/* The peer of one connection, as the fuzzer plays it. */
struct fconn {
	struct fconn	*next;		/* every connection of this input */
	struct client	*client;	/* NULL unless FC_OPEN */
	enum fconn_state state;
	bool		 in_lost;	/* inside broker_client_lost() */
	uint8_t		 level;		/* to decode what the broker sends */
	bool		 sent_connect;
	uint16_t	 keep_alive;	/* of our CONNECT */
	bool		 connack;	/* a CONNACK came */
	bool		 refused;	/* ... with a non-zero code */
	bool		 accepted;	/* ... with code 0 */
	bool		 connected_cb;	/* io->connected() came */
	uint8_t		*in;		/* bytes not yet a whole packet */
	size_t		 inlen;
	size_t		 held;		/* sent since the last "writable" */
	size_t		 base;		/* reported pending on top of held */
	struct inflight	 inflight[MAX_INFLIGHT];	/* outgoing, unacknowledged */
	size_t		 ninflight;
	/* During one broker_client_packet() call: */
	const struct packet *request;	/* as the fuzzer decoded it, or NULL */
	struct answer	 answers[NANSWERS];
	size_t		 nanswers;
};

static struct {
	struct config	 cfg;
	struct topic_limits limits;
	struct store	*store;
	struct broker	*broker;
	struct fconn	*slots[NSLOTS];
	struct fconn	*all;
	size_t		 nconns;	/* created */
	size_t		 nopen;
	uint64_t	 now;
	struct published *published;	/* open addressing by hash */
	size_t		 npublished, published_cap;
	char		**persistent;	/* client ids with a persistent session */
	size_t		 npersistent;
} run;

static void
check_failed(const char *what, int line)
{
	fprintf(stderr, "fuzz_broker.c:%d: check failed: %s\n", line, what);
	abort();
}

/* ===== What clients published ===== */

static uint64_t
hash_message(const struct mqtt_bytes *topic, const struct mqtt_bytes *payload)
{
	uint64_t	 h = 14695981039346656037ull;
	size_t		 i;

	for (i = 0; i < topic->len; i++)
		h = (h ^ topic->data[i]) * 1099511628211ull;
	h = (h ^ 0x100) * 1099511628211ull;	/* not a byte: a separator */
	for (i = 0; i < payload->len; i++)
		h = (h ^ payload->data[i]) * 1099511628211ull;
	return h == 0 ? 1 : h;			/* 0 marks a free slot */
}

static struct published *
published_slot(struct published *table, size_t cap, uint64_t hash)
{
	size_t	 i = (size_t)hash & (cap - 1);

	while (table[i].hash != 0 && table[i].hash != hash)
		i = (i + 1) & (cap - 1);
	return &table[i];
}

static struct published *
published_find(uint64_t hash)
{
	struct published	*e;

	if (run.published_cap == 0)
		return NULL;
	e = published_slot(run.published, run.published_cap, hash);
	return e->hash == 0 ? NULL : e;
}

static void
published_add(const struct mqtt_bytes *topic, const struct mqtt_bytes *payload,
    uint8_t qos, bool retain)
{
	struct published	*table, *e;
	uint64_t		 h = hash_message(topic, payload);
	size_t			 cap, i;

	if (2 * (run.npublished + 1) > run.published_cap) {
		cap = run.published_cap ? run.published_cap * 2 : 64;
		table = calloc(cap, sizeof(*table));
		CHECK(table != NULL);
		for (i = 0; i < run.published_cap; i++)
			if (run.published[i].hash != 0)
				*published_slot(table, cap,
				    run.published[i].hash) = run.published[i];
		free(run.published);
		run.published = table;
		run.published_cap = cap;
	}
	e = published_slot(run.published, run.published_cap, h);
	if (e->hash == 0) {
		e->hash = h;
		run.npublished++;
	}
	if (qos > e->qos)
		e->qos = qos;
	/* An empty retained payload clears: it is never sent retained. */
	if (retain && payload->len > 0)
		e->retained = true;
}

/* ===== Persistent sessions ===== */

static size_t
persistent_find(const struct mqtt_bytes *id)
{
	size_t	 i;

	for (i = 0; i < run.npersistent; i++)
		if (strlen(run.persistent[i]) == id->len &&
		    memcmp(run.persistent[i], id->data, id->len) == 0)
			return i;
	return SIZE_MAX;
}

/* An accepted CONNECT: returns whether a session was present. */
static bool
persistent_connect(const struct mqtt_bytes *id, bool clean)
{
	size_t	 i = persistent_find(id);
	bool	 present = i != SIZE_MAX;

	if (clean && present) {
		free(run.persistent[i]);
		run.persistent[i] = run.persistent[--run.npersistent];
	} else if (!clean && !present) {
		run.persistent = realloc(run.persistent,
		    (run.npersistent + 1) * sizeof(*run.persistent));
		CHECK(run.persistent != NULL);
		run.persistent[run.npersistent] = strndup(
		    (const char *)id->data, id->len);
		CHECK(run.persistent[run.npersistent] != NULL);
		run.npersistent++;
	}
	return !clean && present;
}

/* ===== Outgoing packet ids ===== */

static struct inflight *
inflight_find(struct fconn *fc, uint16_t id)
{
	size_t	 i;

	for (i = 0; i < fc->ninflight; i++)
		if (fc->inflight[i].id == id)
			return &fc->inflight[i];
	return NULL;
}

static void
inflight_forget(struct fconn *fc, uint16_t id)
{
	struct inflight	*f;

	if ((f = inflight_find(fc, id)) != NULL)
		*f = fc->inflight[--fc->ninflight];
}

/* ===== What the broker sends ===== */

static bool
is_sys_topic(const struct mqtt_bytes *t)
{
	return t->len >= 4 && memcmp(t->data, "$SYS", 4) == 0 &&
	    (t->len == 4 || t->data[4] == '/');
}

static void
check_publish(struct fconn *fc, const struct packet_publish *pp)
{
	const struct published	*pub;
	struct inflight		*f;
	uint64_t		 h = hash_message(&pp->topic, &pp->payload);

	CHECK(fc->accepted);
	CHECK(topic_name_validate((const char *)pp->topic.data, pp->topic.len,
	    &run.limits) == TOPIC_OK);
	CHECK(!is_sys_topic(&pp->topic));
	/* Only what was published, at most at its QoS [MQTT-3.8.4-6]. */
	CHECK((pub = published_find(h)) != NULL);
	CHECK(pp->qos <= pub->qos);
	CHECK(pp->qos <= run.cfg.max_qos);
	/* [MQTT-3.3.1-9] retain only for a retained message [MQTT-3.3.1-8] */
	if (pp->retain)
		CHECK(pub->retained);
	if (pp->qos == 0) {
		CHECK(!pp->dup);		/* [MQTT-3.3.1-2] */
		return;
	}
	/* [MQTT-2.3.1-1] [MQTT-2.3.1-2] */
	CHECK(pp->packet_id != 0);
	if ((f = inflight_find(fc, pp->packet_id)) != NULL) {
		/* Only a resend of the same message may use an id in flight. */
		CHECK(pp->dup);
		CHECK(f->hash == h);
		CHECK(f->qos == pp->qos);
		return;
	}
	CHECK(fc->ninflight < run.cfg.max_inflight);
	f = &fc->inflight[fc->ninflight++];
	f->id = pp->packet_id;
	f->qos = pp->qos;
	f->hash = h;
}

static void
check_suback(const struct fconn *fc, const struct packet_suback *sa)
{
	const struct packet_subscribe	*req;
	size_t				 i;

	CHECK(fc->request != NULL && fc->request->type == PACKET_SUBSCRIBE);
	req = &fc->request->u.subscribe;
	/* [MQTT-3.8.4-2] [MQTT-3.8.4-5] */
	CHECK(sa->packet_id == req->packet_id);
	CHECK(sa->count == req->count);
	for (i = 0; i < sa->count; i++) {
		if (sa->codes[i] == SUBACK_FAILURE)
			continue;
		CHECK(sa->codes[i] <= req->topics[i].qos);
		CHECK(sa->codes[i] <= run.cfg.max_qos);
	}
}

/* CONNACK 0 is sent: the CONNECT being handled is accepted. */
static void
check_session_present(const struct fconn *fc, bool session_present)
{
	const struct packet_connect	*pc;
	bool				 present;

	CHECK(fc->request != NULL && fc->request->type == PACKET_CONNECT);
	pc = &fc->request->u.connect;
	if (pc->client_id.len == 0) {
		/* [MQTT-3.1.3-7] a new id, a new clean session */
		CHECK(pc->clean_start && !session_present);
		return;
	}
	present = persistent_connect(&pc->client_id, pc->clean_start);
	if (pc->level == MQTT_PROTO_V311)
		CHECK(session_present == present);
}

static void
check_sent(struct fconn *fc, const struct packet *p)
{
	struct answer	*a;

	/* After a refusal the connection only closes. */
	CHECK(!fc->refused);
	/* [MQTT-3.2.0-1] CONNACK first, and once */
	CHECK(fc->connack == (p->type != PACKET_CONNACK));
	switch (p->type) {
	case PACKET_CONNACK:
		fc->connack = true;
		if (p->u.connack.code == CONNACK_ACCEPTED) {
			fc->accepted = true;
			check_session_present(fc, p->u.connack.session_present);
		} else {
			/* [MQTT-3.2.2-4] */
			CHECK(!p->u.connack.session_present);
			fc->refused = true;
		}
		break;
	case PACKET_PUBLISH:
		check_publish(fc, &p->u.publish);
		return;
	case PACKET_SUBACK:
		check_suback(fc, &p->u.suback);
		break;
	case PACKET_PUBACK:
	case PACKET_PUBREC:
	case PACKET_PUBREL:
	case PACKET_PUBCOMP:
	case PACKET_UNSUBACK:
	case PACKET_PINGRESP:
		CHECK(fc->accepted);
		break;
	default:
		/* Not a packet a server sends. */
		CHECK(!"server sent a client's packet type");
	}
	if (fc->nanswers < NANSWERS) {
		a = &fc->answers[fc->nanswers];
		a->type = p->type;
		a->code = p->type == PACKET_CONNACK ? p->u.connack.code : 0;
		if (p->type == PACKET_SUBACK || p->type == PACKET_UNSUBACK)
			a->id = p->u.suback.packet_id;
		else if (p->type == PACKET_CONNACK ||
		    p->type == PACKET_PINGRESP)
			a->id = 0;
		else
			a->id = p->u.ack.packet_id;
	}
	fc->nanswers++;
}

static void
fuzz_send(void *conn, const uint8_t *buf, size_t len, uint64_t hold)
{
	struct fconn		*fc = conn;
	struct packet_frame	 f;
	struct packet		 p;
	uint8_t			*copy;
	size_t			 off = 0;

	(void)hold;
	CHECK(fc->state == FC_OPEN);
	CHECK(len > 0);
	while (off < len) {
		CHECK(packet_frame(buf + off, len - off, MQTT_MAX_PACKET,
		    &f) == PACKET_OK);
		/* Exactly the packet's size, so over-reads are caught. */
		copy = malloc(f.total);
		CHECK(copy != NULL);
		memcpy(copy, buf + off, f.total);
		CHECK(packet_decode(copy, f.total, fc->level, &p, NULL) ==
		    PACKET_OK);
		check_sent(fc, &p);
		packet_free(&p);
		free(copy);
		off += f.total;
	}
	fc->held += len;
}

static void
fuzz_close(void *conn)
{
	struct fconn	*fc = conn;

	CHECK(fc->state == FC_OPEN);
	CHECK(!fc->in_lost);
	fc->state = FC_CLOSED;
	fc->client = NULL;
	run.nopen--;
}

static size_t
fuzz_pending(void *conn)
{
	struct fconn	*fc = conn;

	CHECK(fc->state == FC_OPEN);
	return fc->held + fc->base;
}

static void
fuzz_connected(void *conn, unsigned keep_alive)
{
	struct fconn	*fc = conn;

	CHECK(fc->state == FC_OPEN);
	CHECK(fc->accepted);
	CHECK(!fc->connected_cb);
	CHECK(keep_alive == fc->keep_alive);
	fc->connected_cb = true;
}

static const struct broker_io fuzz_io = {
	.send = fuzz_send,
	.close = fuzz_close,
	.pending = fuzz_pending,
	.connected = fuzz_connected,
};

/* ===== Invariants between actions ===== */

static void
check_counts(void)
{
	const struct fconn	*fc;
	size_t			 open = 0, connected = 0;

	for (fc = run.all; fc != NULL; fc = fc->next) {
		if (fc->state != FC_OPEN)
			continue;
		open++;
		if (fc->connected_cb)
			connected++;
	}
	CHECK(open == run.nopen);
	CHECK(broker_client_count(run.broker) == open);
	CHECK(broker_stats(run.broker)->clients_connected == connected);
}

/* ===== The peer's side ===== */

static struct fconn *
conn_open(unsigned slot)
{
	struct fconn	*fc;

	if (run.nconns == MAX_CONNS)
		return NULL;
	fc = calloc(1, sizeof(*fc));
	CHECK(fc != NULL);
	fc->in = malloc(run.cfg.max_packet_size);
	CHECK(fc->in != NULL);
	fc->next = run.all;
	run.all = fc;
	run.nconns++;
	run.slots[slot] = fc;
	run.nopen++;
	fc->client = broker_client_new(run.broker, fc, "fuzz");
	CHECK(fc->client != NULL);
	return fc;
}

static void
conn_lost(struct fconn *fc)
{
	if (fc->state != FC_OPEN)
		return;
	fc->in_lost = true;
	broker_client_lost(fc->client, "fuzz: connection lost");
	fc->in_lost = false;
	CHECK(fc->state == FC_OPEN);
	fc->state = FC_LOST;
	fc->client = NULL;
	run.nopen--;
}

/*
 * What the peer learns from its own packet before the broker sees it:
 * the level to read answers at, retained messages, ids it acknowledges.
 */
static void
note_request(struct fconn *fc, const struct packet *p)
{
	const struct packet_connect	*pc = &p->u.connect;

	switch (p->type) {
	case PACKET_CONNECT:
		if (fc->sent_connect)
			break;
		fc->sent_connect = true;
		/* The broker answers 5.0 as 3.1.1 does (not supported). */
		fc->level = pc->level == MQTT_PROTO_V5 ? MQTT_PROTO_V311 :
		    pc->level;
		fc->keep_alive = pc->keep_alive;
		if (pc->will_flag)
			published_add(&pc->will_topic, &pc->will_payload,
			    pc->will_qos, pc->will_retain);
		break;
	case PACKET_PUBLISH:
		published_add(&p->u.publish.topic, &p->u.publish.payload,
		    p->u.publish.qos, p->u.publish.retain);
		break;
	case PACKET_PUBACK:
	case PACKET_PUBCOMP:
		inflight_forget(fc, p->u.ack.packet_id);
		break;
	default:
		break;
	}
}

/* The answer p must get, if any: type and packet id. */
static bool
expected_answer(const struct packet *p, enum packet_type *type, uint16_t *id)
{
	*id = 0;
	switch (p->type) {
	case PACKET_CONNECT:
		*type = PACKET_CONNACK;
		return true;
	case PACKET_PUBLISH:
		if (p->u.publish.qos == 0)
			return false;
		*type = p->u.publish.qos == 1 ? PACKET_PUBACK : PACKET_PUBREC;
		*id = p->u.publish.packet_id;
		return true;
	case PACKET_PUBREC:
		*type = PACKET_PUBREL;
		*id = p->u.ack.packet_id;
		return true;
	case PACKET_PUBREL:
		*type = PACKET_PUBCOMP;
		*id = p->u.ack.packet_id;
		return true;
	case PACKET_SUBSCRIBE:
		*type = PACKET_SUBACK;
		*id = p->u.subscribe.packet_id;
		return true;
	case PACKET_UNSUBSCRIBE:
		*type = PACKET_UNSUBACK;
		*id = p->u.unsubscribe.packet_id;
		return true;
	case PACKET_PINGREQ:
		*type = PACKET_PINGRESP;
		return true;
	default:
		return false;
	}
}

/* After a request the broker kept the connection for: its answers. */
static void
check_answers(const struct fconn *fc, const struct packet *p)
{
	enum packet_type type;
	uint16_t	 id;
	size_t		 i;

	if (!expected_answer(p, &type, &id)) {
		CHECK(fc->nanswers == 0);
		return;
	}
	CHECK(fc->nanswers >= 1);
	CHECK(fc->answers[0].type == type);
	CHECK(fc->answers[0].id == id);
	if (type != PACKET_CONNACK) {
		CHECK(fc->nanswers == 1);
		return;
	}
	/* Accepted; then only PUBRELs of a resumed session [MQTT-4.4.0-1]. */
	CHECK(fc->answers[0].code == CONNACK_ACCEPTED);
	CHECK(fc->connected_cb);
	for (i = 1; i < fc->nanswers && i < NANSWERS; i++)
		CHECK(fc->answers[i].type == PACKET_PUBREL);
}

/* One whole packet from the peer to the broker. */
static void
conn_packet(struct fconn *fc, const uint8_t *buf, size_t len)
{
	struct packet	 p;
	uint8_t		*copy;
	bool		 decoded;
	int		 rv;

	copy = malloc(len);
	CHECK(copy != NULL);
	memcpy(copy, buf, len);
	decoded = packet_decode(copy, len, fc->sent_connect ? fc->level : 0,
	    &p, NULL) == PACKET_OK;
	if (decoded)
		note_request(fc, &p);
	else if (!fc->sent_connect && (copy[0] >> 4) == PACKET_CONNECT) {
		/* Refused with CONNACK 0x01 as 3.1.1, or closed. */
		fc->sent_connect = true;
		fc->level = MQTT_PROTO_V311;
	}
	fc->request = decoded ? &p : NULL;
	fc->nanswers = 0;
	rv = broker_client_packet(fc->client, copy, len);
	fc->request = NULL;
	if (rv == -1)
		CHECK(fc->state == FC_CLOSED);
	else {
		CHECK(rv == 0);
		CHECK(fc->state == FC_OPEN);
		/* What the broker took, the fuzzer decodes too. */
		CHECK(decoded);
		check_answers(fc, &p);
	}
	if (decoded)
		packet_free(&p);
	free(copy);
}

/* Bytes from the peer: framed as conn.c frames them. */
static void
conn_input(struct fconn *fc, const uint8_t *data, size_t n)
{
	struct packet_frame	 f;
	enum packet_err		 err;
	size_t			 take, total;

	while (n > 0 && fc->state == FC_OPEN) {
		take = run.cfg.max_packet_size - fc->inlen;
		if (take > n)
			take = n;
		if (take == 0)
			break;
		memcpy(fc->in + fc->inlen, data, take);
		fc->inlen += take;
		data += take;
		n -= take;
		while (fc->state == FC_OPEN && fc->inlen > 0) {
			err = packet_frame(fc->in, fc->inlen,
			    run.cfg.max_packet_size, &f);
			if (err == PACKET_NEED_MORE)
				break;
			if (err != PACKET_OK) {
				conn_lost(fc);
				break;
			}
			total = f.total;
			conn_packet(fc, fc->in, total);
			if (fc->state != FC_OPEN)
				break;	/* the rest is not read */
			memmove(fc->in, fc->in + total, fc->inlen - total);
			fc->inlen -= total;
		}
	}
}

/* ===== One input ===== */

/*
 * The first HEADER_LEN bytes: configuration within what config.c accepts.
 *   h[0]: bits 0-1 max_inflight - 1, bits 2-3 max_qos (3 = 2), bit 4
 *         queue_qos0, bit 5 allow_zero_length_client_id, bit 6
 *         will_on_shutdown, bit 7 end with broker_shutdown()
 *   h[1]: bits 0-3 max_queued_messages (mod 9), bits 4-5 max_packet_size,
 *         bits 6-7 max_subscriptions_per_client
 *   h[2]: bits 0-1 retry_interval - 1, bits 2-3 max_retries, bit 4 small
 *         topic limits, bit 5 max_queued_bytes 64, bit 6
 *         max_client_id_length 23
 *   h[3]: reserved
 */
static bool
run_configure(const uint8_t *h)
{
	static const uint32_t	 packet_sizes[] = { 48, 128, 512, 4096 };
	static const unsigned	 max_subs[] = { 1, 2, 4, 1000 };
	struct config		*cfg = &run.cfg;

	config_defaults(cfg);
	cfg->max_inflight = 1 + (h[0] & 3);	/* up to MAX_INFLIGHT */
	cfg->max_qos = (h[0] >> 2 & 3) == 3 ? 2 : h[0] >> 2 & 3;
	cfg->queue_qos0 = h[0] >> 4 & 1;
	cfg->allow_zero_length_client_id = h[0] >> 5 & 1;
	cfg->will_on_shutdown = h[0] >> 6 & 1;
	cfg->max_queued_messages = (h[1] & 15) % 9;
	cfg->max_packet_size = packet_sizes[h[1] >> 4 & 3];
	cfg->max_subscriptions_per_client = max_subs[h[1] >> 6 & 3];
	cfg->retry_interval = 1 + (h[2] & 3);
	cfg->max_retries = h[2] >> 2 & 3;
	if (h[2] >> 4 & 1) {
		cfg->max_topic_length = 24;
		cfg->max_topic_levels = 3;
	}
	cfg->max_queued_bytes = h[2] >> 5 & 1 ? 64 : 0;
	if (h[2] >> 6 & 1)
		cfg->max_client_id_length = 23;
	cfg->output_high_water = 4096;		/* the least config.c allows */
	cfg->sync = STORAGE_SYNC_OFF;
	run.limits.max_len = cfg->max_topic_length;
	run.limits.max_levels = cfg->max_topic_levels;
	return h[0] >> 7 & 1;
}

static void
run_action(unsigned slot, enum action act, const uint8_t **datap,
    size_t *sizep)
{
	const uint8_t	*data = *datap;
	size_t		 size = *sizep, n = 0;
	struct fconn	*fc = run.slots[slot];

	switch (act) {
	case ACT_DELIVER:
	case ACT_DELIVER2:
	case ACT_DELIVER3:
	case ACT_DELIVER_LONG:
		if (act == ACT_DELIVER_LONG) {
			if (size >= 2)
				n = (size_t)data[0] << 8 | data[1];
			data += size >= 2 ? 2 : size;
			size -= size >= 2 ? 2 : size;
		} else if (size >= 1) {
			n = data[0];
			data++;
			size--;
		}
		if (n > size)
			n = size;
		if (fc == NULL || fc->state != FC_OPEN)
			fc = conn_open(slot);
		if (fc != NULL)
			conn_input(fc, data, n);
		data += n;
		size -= n;
		break;
	case ACT_OPEN:
		if (fc != NULL)
			conn_lost(fc);
		conn_open(slot);
		break;
	case ACT_DROP:
		if (fc != NULL)
			conn_lost(fc);
		break;
	case ACT_TICK:
		if (size >= 1) {
			run.now += data[0];
			data++;
			size--;
		}
		broker_tick(run.broker, run.now);
		break;
	case ACT_WRITABLE:
		if (size >= 1) {
			n = data[0];
			data++;
			size--;
		}
		if (fc != NULL && fc->state == FC_OPEN) {
			fc->held = 0;
			fc->base = n * 32;
			broker_client_writable(fc->client);
		}
		break;
	}
	*datap = data;
	*sizep = size;
}

static void
run_free(void)
{
	struct fconn	*fc;

	while ((fc = run.all) != NULL) {
		run.all = fc->next;
		free(fc->in);
		free(fc);
	}
	free(run.published);
	while (run.npersistent > 0)
		free(run.persistent[--run.npersistent]);
	free(run.persistent);
	memset(&run, 0, sizeof(run));
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*name = getenv("FUZZ_BROKER_LOG");
	enum log_level	 level = LOG_LEVEL_OFF;

	(void)argc; (void)argv;
	if (name != NULL && log_level_parse(name, &level) == -1)
		level = LOG_LEVEL_DEBUG;
	log_set_level(level);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	 err[256];
	bool	 shutdown;

	if (size < HEADER_LEN)
		return 0;
	memset(&run, 0, sizeof(run));
	shutdown = run_configure(data);
	data += HEADER_LEN;
	size -= HEADER_LEN;
	run.store = store_open(&run.cfg, NULL, NULL, NULL, err, sizeof(err));
	CHECK(run.store != NULL);
	run.broker = broker_new(&run.cfg, &fuzz_io, run.store);
	run.now = 1000;
	broker_tick(run.broker, run.now);

	while (size > 0) {
		uint8_t	 op = data[0];

		data++;
		size--;
		run_action(op & 3, (enum action)(op >> 2 & 7), &data, &size);
		check_counts();
	}

	if (shutdown) {
		broker_shutdown(run.broker);
		CHECK(run.nopen == 0);
	}
	broker_free(run.broker);
	CHECK(run.nopen == 0);
	store_close(run.store);
	run_free();
	return 0;
}
