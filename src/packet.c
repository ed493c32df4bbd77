/*
 * packet.c: owns the MQTT wire format for protocol levels 3 (3.1), 4
 * (3.1.1) and 5 (5.0): framing a byte stream into packets, decoding one
 * packet into a struct packet with every check the specifications make on
 * the wire, and encoding a struct packet back into bytes.
 *
 * Pure code: no sockets, no logging, no SQL, no global state. Decoded
 * strings are views into the caller's buffer; the only allocations are
 * the arrays of a packet (properties, subscriptions, reason codes,
 * filters), always counted first and allocated at their exact size, so
 * a packet can never make the decoder allocate more than its bytes hold.
 * Encoding never allocates: the broker encodes a PUBLISH per subscriber.
 *
 * Each packet type is one row of kinds[]: its name, its fixed-header
 * flags, the lowest level where it exists, and its decode, size and write
 * functions. Each wire check cites the normative statement it enforces:
 * the 3.1.1 id first (mqttd's reference level), the 5.0 id where the text
 * differs. Checks that need broker state (client id rules, topic syntax,
 * packet id in use, topic aliases) belong to the broker and topic modules.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"
#include "utf8.h"

/* ===== Decoder and writer state ===== */

/* The variable header and payload of one packet, being read. */
struct decoder {
	const uint8_t	*buf;
	size_t		 len;
	size_t		 pos;
	uint8_t		 level;		/* 3, 4 or 5: rules in force */
	const char	*why;		/* reason of the first error */
};

/* Output cursor; packet_encode() checks the capacity once, up front. */
struct writer {
	uint8_t		*p;
};

typedef enum packet_err	(*decode_fn)(struct decoder *, struct packet *);
typedef size_t		(*size_fn)(const struct packet *, uint8_t);
typedef void		(*write_fn)(const struct packet *, uint8_t,
			    struct writer *);

/* Returned by size functions for a packet that cannot be encoded. */
#define BAD_SIZE	((size_t)-1)

/* Fixed-header flags of PUBLISH are fields, not a constant. */
#define FLAGS_PUBLISH	0xFF

/* A set of reason codes a packet may carry. */
struct code_set {
	const uint8_t	*codes;
	size_t		 count;
};
#define CODES(a)	{ (a), sizeof(a) / sizeof((a)[0]) }

struct packet_kind {
	const char	*name;
	uint8_t		 flags;		/* required flags [MQTT-2.2.2-1] */
	uint8_t		 min_level;	/* 0: reserved type */
	decode_fn	 decode;
	size_fn		 size;		/* Remaining Length or BAD_SIZE */
	write_fn	 write;
	struct code_set	 reasons;	/* 5.0 reason codes, if any */
};

/* ===== Forward declarations ===== */

static uint8_t		 rules_level(uint8_t);
static enum packet_err	 fail(struct decoder *, enum packet_err,
			    const char *);
static enum packet_err	 rd_u8(struct decoder *, uint8_t *);
static enum packet_err	 rd_u16(struct decoder *, uint16_t *);
static enum packet_err	 rd_u32(struct decoder *, uint32_t *);
static enum packet_err	 rd_varint(struct decoder *, uint32_t *);
static enum packet_err	 rd_binary(struct decoder *, struct mqtt_bytes *);
static enum packet_err	 rd_string(struct decoder *, struct mqtt_bytes *);
static enum packet_err	 rd_packet_id(struct decoder *, uint16_t *);
static enum packet_err	 rd_reason(struct decoder *, const struct code_set *,
			    uint8_t *);
static bool		 code_allowed(const struct code_set *, uint8_t);

static enum packet_err	 props_decode(struct decoder *, uint16_t,
			    struct property_list *);
static enum packet_err	 props_walk(struct decoder *, uint16_t,
			    struct property *, size_t *);
static enum packet_err	 prop_decode(struct decoder *, uint16_t, uint64_t *,
			    struct property *);
static enum packet_err	 prop_value(struct decoder *, uint8_t,
			    struct property *);

static enum packet_err	 fixed_flags_check(struct decoder *, enum packet_type,
			    uint8_t);
static enum packet_err	 connect_decode(struct decoder *, struct packet *);
static enum packet_err	 connect_protocol(struct decoder *,
			    struct packet_connect *);
static enum packet_err	 connect_flags(struct decoder *, uint8_t,
			    struct packet_connect *);
static enum packet_err	 connect_payload(struct decoder *,
			    struct packet_connect *);
static enum packet_err	 connack_decode(struct decoder *, struct packet *);
static enum packet_err	 publish_decode(struct decoder *, struct packet *);
static enum packet_err	 ack_decode(struct decoder *, struct packet *);
static enum packet_err	 subscribe_decode(struct decoder *, struct packet *);
static enum packet_err	 sub_request_decode(struct decoder *,
			    struct sub_request *);
static enum packet_err	 suback_decode(struct decoder *, struct packet *);
static enum packet_err	 unsubscribe_decode(struct decoder *,
			    struct packet *);
static enum packet_err	 unsuback_decode(struct decoder *, struct packet *);
static enum packet_err	 codes_decode(struct decoder *, struct packet *,
			    const struct code_set *);
static enum packet_err	 empty_decode(struct decoder *, struct packet *);
static enum packet_err	 reason_decode(struct decoder *, struct packet *);

static size_t		 sz_add(size_t, size_t);
static size_t		 str_size(const struct mqtt_bytes *);
static size_t		 props_size(const struct property_list *);
static size_t		 prop_size(const struct property *);
static size_t		 remaining_size(const struct packet *, uint8_t);
static uint8_t		 encode_level(const struct packet *, uint8_t);
static uint8_t		 header_byte(const struct packet *);
static size_t		 connect_size(const struct packet *, uint8_t);
static size_t		 connack_size(const struct packet *, uint8_t);
static size_t		 publish_size(const struct packet *, uint8_t);
static size_t		 ack_size(const struct packet *, uint8_t);
static size_t		 subscribe_size(const struct packet *, uint8_t);
static size_t		 suback_size(const struct packet *, uint8_t);
static size_t		 unsubscribe_size(const struct packet *, uint8_t);
static size_t		 unsuback_size(const struct packet *, uint8_t);
static size_t		 empty_size(const struct packet *, uint8_t);
static size_t		 reason_size(const struct packet *, uint8_t);

static void		 put_u8(struct writer *, uint8_t);
static void		 put_u16(struct writer *, uint16_t);
static void		 put_u32(struct writer *, uint32_t);
static void		 put_varint(struct writer *, uint32_t);
static void		 put_raw(struct writer *, const struct mqtt_bytes *);
static void		 put_bytes(struct writer *, const struct mqtt_bytes *);
static void		 put_props(struct writer *,
			    const struct property_list *);
static void		 connect_write(const struct packet *, uint8_t,
			    struct writer *);
static void		 connack_write(const struct packet *, uint8_t,
			    struct writer *);
static void		 publish_write(const struct packet *, uint8_t,
			    struct writer *);
static void		 ack_write(const struct packet *, uint8_t,
			    struct writer *);
static void		 subscribe_write(const struct packet *, uint8_t,
			    struct writer *);
static void		 suback_write(const struct packet *, uint8_t,
			    struct writer *);
static void		 unsubscribe_write(const struct packet *, uint8_t,
			    struct writer *);
static void		 unsuback_write(const struct packet *, uint8_t,
			    struct writer *);
static void		 empty_write(const struct packet *, uint8_t,
			    struct writer *);
static void		 reason_write(const struct packet *, uint8_t,
			    struct writer *);

/* ===== Tables ===== */

/* MQTT 5.0 reason codes allowed per packet [MQTT-2.4], sections 3.x.2.1. */
static const uint8_t rc_connack[] = {
	0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
	0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F
};
static const uint8_t rc_puback[] = {	/* PUBACK and PUBREC */
	0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99
};
static const uint8_t rc_pubrel[] = {	/* PUBREL and PUBCOMP */
	0x00, 0x92
};
static const uint8_t rc_suback[] = {
	0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2
};
static const uint8_t rc_unsuback[] = {
	0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91
};
static const uint8_t rc_disconnect[] = {
	0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E,
	0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B,
	0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2
};
static const uint8_t rc_auth[] = {
	0x00, 0x18, 0x19
};
/* 3.1/3.1.1: CONNACK 6..255 are reserved (3.1.1 table 3.1). */
static const uint8_t rc_connack_v3[] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05
};
/* 3.1.1: only these SUBACK return codes [MQTT-3.9.3-2]. */
static const uint8_t rc_suback_v3[] = {
	0x00, 0x01, 0x02, 0x80
};

static const struct code_set set_connack_v3 = CODES(rc_connack_v3);
static const struct code_set set_suback_v3 = CODES(rc_suback_v3);

static const struct packet_kind kinds[16] = {
	[PACKET_RESERVED] = { "RESERVED", 0, 0, NULL, NULL, NULL,
	    { NULL, 0 } },
	[PACKET_CONNECT] = { "CONNECT", 0x0, 3,
	    connect_decode, connect_size, connect_write, { NULL, 0 } },
	[PACKET_CONNACK] = { "CONNACK", 0x0, 3,
	    connack_decode, connack_size, connack_write, CODES(rc_connack) },
	[PACKET_PUBLISH] = { "PUBLISH", FLAGS_PUBLISH, 3,
	    publish_decode, publish_size, publish_write, { NULL, 0 } },
	[PACKET_PUBACK] = { "PUBACK", 0x0, 3,
	    ack_decode, ack_size, ack_write, CODES(rc_puback) },
	[PACKET_PUBREC] = { "PUBREC", 0x0, 3,
	    ack_decode, ack_size, ack_write, CODES(rc_puback) },
	[PACKET_PUBREL] = { "PUBREL", 0x2, 3,
	    ack_decode, ack_size, ack_write, CODES(rc_pubrel) },
	[PACKET_PUBCOMP] = { "PUBCOMP", 0x0, 3,
	    ack_decode, ack_size, ack_write, CODES(rc_pubrel) },
	[PACKET_SUBSCRIBE] = { "SUBSCRIBE", 0x2, 3,
	    subscribe_decode, subscribe_size, subscribe_write, { NULL, 0 } },
	[PACKET_SUBACK] = { "SUBACK", 0x0, 3,
	    suback_decode, suback_size, suback_write, CODES(rc_suback) },
	[PACKET_UNSUBSCRIBE] = { "UNSUBSCRIBE", 0x2, 3,
	    unsubscribe_decode, unsubscribe_size, unsubscribe_write,
	    { NULL, 0 } },
	[PACKET_UNSUBACK] = { "UNSUBACK", 0x0, 3,
	    unsuback_decode, unsuback_size, unsuback_write,
	    CODES(rc_unsuback) },
	[PACKET_PINGREQ] = { "PINGREQ", 0x0, 3,
	    empty_decode, empty_size, empty_write, { NULL, 0 } },
	[PACKET_PINGRESP] = { "PINGRESP", 0x0, 3,
	    empty_decode, empty_size, empty_write, { NULL, 0 } },
	[PACKET_DISCONNECT] = { "DISCONNECT", 0x0, 3,
	    reason_decode, reason_size, reason_write, CODES(rc_disconnect) },
	[PACKET_AUTH] = { "AUTH", 0x0, 5,
	    reason_decode, reason_size, reason_write, CODES(rc_auth) },
};

/*
 * MQTT 5.0 properties (5.0 section 2.2.2.2): the type of each value, a
 * rule on its value, and the packets it may appear in, as a mask with one
 * bit per packet type. Type 0 is reserved, so bit 0 stands for the Will
 * Properties of a CONNECT.
 */
enum prop_kind {
	PK_NONE = 0,	/* not a property id */
	PK_BYTE,
	PK_U16,
	PK_U32,
	PK_VARINT,
	PK_UTF8,
	PK_BINARY,
	PK_PAIR
};

enum prop_rule {
	PR_ANY = 0,
	PR_BOOL,	/* "a Protocol Error to include a value other than
			   0 or 1" */
	PR_NONZERO	/* "a Protocol Error ... to have the value 0" */
};

struct prop_info {
	uint8_t		 kind;
	uint8_t		 rule;
	uint16_t	 where;
};

#define ON(t)		((uint16_t)(1u << (t)))
#define IN_WILL		ON(0)
#define IN_ACKS		(ON(PACKET_PUBACK) | ON(PACKET_PUBREC) | \
			    ON(PACKET_PUBREL) | ON(PACKET_PUBCOMP))

static const struct prop_info prop_table[] = {
	[PROP_PAYLOAD_FORMAT_INDICATOR] = { PK_BYTE, PR_ANY,
	    ON(PACKET_PUBLISH) | IN_WILL },
	[PROP_MESSAGE_EXPIRY_INTERVAL] = { PK_U32, PR_ANY,
	    ON(PACKET_PUBLISH) | IN_WILL },
	[PROP_CONTENT_TYPE] = { PK_UTF8, PR_ANY,
	    ON(PACKET_PUBLISH) | IN_WILL },
	[PROP_RESPONSE_TOPIC] = { PK_UTF8, PR_ANY,
	    ON(PACKET_PUBLISH) | IN_WILL },
	[PROP_CORRELATION_DATA] = { PK_BINARY, PR_ANY,
	    ON(PACKET_PUBLISH) | IN_WILL },
	[PROP_SUBSCRIPTION_IDENTIFIER] = { PK_VARINT, PR_NONZERO,
	    ON(PACKET_PUBLISH) | ON(PACKET_SUBSCRIBE) },
	[PROP_SESSION_EXPIRY_INTERVAL] = { PK_U32, PR_ANY,
	    ON(PACKET_CONNECT) | ON(PACKET_CONNACK) | ON(PACKET_DISCONNECT) },
	[PROP_ASSIGNED_CLIENT_IDENTIFIER] = { PK_UTF8, PR_ANY,
	    ON(PACKET_CONNACK) },
	[PROP_SERVER_KEEP_ALIVE] = { PK_U16, PR_ANY,
	    ON(PACKET_CONNACK) },
	[PROP_AUTHENTICATION_METHOD] = { PK_UTF8, PR_ANY,
	    ON(PACKET_CONNECT) | ON(PACKET_CONNACK) | ON(PACKET_AUTH) },
	[PROP_AUTHENTICATION_DATA] = { PK_BINARY, PR_ANY,
	    ON(PACKET_CONNECT) | ON(PACKET_CONNACK) | ON(PACKET_AUTH) },
	[PROP_REQUEST_PROBLEM_INFORMATION] = { PK_BYTE, PR_BOOL,
	    ON(PACKET_CONNECT) },
	[PROP_WILL_DELAY_INTERVAL] = { PK_U32, PR_ANY,
	    IN_WILL },
	[PROP_REQUEST_RESPONSE_INFORMATION] = { PK_BYTE, PR_BOOL,
	    ON(PACKET_CONNECT) },
	[PROP_RESPONSE_INFORMATION] = { PK_UTF8, PR_ANY,
	    ON(PACKET_CONNACK) },
	[PROP_SERVER_REFERENCE] = { PK_UTF8, PR_ANY,
	    ON(PACKET_CONNACK) | ON(PACKET_DISCONNECT) },
	[PROP_REASON_STRING] = { PK_UTF8, PR_ANY,
	    ON(PACKET_CONNACK) | IN_ACKS | ON(PACKET_SUBACK) |
	    ON(PACKET_UNSUBACK) | ON(PACKET_DISCONNECT) | ON(PACKET_AUTH) },
	[PROP_RECEIVE_MAXIMUM] = { PK_U16, PR_NONZERO,
	    ON(PACKET_CONNECT) | ON(PACKET_CONNACK) },
	[PROP_TOPIC_ALIAS_MAXIMUM] = { PK_U16, PR_ANY,
	    ON(PACKET_CONNECT) | ON(PACKET_CONNACK) },
	[PROP_TOPIC_ALIAS] = { PK_U16, PR_NONZERO,
	    ON(PACKET_PUBLISH) },
	[PROP_MAXIMUM_QOS] = { PK_BYTE, PR_BOOL,
	    ON(PACKET_CONNACK) },
	[PROP_RETAIN_AVAILABLE] = { PK_BYTE, PR_BOOL,
	    ON(PACKET_CONNACK) },
	[PROP_USER_PROPERTY] = { PK_PAIR, PR_ANY,
	    ON(PACKET_CONNECT) | ON(PACKET_CONNACK) | ON(PACKET_PUBLISH) |
	    IN_WILL | IN_ACKS | ON(PACKET_SUBSCRIBE) | ON(PACKET_SUBACK) |
	    ON(PACKET_UNSUBSCRIBE) | ON(PACKET_UNSUBACK) |
	    ON(PACKET_DISCONNECT) | ON(PACKET_AUTH) },
	[PROP_MAXIMUM_PACKET_SIZE] = { PK_U32, PR_NONZERO,
	    ON(PACKET_CONNECT) | ON(PACKET_CONNACK) },
	[PROP_WILDCARD_SUB_AVAILABLE] = { PK_BYTE, PR_BOOL,
	    ON(PACKET_CONNACK) },
	[PROP_SUB_ID_AVAILABLE] = { PK_BYTE, PR_BOOL,
	    ON(PACKET_CONNACK) },
	[PROP_SHARED_SUB_AVAILABLE] = { PK_BYTE, PR_BOOL,
	    ON(PACKET_CONNACK) },
};
#define PROP_TABLE_LEN	(sizeof(prop_table) / sizeof(prop_table[0]))

static const char *const err_names[] = {
	[PACKET_OK] = "success",
	[PACKET_NEED_MORE] = "incomplete packet",
	[PACKET_ERR_VARINT] = "malformed variable byte integer",
	[PACKET_ERR_TOO_LARGE] = "packet too large",
	[PACKET_ERR_TRUNCATED] = "field runs past the end of the packet",
	[PACKET_ERR_TRAILING] = "unexpected bytes after the last field",
	[PACKET_ERR_TYPE] = "reserved packet type",
	[PACKET_ERR_FLAGS] = "reserved flag bits set",
	[PACKET_ERR_QOS] = "QoS 3 is not a QoS",
	[PACKET_ERR_PACKET_ID] = "packet identifier 0",
	[PACKET_ERR_UTF8] = "malformed UTF-8 string",
	[PACKET_ERR_PROTOCOL_NAME] = "unknown protocol name",
	[PACKET_ERR_PROTOCOL_LEVEL] = "unsupported protocol level",
	[PACKET_ERR_CONNECT_FLAGS] = "invalid CONNECT flags",
	[PACKET_ERR_NO_TOPICS] = "no topic filter",
	[PACKET_ERR_SUB_OPTIONS] = "invalid subscription options",
	[PACKET_ERR_PROPERTY] = "invalid property",
	[PACKET_ERR_REASON_CODE] = "reason code not allowed in this packet",
	[PACKET_ERR_NOMEM] = "out of memory",
};

/* ===== Framing ===== */

enum packet_err
packet_frame(const uint8_t *buf, size_t len, size_t max_size,
    struct packet_frame *frame)
{
	size_t		i;
	uint32_t	value = 0;

	memset(frame, 0, sizeof(*frame));
	if (len < 1)
		return PACKET_NEED_MORE;
	frame->header = buf[0];

	/* Remaining Length: 1 to 4 bytes, 7 bits each, low bits first. */
	for (i = 1;; i++) {
		if (i >= len)
			return PACKET_NEED_MORE;
		value |= (uint32_t)(buf[i] & 0x7F) << (7 * (i - 1));
		if ((buf[i] & 0x80) == 0)
			break;
		if (i == 4)
			return PACKET_ERR_VARINT;	/* a 5th byte follows */
	}

	frame->header_len = i + 1;
	frame->remaining = value;
	frame->total = frame->header_len + value;
	if (frame->total > max_size)
		return PACKET_ERR_TOO_LARGE;
	if (len < frame->total)
		return PACKET_NEED_MORE;
	return PACKET_OK;
}

/* ===== Decoding ===== */

enum packet_err
packet_decode(const uint8_t *buf, size_t len, uint8_t level,
    struct packet *p, const char **why)
{
	struct packet_frame	 f;
	struct decoder		 d;
	const struct packet_kind *k;
	enum packet_err		 err;

	memset(p, 0, sizeof(*p));
	memset(&d, 0, sizeof(d));
	d.level = rules_level(level);

	err = packet_frame(buf, len, MQTT_MAX_PACKET, &f);
	if (err == PACKET_NEED_MORE)
		err = fail(&d, PACKET_ERR_TRUNCATED,
		    "packet shorter than its Remaining Length");
	else if (err == PACKET_ERR_VARINT)
		fail(&d, err, "Remaining Length longer than 4 bytes");
	else if (err == PACKET_OK && f.total != len)
		err = fail(&d, PACKET_ERR_TRAILING,
		    "bytes after the end of the packet");
	else if (err == PACKET_OK && d.level == MQTT_PROTO_V5 &&
	    f.header_len > 2 && buf[f.header_len - 1] == 0)
		/* 5.0 [MQTT-1.5.5-1]: the shortest encoding only. */
		err = fail(&d, PACKET_ERR_VARINT,
		    "Remaining Length not minimally encoded");
	if (err != PACKET_OK)
		goto out;

	p->type = f.header >> 4;
	p->flags = f.header & 0x0F;
	k = &kinds[p->type];
	if (k->decode == NULL || d.level < k->min_level) {
		/* Type 0 is reserved; 15 is AUTH from 5.0 on [MQTT-2.2.1]. */
		err = fail(&d, PACKET_ERR_TYPE, "reserved packet type");
		goto out;
	}
	if ((err = fixed_flags_check(&d, p->type, p->flags)) != PACKET_OK)
		goto out;

	d.buf = buf + f.header_len;
	d.len = f.remaining;
	d.pos = 0;
	if ((err = k->decode(&d, p)) == PACKET_OK && d.pos != d.len)
		err = fail(&d, PACKET_ERR_TRAILING,
		    "bytes after the last field of the packet");
out:
	if (err != PACKET_OK)
		packet_free(p);
	if (why != NULL)
		*why = err == PACKET_OK ? NULL : d.why;
	return err;
}

/*
 * The rules a connection level selects: 3.1 and 5.0 have their own; 0
 * (before CONNECT) and anything else are read as 3.1.1, the level whose
 * rules are the common ground.
 */
static uint8_t
rules_level(uint8_t level)
{
	if (level == MQTT_PROTO_V31 || level == MQTT_PROTO_V5)
		return level;
	return MQTT_PROTO_V311;
}

static enum packet_err
fail(struct decoder *d, enum packet_err err, const char *why)
{
	if (d->why == NULL)
		d->why = why;
	return err;
}

/*
 * Fixed-header flags: reserved bits must hold the values the spec
 * lists [MQTT-2.2.2-1], and a receiver treats anything else as malformed
 * [MQTT-2.2.2-2]: 0010 for PUBREL [MQTT-3.6.1-1], SUBSCRIBE [MQTT-3.8.1-1]
 * and UNSUBSCRIBE [MQTT-3.10.1-1], 0000 for the others. PUBLISH carries
 * fields there and is checked by its decoder.
 */
static enum packet_err
fixed_flags_check(struct decoder *d, enum packet_type type, uint8_t flags)
{
	uint8_t	want = kinds[type].flags;

	if (want == FLAGS_PUBLISH)
		return PACKET_OK;
	/*
	 * MQTT 3.1 had DUP on every packet and clients set it when they
	 * resent a PUBREL, SUBSCRIBE or UNSUBSCRIBE; 3.1 peers keep doing so.
	 */
	if (d->level == MQTT_PROTO_V31 && want == 0x2)
		flags &= ~0x8;
	if (flags != want)
		return fail(d, PACKET_ERR_FLAGS,
		    "reserved fixed-header flag bits [MQTT-2.2.2-2]");
	return PACKET_OK;
}

/* ----- Field readers: each checks that the field fits in the packet. ----- */

static enum packet_err
rd_u8(struct decoder *d, uint8_t *v)
{
	if (d->len - d->pos < 1)
		return fail(d, PACKET_ERR_TRUNCATED,
		    "packet ends inside a field");
	*v = d->buf[d->pos++];
	return PACKET_OK;
}

static enum packet_err
rd_u16(struct decoder *d, uint16_t *v)
{
	if (d->len - d->pos < 2)
		return fail(d, PACKET_ERR_TRUNCATED,
		    "packet ends inside a field");
	*v = (uint16_t)(d->buf[d->pos] << 8 | d->buf[d->pos + 1]);
	d->pos += 2;
	return PACKET_OK;
}

static enum packet_err
rd_u32(struct decoder *d, uint32_t *v)
{
	const uint8_t	*b = d->buf + d->pos;

	if (d->len - d->pos < 4)
		return fail(d, PACKET_ERR_TRUNCATED,
		    "packet ends inside a field");
	*v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
	d->pos += 4;
	return PACKET_OK;
}

/*
 * A Variable Byte Integer inside a packet. Only MQTT 5 has those
 * (property lengths, ids, Subscription Identifiers), so the 5.0 rule that
 * the encoding be the shortest [MQTT-1.5.5-1] always applies here.
 */
static enum packet_err
rd_varint(struct decoder *d, uint32_t *v)
{
	uint32_t	value = 0;
	size_t		i;
	uint8_t		b = 0;

	for (i = 0;; i++) {
		if (d->pos >= d->len)
			return fail(d, PACKET_ERR_TRUNCATED,
			    "packet ends inside a variable byte integer");
		b = d->buf[d->pos++];
		value |= (uint32_t)(b & 0x7F) << (7 * i);
		if ((b & 0x80) == 0)
			break;
		if (i == 3)
			return fail(d, PACKET_ERR_VARINT,
			    "variable byte integer longer than 4 bytes");
	}
	if (i > 0 && b == 0)
		return fail(d, PACKET_ERR_VARINT,
		    "variable byte integer not minimally encoded");
	*v = value;
	return PACKET_OK;
}

/* Two-byte length, then that many bytes [MQTT-1.5.3] / 5.0 [1.5.6]. */
static enum packet_err
rd_binary(struct decoder *d, struct mqtt_bytes *b)
{
	uint16_t	n;
	enum packet_err	err;

	if ((err = rd_u16(d, &n)) != PACKET_OK)
		return err;
	if (d->len - d->pos < n)
		return fail(d, PACKET_ERR_TRUNCATED,
		    "string length runs past the end of the packet");
	b->data = d->buf + d->pos;
	b->len = n;
	d->pos += n;
	return PACKET_OK;
}

/* A UTF-8 string: [MQTT-1.5.3-1], [MQTT-1.5.3-2] (5.0 [MQTT-1.5.4-1/2]). */
static enum packet_err
rd_string(struct decoder *d, struct mqtt_bytes *s)
{
	enum packet_err	err;

	if ((err = rd_binary(d, s)) != PACKET_OK)
		return err;
	if (!utf8_valid(s->data, s->len))
		return fail(d, PACKET_ERR_UTF8,
		    "malformed UTF-8 or U+0000 in a string [MQTT-1.5.3-1]");
	return PACKET_OK;
}

/* Packets that carry an identifier carry a non-zero one [MQTT-2.3.1-1]. */
static enum packet_err
rd_packet_id(struct decoder *d, uint16_t *id)
{
	enum packet_err	err;

	if ((err = rd_u16(d, id)) != PACKET_OK)
		return err;
	if (*id == 0)
		return fail(d, PACKET_ERR_PACKET_ID,
		    "packet identifier 0 [MQTT-2.3.1-1]");
	return PACKET_OK;
}

/* One reason code byte, which must be one the packet may carry. */
static enum packet_err
rd_reason(struct decoder *d, const struct code_set *set, uint8_t *code)
{
	enum packet_err	err;

	if ((err = rd_u8(d, code)) != PACKET_OK)
		return err;
	if (!code_allowed(set, *code))
		return fail(d, PACKET_ERR_REASON_CODE,
		    "reason code not allowed in this packet");
	return PACKET_OK;
}

static bool
code_allowed(const struct code_set *set, uint8_t code)
{
	return memchr(set->codes, code, set->count) != NULL;
}

/* ----- MQTT 5 properties ----- */

/*
 * Reads a Property Length and the properties it covers into *list, for
 * a packet whose bit in prop_table[].where is `where`. Two walks over the
 * same bytes: the first checks every property and counts them, the second
 * fills an array of exactly that many. On error list is left empty or
 * owned by the packet, which packet_free() releases.
 */
static enum packet_err
props_decode(struct decoder *d, uint16_t where, struct property_list *list)
{
	struct decoder	sub;
	uint32_t	plen;
	size_t		count;
	enum packet_err	err;

	if ((err = rd_varint(d, &plen)) != PACKET_OK)
		return err;
	if (plen > d->len - d->pos)
		return fail(d, PACKET_ERR_TRUNCATED,
		    "Property Length runs past the end of the packet");

	sub = *d;
	sub.len = d->pos + plen;
	if ((err = props_walk(&sub, where, NULL, &count)) != PACKET_OK) {
		d->why = sub.why;
		return err;
	}
	if (count > 0) {
		if ((list->items = calloc(count, sizeof(*list->items))) == NULL)
			return fail(d, PACKET_ERR_NOMEM, "out of memory");
		list->count = count;
		sub.pos = d->pos;
		if ((err = props_walk(&sub, where, list->items, &count)) !=
		    PACKET_OK) {
			d->why = sub.why;
			return err;
		}
	}
	d->pos += plen;
	return PACKET_OK;
}

/* Reads properties up to d->len, storing them in items if not NULL. */
static enum packet_err
props_walk(struct decoder *d, uint16_t where, struct property *items,
    size_t *count)
{
	struct property	prop;
	uint64_t	seen = 0;
	size_t		n = 0;
	enum packet_err	err;

	while (d->pos < d->len) {
		if ((err = prop_decode(d, where, &seen, &prop)) != PACKET_OK)
			return err;
		if (items != NULL)
			items[n] = prop;
		n++;
	}
	*count = n;
	return PACKET_OK;
}

/*
 * One property. Unknown ids, ids not allowed in this packet and repeats
 * are errors (5.0 section 2.2.2.2: "It is a Protocol Error to include the
 * same property more than once", User Property excepted; a PUBLISH may
 * carry several Subscription Identifiers, a SUBSCRIBE only one, 3.8.2.1.2).
 */
static enum packet_err
prop_decode(struct decoder *d, uint16_t where, uint64_t *seen,
    struct property *prop)
{
	const struct prop_info	*info;
	uint32_t		 id;
	enum packet_err		 err;

	if ((err = rd_varint(d, &id)) != PACKET_OK)
		return err;
	if (id >= PROP_TABLE_LEN || prop_table[id].kind == PK_NONE)
		return fail(d, PACKET_ERR_PROPERTY, "unknown property");
	info = &prop_table[id];
	if ((info->where & where) == 0)
		return fail(d, PACKET_ERR_PROPERTY,
		    "property not allowed in this packet");
	if ((*seen & (1ULL << id)) != 0 && id != PROP_USER_PROPERTY &&
	    !(id == PROP_SUBSCRIPTION_IDENTIFIER &&
	    where == ON(PACKET_PUBLISH)))
		return fail(d, PACKET_ERR_PROPERTY, "property appears twice");
	*seen |= 1ULL << id;

	memset(prop, 0, sizeof(*prop));
	prop->id = (uint8_t)id;
	if ((err = prop_value(d, info->kind, prop)) != PACKET_OK)
		return err;
	if (info->rule == PR_BOOL && prop->v.num > 1)
		return fail(d, PACKET_ERR_PROPERTY,
		    "property value not 0 or 1");
	if (info->rule == PR_NONZERO && prop->v.num == 0)
		return fail(d, PACKET_ERR_PROPERTY, "property value 0");
	return PACKET_OK;
}

static enum packet_err
prop_value(struct decoder *d, uint8_t kind, struct property *prop)
{
	enum packet_err	err;
	uint8_t		b = 0;
	uint16_t	w = 0;

	switch (kind) {
	case PK_BYTE:
		err = rd_u8(d, &b);
		prop->v.num = b;
		return err;
	case PK_U16:
		err = rd_u16(d, &w);
		prop->v.num = w;
		return err;
	case PK_U32:
		return rd_u32(d, &prop->v.num);
	case PK_VARINT:
		return rd_varint(d, &prop->v.num);
	case PK_UTF8:
		return rd_string(d, &prop->v.bin);
	case PK_BINARY:
		return rd_binary(d, &prop->v.bin);
	case PK_PAIR:
		if ((err = rd_string(d, &prop->v.pair.name)) != PACKET_OK)
			return err;
		return rd_string(d, &prop->v.pair.value);
	default:
		return fail(d, PACKET_ERR_PROPERTY, "unknown property");
	}
}

/* ----- CONNECT [MQTT-3.1] ----- */

static enum packet_err
connect_decode(struct decoder *d, struct packet *p)
{
	struct packet_connect	*c = &p->u.connect;
	uint8_t			 flags;
	enum packet_err		 err;

	if ((err = connect_protocol(d, c)) != PACKET_OK)
		return err;
	/* From here on the CONNECT's own level rules, not the connection's. */
	d->level = c->level;

	if ((err = rd_u8(d, &flags)) != PACKET_OK ||
	    (err = connect_flags(d, flags, c)) != PACKET_OK ||
	    (err = rd_u16(d, &c->keep_alive)) != PACKET_OK)
		return err;
	if (d->level == MQTT_PROTO_V5 &&
	    (err = props_decode(d, ON(PACKET_CONNECT), &p->props)) != PACKET_OK)
		return err;
	return connect_payload(d, c);
}

/*
 * Protocol Name and Level. "MQTT" goes with 4 and 5, "MQIsdp" with 3.
 * Another name: the server may drop the connection [MQTT-3.1.2-1]. A
 * known name with a level it does not go with: the server answers
 * CONNACK 0x01 [MQTT-3.1.2-2] (5.0: reason 0x84), so that error is
 * returned before anything after the level byte is read, with name and
 * level already filled in for the broker's log line.
 */
static enum packet_err
connect_protocol(struct decoder *d, struct packet_connect *c)
{
	bool		mqtt, mqisdp;
	enum packet_err	err;

	if ((err = rd_binary(d, &c->protocol_name)) != PACKET_OK)
		return err;
	mqtt = c->protocol_name.len == 4 &&
	    memcmp(c->protocol_name.data, "MQTT", 4) == 0;
	mqisdp = c->protocol_name.len == 6 &&
	    memcmp(c->protocol_name.data, "MQIsdp", 6) == 0;
	if (!mqtt && !mqisdp)
		return fail(d, PACKET_ERR_PROTOCOL_NAME,
		    "protocol name is neither MQTT nor MQIsdp [MQTT-3.1.2-1]");
	if ((err = rd_u8(d, &c->level)) != PACKET_OK)
		return err;
	if (mqtt && (c->level == MQTT_PROTO_V311 || c->level == MQTT_PROTO_V5))
		return PACKET_OK;
	if (mqisdp && c->level == MQTT_PROTO_V31)
		return PACKET_OK;
	return fail(d, PACKET_ERR_PROTOCOL_LEVEL,
	    "unsupported protocol level [MQTT-3.1.2-2]");
}

static enum packet_err
connect_flags(struct decoder *d, uint8_t f, struct packet_connect *c)
{
	/* [MQTT-3.1.2-3]: the server MUST treat a set bit 0 as malformed. */
	if (f & 0x01)
		return fail(d, PACKET_ERR_CONNECT_FLAGS,
		    "reserved CONNECT flag set [MQTT-3.1.2-3]");
	c->clean_start = (f & 0x02) != 0;
	c->will_flag = (f & 0x04) != 0;
	c->will_qos = (f >> 3) & 0x03;
	c->will_retain = (f & 0x20) != 0;
	c->has_password = (f & 0x40) != 0;
	c->has_username = (f & 0x80) != 0;

	/* [MQTT-3.1.2-11], [MQTT-3.1.2-13] (5.0 [MQTT-3.1.2-11]) */
	if (!c->will_flag && c->will_qos != 0)
		return fail(d, PACKET_ERR_CONNECT_FLAGS,
		    "Will QoS without Will Flag [MQTT-3.1.2-13]");
	/* [MQTT-3.1.2-11], [MQTT-3.1.2-15] (5.0 [MQTT-3.1.2-13]) */
	if (!c->will_flag && c->will_retain)
		return fail(d, PACKET_ERR_CONNECT_FLAGS,
		    "Will Retain without Will Flag [MQTT-3.1.2-15]");
	/* [MQTT-3.1.2-14] (5.0 [MQTT-3.1.2-12]) */
	if (c->will_qos == 3)
		return fail(d, PACKET_ERR_CONNECT_FLAGS,
		    "Will QoS 3 [MQTT-3.1.2-14]");
	/* [MQTT-3.1.2-22]; 5.0 allows a password without a user name. */
	if (d->level < MQTT_PROTO_V5 && c->has_password && !c->has_username)
		return fail(d, PACKET_ERR_CONNECT_FLAGS,
		    "Password Flag without User Name Flag [MQTT-3.1.2-22]");
	return PACKET_OK;
}

/*
 * Client Identifier [MQTT-3.1.3-4], then the fields the flags announce,
 * in order [MQTT-3.1.3-1]. The client id's content and length are the
 * broker's to judge (CONNACK 0x02), only its UTF-8 is checked here.
 */
static enum packet_err
connect_payload(struct decoder *d, struct packet_connect *c)
{
	enum packet_err	err;

	if ((err = rd_string(d, &c->client_id)) != PACKET_OK)
		return err;
	if (c->will_flag) {
		if (d->level == MQTT_PROTO_V5 &&
		    (err = props_decode(d, IN_WILL, &c->will_props)) !=
		    PACKET_OK)
			return err;
		/* [MQTT-3.1.3-10]; the Will Message is binary data. */
		if ((err = rd_string(d, &c->will_topic)) != PACKET_OK ||
		    (err = rd_binary(d, &c->will_payload)) != PACKET_OK)
			return err;
	}
	/* [MQTT-3.1.3-11]; the password is binary data. */
	if (c->has_username &&
	    (err = rd_string(d, &c->username)) != PACKET_OK)
		return err;
	if (c->has_password &&
	    (err = rd_binary(d, &c->password)) != PACKET_OK)
		return err;
	return PACKET_OK;
}

/* ----- CONNACK [MQTT-3.2] ----- */

static enum packet_err
connack_decode(struct decoder *d, struct packet *p)
{
	struct packet_connack	*ca = &p->u.connack;
	const struct code_set	*set = &kinds[PACKET_CONNACK].reasons;
	uint8_t			 ackf;
	enum packet_err		 err;

	if ((err = rd_u8(d, &ackf)) != PACKET_OK)
		return err;
	/*
	 * 3.1 had no flags here (a reserved byte, ignored). From 3.1.1 on,
	 * bits 7-1 are reserved and MUST be 0 (3.1.1 section 3.2.2.1, 5.0
	 * [MQTT-3.2.2-1]).
	 */
	if (d->level >= MQTT_PROTO_V311) {
		if (ackf & 0xFE)
			return fail(d, PACKET_ERR_FLAGS,
			    "reserved CONNACK acknowledge flags set");
		ca->session_present = (ackf & 0x01) != 0;
	}
	if (d->level < MQTT_PROTO_V5)
		set = &set_connack_v3;
	if ((err = rd_reason(d, set, &ca->code)) != PACKET_OK)
		return err;
	if (d->level == MQTT_PROTO_V5)
		return props_decode(d, ON(PACKET_CONNACK), &p->props);
	return PACKET_OK;
}

/* ----- PUBLISH [MQTT-3.3] ----- */

static enum packet_err
publish_decode(struct decoder *d, struct packet *p)
{
	struct packet_publish	*pub = &p->u.publish;
	enum packet_err		 err;

	pub->dup = (p->flags & 0x08) != 0;
	pub->qos = (p->flags >> 1) & 0x03;
	pub->retain = (p->flags & 0x01) != 0;
	if (pub->qos == 3)	/* [MQTT-3.3.1-4] */
		return fail(d, PACKET_ERR_QOS,
		    "PUBLISH with QoS 3 [MQTT-3.3.1-4]");
	/* [MQTT-3.3.1-2]; 3.1 only said DUP is meaningless at QoS 0. */
	if (pub->dup && pub->qos == 0 && d->level >= MQTT_PROTO_V311)
		return fail(d, PACKET_ERR_FLAGS,
		    "DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2]");

	/* [MQTT-3.3.2-1]; the topic's syntax is the topic module's. */
	if ((err = rd_string(d, &pub->topic)) != PACKET_OK)
		return err;
	if (pub->qos > 0 &&
	    (err = rd_packet_id(d, &pub->packet_id)) != PACKET_OK)
		return err;
	if (d->level == MQTT_PROTO_V5 &&
	    (err = props_decode(d, ON(PACKET_PUBLISH), &p->props)) != PACKET_OK)
		return err;
	pub->payload.data = d->buf + d->pos;
	pub->payload.len = d->len - d->pos;
	d->pos = d->len;
	return PACKET_OK;
}

/* ----- PUBACK, PUBREC, PUBREL, PUBCOMP [MQTT-3.4] to [MQTT-3.7] ----- */

/*
 * Before 5.0: a packet identifier and nothing else (Remaining Length 2).
 * In 5.0 the Reason Code may be left out when it is 0 and there are no
 * properties (Remaining Length 2), and the Property Length when the
 * Remaining Length is less than 4 (5.0 sections 3.4.2.1, 3.4.2.2.1).
 */
static enum packet_err
ack_decode(struct decoder *d, struct packet *p)
{
	struct packet_ack	*ack = &p->u.ack;
	enum packet_err		 err;

	if ((err = rd_packet_id(d, &ack->packet_id)) != PACKET_OK)
		return err;
	ack->reason = RC_SUCCESS;
	if (d->level < MQTT_PROTO_V5 || d->pos == d->len)
		return PACKET_OK;
	if ((err = rd_reason(d, &kinds[p->type].reasons,
	    &ack->reason)) != PACKET_OK)
		return err;
	if (d->pos == d->len)
		return PACKET_OK;
	return props_decode(d, ON(p->type), &p->props);
}

/* ----- SUBSCRIBE [MQTT-3.8] ----- */

/*
 * The list of subscriptions is walked twice: once to check it and count
 * its entries, once to fill an array of exactly that many.
 */
static enum packet_err
subscribe_decode(struct decoder *d, struct packet *p)
{
	struct packet_subscribe	*s = &p->u.subscribe;
	struct sub_request	 req;
	size_t			 start, n, i;
	enum packet_err		 err;

	if ((err = rd_packet_id(d, &s->packet_id)) != PACKET_OK)
		return err;
	if (d->level == MQTT_PROTO_V5 &&
	    (err = props_decode(d, ON(PACKET_SUBSCRIBE), &p->props)) !=
	    PACKET_OK)
		return err;

	start = d->pos;
	for (n = 0; d->pos < d->len; n++)
		if ((err = sub_request_decode(d, &req)) != PACKET_OK)
			return err;
	if (n == 0)	/* [MQTT-3.8.3-3] */
		return fail(d, PACKET_ERR_NO_TOPICS,
		    "SUBSCRIBE without a topic filter [MQTT-3.8.3-3]");

	if ((s->topics = calloc(n, sizeof(*s->topics))) == NULL)
		return fail(d, PACKET_ERR_NOMEM, "out of memory");
	s->count = n;
	d->pos = start;
	for (i = 0; i < n; i++)
		if ((err = sub_request_decode(d, &s->topics[i])) != PACKET_OK)
			return err;
	return PACKET_OK;
}

/* A Topic Filter [MQTT-3.8.3-1] and its options byte. */
static enum packet_err
sub_request_decode(struct decoder *d, struct sub_request *r)
{
	uint8_t		o;
	enum packet_err	err;

	if ((err = rd_string(d, &r->filter)) != PACKET_OK ||
	    (err = rd_u8(d, &o)) != PACKET_OK)
		return err;
	r->qos = o & 0x03;
	r->no_local = false;
	r->retain_as_published = false;
	r->retain_handling = 0;
	if (d->level < MQTT_PROTO_V5) {
		/* [MQTT-3-8.3-4] (sic in 3.1.1): reserved bits 7-2 are 0. */
		if (o & 0xFC)
			return fail(d, PACKET_ERR_SUB_OPTIONS,
			    "reserved bits in requested QoS [MQTT-3-8.3-4]");
	} else {
		r->no_local = (o & 0x04) != 0;
		r->retain_as_published = (o & 0x08) != 0;
		r->retain_handling = (o >> 4) & 0x03;
		/* 5.0 [MQTT-3.8.3-5]: bits 7-6 are reserved. */
		if (o & 0xC0)
			return fail(d, PACKET_ERR_SUB_OPTIONS,
			    "reserved subscription option bits [MQTT-3.8.3-5]");
		/* 5.0 section 3.8.3.1: Retain Handling 3 is an error. */
		if (r->retain_handling == 3)
			return fail(d, PACKET_ERR_SUB_OPTIONS,
			    "Retain Handling 3");
	}
	/* [MQTT-3-8.3-4]: QoS 3 is malformed. */
	if (r->qos == 3)
		return fail(d, PACKET_ERR_SUB_OPTIONS,
		    "requested QoS 3 [MQTT-3-8.3-4]");
	return PACKET_OK;
}

/* ----- SUBACK [MQTT-3.9] ----- */

static enum packet_err
suback_decode(struct decoder *d, struct packet *p)
{
	enum packet_err	err;

	if ((err = rd_packet_id(d, &p->u.suback.packet_id)) != PACKET_OK)
		return err;
	if (d->level < MQTT_PROTO_V5)
		return codes_decode(d, p, &set_suback_v3);
	if ((err = props_decode(d, ON(PACKET_SUBACK), &p->props)) != PACKET_OK)
		return err;
	return codes_decode(d, p, &kinds[PACKET_SUBACK].reasons);
}

/* ----- UNSUBSCRIBE [MQTT-3.10] ----- */

static enum packet_err
unsubscribe_decode(struct decoder *d, struct packet *p)
{
	struct packet_unsubscribe *u = &p->u.unsubscribe;
	struct mqtt_bytes	 f;
	size_t			 start, n, i;
	enum packet_err		 err;

	if ((err = rd_packet_id(d, &u->packet_id)) != PACKET_OK)
		return err;
	if (d->level == MQTT_PROTO_V5 &&
	    (err = props_decode(d, ON(PACKET_UNSUBSCRIBE), &p->props)) !=
	    PACKET_OK)
		return err;

	start = d->pos;
	for (n = 0; d->pos < d->len; n++)	/* [MQTT-3.10.3-1] */
		if ((err = rd_string(d, &f)) != PACKET_OK)
			return err;
	if (n == 0)	/* [MQTT-3.10.3-2] */
		return fail(d, PACKET_ERR_NO_TOPICS,
		    "UNSUBSCRIBE without a topic filter [MQTT-3.10.3-2]");

	if ((u->filters = calloc(n, sizeof(*u->filters))) == NULL)
		return fail(d, PACKET_ERR_NOMEM, "out of memory");
	u->count = n;
	d->pos = start;
	for (i = 0; i < n; i++)
		if ((err = rd_string(d, &u->filters[i])) != PACKET_OK)
			return err;
	return PACKET_OK;
}

/* ----- UNSUBACK [MQTT-3.11]: reason codes only in 5.0 ----- */

static enum packet_err
unsuback_decode(struct decoder *d, struct packet *p)
{
	enum packet_err	err;

	if ((err = rd_packet_id(d, &p->u.suback.packet_id)) != PACKET_OK)
		return err;
	if (d->level < MQTT_PROTO_V5)
		return PACKET_OK;
	if ((err = props_decode(d, ON(PACKET_UNSUBACK), &p->props)) !=
	    PACKET_OK)
		return err;
	return codes_decode(d, p, &kinds[PACKET_UNSUBACK].reasons);
}

/*
 * The rest of a SUBACK or 5.0 UNSUBACK: one code per filter of the
 * request, so at least one, each from the packet's set.
 */
static enum packet_err
codes_decode(struct decoder *d, struct packet *p, const struct code_set *set)
{
	struct packet_suback	*sa = &p->u.suback;
	size_t			 n = d->len - d->pos, i;

	if (n == 0)
		return fail(d, PACKET_ERR_NO_TOPICS,
		    "acknowledgement without reason codes");
	for (i = 0; i < n; i++)
		if (!code_allowed(set, d->buf[d->pos + i]))
			return fail(d, PACKET_ERR_REASON_CODE,
			    "reason code not allowed in this packet");
	if ((sa->codes = malloc(n)) == NULL)
		return fail(d, PACKET_ERR_NOMEM, "out of memory");
	memcpy(sa->codes, d->buf + d->pos, n);
	sa->count = n;
	d->pos += n;
	return PACKET_OK;
}

/* ----- PINGREQ, PINGRESP [MQTT-3.12], [MQTT-3.13] ----- */

/* No variable header, no payload: any byte is a trailing byte. */
static enum packet_err
empty_decode(struct decoder *d, struct packet *p)
{
	(void)d;
	(void)p;
	return PACKET_OK;
}

/* ----- DISCONNECT [MQTT-3.14], AUTH (5.0 section 3.15) ----- */

/*
 * Before 5.0 DISCONNECT is empty. In 5.0 a Remaining Length of 0 means
 * reason 0 and no properties, and one of 1 means no properties (5.0
 * sections 3.14.2.1, 3.14.2.2.1, 3.15.2.1); AUTH is read the same way.
 */
static enum packet_err
reason_decode(struct decoder *d, struct packet *p)
{
	enum packet_err	err;

	p->u.reason.reason = RC_SUCCESS;
	if (d->level < MQTT_PROTO_V5 || d->pos == d->len)
		return PACKET_OK;
	if ((err = rd_reason(d, &kinds[p->type].reasons,
	    &p->u.reason.reason)) != PACKET_OK)
		return err;
	if (d->pos == d->len)
		return PACKET_OK;
	return props_decode(d, ON(p->type), &p->props);
}

/* ===== Releasing ===== */

void
packet_free(struct packet *p)
{
	if (p == NULL)
		return;
	free(p->props.items);
	p->props.items = NULL;
	p->props.count = 0;
	switch (p->type) {
	case PACKET_CONNECT:
		free(p->u.connect.will_props.items);
		p->u.connect.will_props.items = NULL;
		p->u.connect.will_props.count = 0;
		break;
	case PACKET_SUBSCRIBE:
		free(p->u.subscribe.topics);
		p->u.subscribe.topics = NULL;
		p->u.subscribe.count = 0;
		break;
	case PACKET_SUBACK:
	case PACKET_UNSUBACK:
		free(p->u.suback.codes);
		p->u.suback.codes = NULL;
		p->u.suback.count = 0;
		break;
	case PACKET_UNSUBSCRIBE:
		free(p->u.unsubscribe.filters);
		p->u.unsubscribe.filters = NULL;
		p->u.unsubscribe.count = 0;
		break;
	default:
		break;
	}
}

/* ===== Encoding ===== */

size_t
packet_encoded_size(const struct packet *p, uint8_t level)
{
	size_t	rem;

	if ((rem = remaining_size(p, level)) == BAD_SIZE)
		return 0;
	return 1 + packet_varint_size((uint32_t)rem) + rem;
}

size_t
packet_encode(const struct packet *p, uint8_t level, uint8_t *out,
    size_t cap)
{
	struct writer	w;
	size_t		rem, total;

	if ((rem = remaining_size(p, level)) == BAD_SIZE)
		return 0;
	total = 1 + packet_varint_size((uint32_t)rem) + rem;
	if (total > cap)
		return 0;
	level = encode_level(p, level);
	w.p = out;
	put_u8(&w, header_byte(p));
	put_varint(&w, (uint32_t)rem);
	kinds[p->type].write(p, level, &w);
	assert((size_t)(w.p - out) == total);
	return total;
}

/* Remaining Length of p at level, BAD_SIZE if it cannot be encoded. */
static size_t
remaining_size(const struct packet *p, uint8_t level)
{
	const struct packet_kind *k;

	if ((unsigned)p->type > PACKET_AUTH)
		return BAD_SIZE;
	k = &kinds[p->type];
	level = encode_level(p, level);
	if (k->size == NULL || level < k->min_level)
		return BAD_SIZE;
	return k->size(p, level);
}

/*
 * A CONNECT is written at its own level when it names one, so that a
 * client can encode it before the connection has a level; the protocol
 * name always follows the level. Other packets use the connection's.
 */
static uint8_t
encode_level(const struct packet *p, uint8_t level)
{
	uint8_t	own;

	if (p->type == PACKET_CONNECT) {
		own = p->u.connect.level;
		if (own == MQTT_PROTO_V31 || own == MQTT_PROTO_V311 ||
		    own == MQTT_PROTO_V5)
			return own;
	}
	return rules_level(level);
}

static uint8_t
header_byte(const struct packet *p)
{
	const struct packet_publish *pub = &p->u.publish;
	uint8_t	flags = kinds[p->type].flags;

	if (flags == FLAGS_PUBLISH)
		flags = (uint8_t)((pub->dup ? 0x08 : 0) | pub->qos << 1 |
		    (pub->retain ? 0x01 : 0));
	return (uint8_t)(p->type << 4 | flags);
}

/* ----- Sizes: every sum saturates at BAD_SIZE past the largest packet. */

static size_t
sz_add(size_t a, size_t b)
{
	if (a == BAD_SIZE || b == BAD_SIZE || a > MQTT_MAX_REMAINING ||
	    b > MQTT_MAX_REMAINING - a)
		return BAD_SIZE;
	return a + b;
}

/* A length-prefixed string or binary field. */
static size_t
str_size(const struct mqtt_bytes *b)
{
	if (b->len > 0xFFFF)
		return BAD_SIZE;
	return 2 + b->len;
}

/* Property Length and the properties themselves. */
static size_t
props_size(const struct property_list *list)
{
	size_t	n = 0, i;

	for (i = 0; i < list->count && n != BAD_SIZE; i++)
		n = sz_add(n, prop_size(&list->items[i]));
	if (n == BAD_SIZE)
		return BAD_SIZE;
	return sz_add(packet_varint_size((uint32_t)n), n);
}

/* One property: its id (one byte for every id 5.0 defines) and value. */
static size_t
prop_size(const struct property *prop)
{
	const struct property	*q = prop;
	size_t			 n;

	if (q->id >= PROP_TABLE_LEN)
		return BAD_SIZE;
	switch (prop_table[q->id].kind) {
	case PK_BYTE:
		return q->v.num > 0xFF ? BAD_SIZE : 2;
	case PK_U16:
		return q->v.num > 0xFFFF ? BAD_SIZE : 3;
	case PK_U32:
		return 5;
	case PK_VARINT:
		n = packet_varint_size(q->v.num);
		return n == 0 ? BAD_SIZE : 1 + n;
	case PK_UTF8:
	case PK_BINARY:
		return sz_add(1, str_size(&q->v.bin));
	case PK_PAIR:
		return sz_add(sz_add(1, str_size(&q->v.pair.name)),
		    str_size(&q->v.pair.value));
	default:
		return BAD_SIZE;
	}
}

static size_t
connect_size(const struct packet *p, uint8_t level)
{
	const struct packet_connect *c = &p->u.connect;
	size_t	n;

	if (c->will_qos > 2)
		return BAD_SIZE;
	/* Protocol Name, Level, Connect Flags, Keep Alive. */
	n = (level == MQTT_PROTO_V31 ? 2 + 6 : 2 + 4) + 1 + 1 + 2;
	if (level == MQTT_PROTO_V5)
		n = sz_add(n, props_size(&p->props));
	n = sz_add(n, str_size(&c->client_id));
	if (c->will_flag) {
		if (level == MQTT_PROTO_V5)
			n = sz_add(n, props_size(&c->will_props));
		n = sz_add(n, str_size(&c->will_topic));
		n = sz_add(n, str_size(&c->will_payload));
	}
	if (c->has_username)
		n = sz_add(n, str_size(&c->username));
	if (c->has_password)
		n = sz_add(n, str_size(&c->password));
	return n;
}

static size_t
connack_size(const struct packet *p, uint8_t level)
{
	if (level == MQTT_PROTO_V5)
		return sz_add(2, props_size(&p->props));
	return 2;
}

/* The broker's hot path: arithmetic only. */
static size_t
publish_size(const struct packet *p, uint8_t level)
{
	const struct packet_publish *pub = &p->u.publish;
	size_t	n;

	if (pub->qos > 2)
		return BAD_SIZE;
	n = sz_add(str_size(&pub->topic), pub->qos > 0 ? 2 : 0);
	if (level == MQTT_PROTO_V5)
		n = sz_add(n, props_size(&p->props));
	return sz_add(n, pub->payload.len);
}

/* 5.0: the short form (identifier only) for reason 0 without properties. */
static size_t
ack_size(const struct packet *p, uint8_t level)
{
	if (level < MQTT_PROTO_V5 ||
	    (p->u.ack.reason == RC_SUCCESS && p->props.count == 0))
		return 2;
	return sz_add(3, props_size(&p->props));
}

static size_t
subscribe_size(const struct packet *p, uint8_t level)
{
	const struct packet_subscribe *s = &p->u.subscribe;
	size_t	n = 2, i;

	if (s->count == 0)	/* [MQTT-3.8.3-3] */
		return BAD_SIZE;
	if (level == MQTT_PROTO_V5)
		n = sz_add(n, props_size(&p->props));
	for (i = 0; i < s->count; i++) {
		if (s->topics[i].qos > 2 || s->topics[i].retain_handling > 2)
			return BAD_SIZE;
		n = sz_add(n, sz_add(str_size(&s->topics[i].filter), 1));
	}
	return n;
}

static size_t
suback_size(const struct packet *p, uint8_t level)
{
	size_t	n = 2;

	if (p->u.suback.count == 0)
		return BAD_SIZE;
	if (level == MQTT_PROTO_V5)
		n = sz_add(n, props_size(&p->props));
	return sz_add(n, p->u.suback.count);
}

static size_t
unsubscribe_size(const struct packet *p, uint8_t level)
{
	const struct packet_unsubscribe *u = &p->u.unsubscribe;
	size_t	n = 2, i;

	if (u->count == 0)	/* [MQTT-3.10.3-2] */
		return BAD_SIZE;
	if (level == MQTT_PROTO_V5)
		n = sz_add(n, props_size(&p->props));
	for (i = 0; i < u->count; i++)
		n = sz_add(n, str_size(&u->filters[i]));
	return n;
}

static size_t
unsuback_size(const struct packet *p, uint8_t level)
{
	if (level < MQTT_PROTO_V5)
		return 2;
	if (p->u.suback.count == 0)
		return BAD_SIZE;
	return sz_add(sz_add(2, props_size(&p->props)), p->u.suback.count);
}

static size_t
empty_size(const struct packet *p, uint8_t level)
{
	(void)p;
	(void)level;
	return 0;
}

/* 5.0: nothing at all for reason 0 without properties. */
static size_t
reason_size(const struct packet *p, uint8_t level)
{
	if (level < MQTT_PROTO_V5 ||
	    (p->u.reason.reason == RC_SUCCESS && p->props.count == 0))
		return 0;
	return sz_add(1, props_size(&p->props));
}

/* ----- Writers: the sizes above were checked, so no bounds here. ----- */

static void
put_u8(struct writer *w, uint8_t v)
{
	*w->p++ = v;
}

static void
put_u16(struct writer *w, uint16_t v)
{
	*w->p++ = (uint8_t)(v >> 8);
	*w->p++ = (uint8_t)v;
}

static void
put_u32(struct writer *w, uint32_t v)
{
	put_u16(w, (uint16_t)(v >> 16));
	put_u16(w, (uint16_t)v);
}

static void
put_varint(struct writer *w, uint32_t v)
{
	w->p += packet_varint_encode(v, w->p);
}

static void
put_raw(struct writer *w, const struct mqtt_bytes *b)
{
	if (b->len > 0)
		memcpy(w->p, b->data, b->len);
	w->p += b->len;
}

static void
put_bytes(struct writer *w, const struct mqtt_bytes *b)
{
	put_u16(w, (uint16_t)b->len);
	put_raw(w, b);
}

static void
put_props(struct writer *w, const struct property_list *list)
{
	const struct property	*q;
	size_t			 i, n = 0;

	for (i = 0; i < list->count; i++)
		n += prop_size(&list->items[i]);
	put_varint(w, (uint32_t)n);
	for (i = 0; i < list->count; i++) {
		q = &list->items[i];
		put_u8(w, q->id);
		switch (prop_table[q->id].kind) {
		case PK_BYTE:
			put_u8(w, (uint8_t)q->v.num);
			break;
		case PK_U16:
			put_u16(w, (uint16_t)q->v.num);
			break;
		case PK_U32:
			put_u32(w, q->v.num);
			break;
		case PK_VARINT:
			put_varint(w, q->v.num);
			break;
		case PK_UTF8:
		case PK_BINARY:
			put_bytes(w, &q->v.bin);
			break;
		case PK_PAIR:
			put_bytes(w, &q->v.pair.name);
			put_bytes(w, &q->v.pair.value);
			break;
		}
	}
}

static void
connect_write(const struct packet *p, uint8_t level, struct writer *w)
{
	const struct packet_connect *c = &p->u.connect;
	static const struct mqtt_bytes mqtt = { (const uint8_t *)"MQTT", 4 };
	static const struct mqtt_bytes mqisdp =
	    { (const uint8_t *)"MQIsdp", 6 };
	uint8_t	f = 0;

	if (c->has_username)
		f |= 0x80;
	if (c->has_password)
		f |= 0x40;
	if (c->will_flag)
		f |= (uint8_t)((c->will_retain ? 0x20 : 0) |
		    c->will_qos << 3 | 0x04);
	if (c->clean_start)
		f |= 0x02;

	put_bytes(w, level == MQTT_PROTO_V31 ? &mqisdp : &mqtt);
	put_u8(w, level);
	put_u8(w, f);
	put_u16(w, c->keep_alive);
	if (level == MQTT_PROTO_V5)
		put_props(w, &p->props);
	put_bytes(w, &c->client_id);
	if (c->will_flag) {
		if (level == MQTT_PROTO_V5)
			put_props(w, &c->will_props);
		put_bytes(w, &c->will_topic);
		put_bytes(w, &c->will_payload);
	}
	if (c->has_username)
		put_bytes(w, &c->username);
	if (c->has_password)
		put_bytes(w, &c->password);
}

static void
connack_write(const struct packet *p, uint8_t level, struct writer *w)
{
	/* 3.1 had a reserved byte where 3.1.1 put Session Present. */
	put_u8(w, level >= MQTT_PROTO_V311 && p->u.connack.session_present);
	put_u8(w, p->u.connack.code);
	if (level == MQTT_PROTO_V5)
		put_props(w, &p->props);
}

static void
publish_write(const struct packet *p, uint8_t level, struct writer *w)
{
	const struct packet_publish *pub = &p->u.publish;

	put_bytes(w, &pub->topic);
	if (pub->qos > 0)
		put_u16(w, pub->packet_id);
	if (level == MQTT_PROTO_V5)
		put_props(w, &p->props);
	put_raw(w, &pub->payload);
}

static void
ack_write(const struct packet *p, uint8_t level, struct writer *w)
{
	put_u16(w, p->u.ack.packet_id);
	if (ack_size(p, level) == 2)
		return;
	put_u8(w, p->u.ack.reason);
	put_props(w, &p->props);
}

static void
subscribe_write(const struct packet *p, uint8_t level, struct writer *w)
{
	const struct sub_request *r;
	size_t	i;
	uint8_t	o;

	put_u16(w, p->u.subscribe.packet_id);
	if (level == MQTT_PROTO_V5)
		put_props(w, &p->props);
	for (i = 0; i < p->u.subscribe.count; i++) {
		r = &p->u.subscribe.topics[i];
		o = r->qos;
		if (level == MQTT_PROTO_V5)
			o |= (uint8_t)((r->no_local ? 0x04 : 0) |
			    (r->retain_as_published ? 0x08 : 0) |
			    r->retain_handling << 4);
		put_bytes(w, &r->filter);
		put_u8(w, o);
	}
}

static void
suback_write(const struct packet *p, uint8_t level, struct writer *w)
{
	struct mqtt_bytes codes = { p->u.suback.codes, p->u.suback.count };

	put_u16(w, p->u.suback.packet_id);
	if (level == MQTT_PROTO_V5)
		put_props(w, &p->props);
	put_raw(w, &codes);
}

static void
unsubscribe_write(const struct packet *p, uint8_t level, struct writer *w)
{
	size_t	i;

	put_u16(w, p->u.unsubscribe.packet_id);
	if (level == MQTT_PROTO_V5)
		put_props(w, &p->props);
	for (i = 0; i < p->u.unsubscribe.count; i++)
		put_bytes(w, &p->u.unsubscribe.filters[i]);
}

static void
unsuback_write(const struct packet *p, uint8_t level, struct writer *w)
{
	if (level < MQTT_PROTO_V5) {
		put_u16(w, p->u.suback.packet_id);
		return;
	}
	suback_write(p, level, w);
}

static void
empty_write(const struct packet *p, uint8_t level, struct writer *w)
{
	(void)p;
	(void)level;
	(void)w;
}

static void
reason_write(const struct packet *p, uint8_t level, struct writer *w)
{
	if (reason_size(p, level) == 0)
		return;
	put_u8(w, p->u.reason.reason);
	put_props(w, &p->props);
}

/* ===== Helpers ===== */

const char *
packet_strerror(enum packet_err err)
{
	if ((unsigned)err >= sizeof(err_names) / sizeof(err_names[0]) ||
	    err_names[err] == NULL)
		return "unknown error";
	return err_names[err];
}

const char *
packet_type_name(enum packet_type type)
{
	if ((unsigned)type > PACKET_AUTH)
		return "UNKNOWN";
	return kinds[type].name;
}

size_t
packet_varint_size(uint32_t value)
{
	if (value < 128u)
		return 1;
	if (value < 16384u)
		return 2;
	if (value < 2097152u)
		return 3;
	if (value <= MQTT_MAX_REMAINING)
		return 4;
	return 0;
}

size_t
packet_varint_encode(uint32_t value, uint8_t *out)
{
	size_t	n = 0;
	uint8_t	b;

	if (value > MQTT_MAX_REMAINING)
		return 0;
	do {
		b = value & 0x7F;
		value >>= 7;
		if (value > 0)
			b |= 0x80;
		out[n++] = b;
	} while (value > 0);
	return n;
}
