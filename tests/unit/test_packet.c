/*
 * test_packet.c: unit tests of src/packet.c and src/utf8.c: round trips
 * of every packet at every level, one test per malformation the
 * specifications name (citing the statement), the specifications' own
 * example bytes, the framer at every split point, and UTF-8 validation.
 *
 * Every decode runs on a heap copy of exactly the packet's size, so that
 * valgrind and AddressSanitizer see any read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "packet.h"
#include "utf8.h"

#define B(s)		{ (const uint8_t *)(s), sizeof(s) - 1 }
#define P_NUM(i, n)	{ .id = (i), .v = { .num = (n) } }
#define P_BIN(i, s)	{ .id = (i), .v = { .bin = B(s) } }
#define P_PAIR(k, val)	{ .id = PROP_USER_PROPERTY, \
			    .v = { .pair = { .name = B(k), .value = B(val) } } }
#define PROPS(a)	((struct property_list){ (a), \
			    sizeof(a) / sizeof((a)[0]) })
#define BYTES(...)	(const uint8_t[]){ __VA_ARGS__ }, \
			    sizeof((const uint8_t[]){ __VA_ARGS__ })
#define ARR(...)	((const uint8_t[]){ __VA_ARGS__ })
#define DEC(level, ...)	decode_bytes((level), BYTES(__VA_ARGS__))

static const uint8_t levels[] = {
	MQTT_PROTO_V31, MQTT_PROTO_V311, MQTT_PROTO_V5
};

/* ===== Helpers ===== */

static uint8_t *
copy_bytes(const uint8_t *b, size_t n)
{
	uint8_t	*c = malloc(n > 0 ? n : 1);

	assert_non_null(c);
	if (n > 0)
		memcpy(c, b, n);
	return c;
}

/* Decodes a heap copy of b and frees everything; returns the result. */
static enum packet_err
decode_bytes(uint8_t level, const uint8_t *b, size_t n)
{
	struct packet	 p;
	uint8_t		*c = copy_bytes(b, n);
	const char	*why = NULL;
	enum packet_err	 err;

	err = packet_decode(c, n, level, &p, &why);
	if (err != PACKET_OK)
		assert_non_null(why);
	packet_free(&p);
	free(c);
	return err;
}

static void
assert_bytes(const struct mqtt_bytes *a, const struct mqtt_bytes *b)
{
	assert_int_equal(a->len, b->len);
	if (a->len > 0)
		assert_memory_equal(a->data, b->data, a->len);
}

static void
assert_str(const struct mqtt_bytes *a, const char *s)
{
	struct mqtt_bytes b = { (const uint8_t *)s, strlen(s) };

	assert_bytes(a, &b);
}

static bool
prop_is_binary(uint8_t id)
{
	switch (id) {
	case PROP_CONTENT_TYPE:
	case PROP_RESPONSE_TOPIC:
	case PROP_CORRELATION_DATA:
	case PROP_ASSIGNED_CLIENT_IDENTIFIER:
	case PROP_AUTHENTICATION_METHOD:
	case PROP_AUTHENTICATION_DATA:
	case PROP_RESPONSE_INFORMATION:
	case PROP_SERVER_REFERENCE:
	case PROP_REASON_STRING:
		return true;
	default:
		return false;
	}
}

static void
assert_props(const struct property_list *a, const struct property_list *b)
{
	size_t	i;

	assert_int_equal(a->count, b->count);
	for (i = 0; i < a->count; i++) {
		assert_int_equal(a->items[i].id, b->items[i].id);
		if (a->items[i].id == PROP_USER_PROPERTY) {
			assert_bytes(&a->items[i].v.pair.name,
			    &b->items[i].v.pair.name);
			assert_bytes(&a->items[i].v.pair.value,
			    &b->items[i].v.pair.value);
		} else if (prop_is_binary(a->items[i].id))
			assert_bytes(&a->items[i].v.bin, &b->items[i].v.bin);
		else
			assert_int_equal(a->items[i].v.num, b->items[i].v.num);
	}
}

/* Properties as a decode at level sees them: none before 5.0. */
static void
assert_props_at(const struct property_list *got,
    const struct property_list *sent, uint8_t level)
{
	if (level == MQTT_PROTO_V5)
		assert_props(got, sent);
	else
		assert_int_equal(got->count, 0);
}

/*
 * Encodes in at level, checks that packet_encoded_size() agrees and that
 * a buffer one byte short is refused, then decodes into *out. Returns the
 * encoded bytes, which *out's views point into; the caller frees both.
 */
static uint8_t *
round_trip(const struct packet *in, uint8_t level, struct packet *out)
{
	struct packet_frame	 f;
	size_t			 n;
	uint8_t			*buf;
	const char		*why = NULL;

	n = packet_encoded_size(in, level);
	assert_true(n > 0);
	buf = malloc(n);
	assert_non_null(buf);
	assert_int_equal(packet_encode(in, level, buf, n - 1), 0);
	assert_int_equal(packet_encode(in, level, buf, n), n);
	assert_int_equal(packet_frame(buf, n, n, &f), PACKET_OK);
	assert_int_equal(f.total, n);
	assert_int_equal(packet_decode(buf, n, level, out, &why), PACKET_OK);
	assert_int_equal(out->type, in->type);
	return buf;
}

/* ===== Property sets used by the MQTT 5 round trips ===== */

static struct property connect_props[] = {
	P_NUM(PROP_SESSION_EXPIRY_INTERVAL, 3600),
	P_NUM(PROP_RECEIVE_MAXIMUM, 20),
	P_NUM(PROP_MAXIMUM_PACKET_SIZE, 65536),
	P_NUM(PROP_TOPIC_ALIAS_MAXIMUM, 10),
	P_NUM(PROP_REQUEST_PROBLEM_INFORMATION, 1),
	P_NUM(PROP_REQUEST_RESPONSE_INFORMATION, 0),
	P_PAIR("region", "eu"),
	P_BIN(PROP_AUTHENTICATION_METHOD, "SCRAM-SHA-1"),
	P_BIN(PROP_AUTHENTICATION_DATA, "\x00\x01\xff"),
};

static struct property will_props[] = {
	P_NUM(PROP_WILL_DELAY_INTERVAL, 5),
	P_NUM(PROP_PAYLOAD_FORMAT_INDICATOR, 1),
	P_NUM(PROP_MESSAGE_EXPIRY_INTERVAL, 60),
	P_BIN(PROP_CONTENT_TYPE, "text/plain"),
	P_BIN(PROP_RESPONSE_TOPIC, "reply/here"),
	P_BIN(PROP_CORRELATION_DATA, "\x00\x42"),
	P_PAIR("why", "gone"),
};

static struct property connack_props[] = {
	P_NUM(PROP_SESSION_EXPIRY_INTERVAL, 0xFFFFFFFF),
	P_BIN(PROP_ASSIGNED_CLIENT_IDENTIFIER, "auto-1234"),
	P_NUM(PROP_SERVER_KEEP_ALIVE, 30),
	P_NUM(PROP_RECEIVE_MAXIMUM, 65535),
	P_NUM(PROP_MAXIMUM_QOS, 1),
	P_NUM(PROP_RETAIN_AVAILABLE, 0),
	P_NUM(PROP_MAXIMUM_PACKET_SIZE, 1048576),
	P_NUM(PROP_TOPIC_ALIAS_MAXIMUM, 0),
	P_NUM(PROP_WILDCARD_SUB_AVAILABLE, 1),
	P_NUM(PROP_SUB_ID_AVAILABLE, 1),
	P_NUM(PROP_SHARED_SUB_AVAILABLE, 0),
	P_BIN(PROP_RESPONSE_INFORMATION, "resp/"),
	P_BIN(PROP_SERVER_REFERENCE, "other:1883"),
	P_BIN(PROP_REASON_STRING, "welcome"),
	P_BIN(PROP_AUTHENTICATION_METHOD, "SCRAM-SHA-1"),
	P_BIN(PROP_AUTHENTICATION_DATA, "srv"),
	P_PAIR("a", "b"),
};

static struct property publish_props[] = {
	P_NUM(PROP_PAYLOAD_FORMAT_INDICATOR, 1),
	P_NUM(PROP_MESSAGE_EXPIRY_INTERVAL, 120),
	P_NUM(PROP_TOPIC_ALIAS, 3),
	P_BIN(PROP_RESPONSE_TOPIC, "r/t"),
	P_BIN(PROP_CORRELATION_DATA, "id-7"),
	P_PAIR("k1", "v1"),
	P_PAIR("k1", "v2"),
	P_NUM(PROP_SUBSCRIPTION_IDENTIFIER, 268435455),
	P_NUM(PROP_SUBSCRIPTION_IDENTIFIER, 1),
	P_BIN(PROP_CONTENT_TYPE, "application/json"),
};

static struct property ack_props[] = {
	P_BIN(PROP_REASON_STRING, "not today"),
	P_PAIR("trace", "42"),
};

static struct property subscribe_props[] = {
	P_NUM(PROP_SUBSCRIPTION_IDENTIFIER, 16384),
	P_PAIR("x", "y"),
};

static struct property user_only_props[] = {
	P_PAIR("x", "y"),
};

static struct property disconnect_props[] = {
	P_NUM(PROP_SESSION_EXPIRY_INTERVAL, 10),
	P_BIN(PROP_REASON_STRING, "bye"),
	P_BIN(PROP_SERVER_REFERENCE, "elsewhere"),
	P_PAIR("u", "v"),
};

static struct property auth_props[] = {
	P_BIN(PROP_AUTHENTICATION_METHOD, "SCRAM-SHA-1"),
	P_BIN(PROP_AUTHENTICATION_DATA, "client-first"),
	P_BIN(PROP_REASON_STRING, "continue"),
	P_PAIR("u", "v"),
};

/* ===== Round trips: every packet at every level where it exists ===== */

static void
connect_round_trip(uint8_t level)
{
	struct packet		 in, out;
	struct packet_connect	*c = &in.u.connect, *o = &out.u.connect;
	uint8_t			*buf;

	memset(&in, 0, sizeof(in));
	in.type = PACKET_CONNECT;
	c->level = level;
	c->clean_start = true;
	c->keep_alive = 60;
	c->client_id = (struct mqtt_bytes)B("client-\xc3\xa9t\xc3\xa9");
	c->will_flag = true;
	c->will_qos = 2;
	c->will_retain = true;
	c->will_topic = (struct mqtt_bytes)B("clients/gone");
	c->will_payload = (struct mqtt_bytes)B("\x00\xff binary \x00");
	c->has_username = true;
	c->username = (struct mqtt_bytes)B("alice");
	c->has_password = true;
	c->password = (struct mqtt_bytes)B("\xff\xfe secret");
	if (level == MQTT_PROTO_V5) {
		in.props = PROPS(connect_props);
		c->will_props = PROPS(will_props);
	}

	buf = round_trip(&in, level, &out);
	assert_int_equal(o->level, level);
	assert_str(&o->protocol_name,
	    level == MQTT_PROTO_V31 ? "MQIsdp" : "MQTT");
	assert_true(o->clean_start);
	assert_int_equal(o->keep_alive, 60);
	assert_bytes(&o->client_id, &c->client_id);
	assert_true(o->will_flag);
	assert_int_equal(o->will_qos, 2);
	assert_true(o->will_retain);
	assert_bytes(&o->will_topic, &c->will_topic);
	assert_bytes(&o->will_payload, &c->will_payload);
	assert_true(o->has_username);
	assert_bytes(&o->username, &c->username);
	assert_true(o->has_password);
	assert_bytes(&o->password, &c->password);
	assert_props_at(&out.props, &in.props, level);
	assert_props_at(&o->will_props, &c->will_props, level);
	packet_free(&out);
	free(buf);

	/* And the smallest CONNECT: no will, no credentials. */
	memset(&in, 0, sizeof(in));
	in.type = PACKET_CONNECT;
	c->level = level;
	buf = round_trip(&in, level, &out);
	assert_false(o->will_flag);
	assert_false(o->has_username);
	assert_false(o->has_password);
	assert_int_equal(o->client_id.len, 0);
	packet_free(&out);
	free(buf);
}

static void
connack_round_trip(uint8_t level)
{
	struct packet	 in, out;
	uint8_t		*buf;

	memset(&in, 0, sizeof(in));
	in.type = PACKET_CONNACK;
	in.u.connack.session_present = true;
	in.u.connack.code = CONNACK_ACCEPTED;
	if (level == MQTT_PROTO_V5)
		in.props = PROPS(connack_props);
	buf = round_trip(&in, level, &out);
	/* 3.1 had no Session Present flag. */
	assert_int_equal(out.u.connack.session_present,
	    level >= MQTT_PROTO_V311);
	assert_int_equal(out.u.connack.code, CONNACK_ACCEPTED);
	assert_props_at(&out.props, &in.props, level);
	packet_free(&out);
	free(buf);

	in.u.connack.session_present = false;
	in.u.connack.code = level == MQTT_PROTO_V5 ? RC_BANNED :
	    CONNACK_NOT_AUTHORIZED;
	buf = round_trip(&in, level, &out);
	assert_int_equal(out.u.connack.code, in.u.connack.code);
	packet_free(&out);
	free(buf);
}

static void
publish_round_trip(uint8_t level)
{
	struct packet	 in, out;
	uint8_t		*buf, qos;

	for (qos = 0; qos <= 2; qos++) {
		memset(&in, 0, sizeof(in));
		in.type = PACKET_PUBLISH;
		in.u.publish.qos = qos;
		in.u.publish.dup = qos > 0;
		in.u.publish.retain = qos != 1;
		in.u.publish.topic =
		    (struct mqtt_bytes)B("sensors/\xe6\xb8\xa9\xe5\xba\xa6");
		in.u.publish.packet_id = qos > 0 ? 0xBEEF : 0;
		in.u.publish.payload = (struct mqtt_bytes)B("\x00\x01\x02\xff");
		if (level == MQTT_PROTO_V5)
			in.props = PROPS(publish_props);
		buf = round_trip(&in, level, &out);
		assert_int_equal(buf[0], 0x30 | (in.u.publish.dup ? 8 : 0) |
		    qos << 1 | (in.u.publish.retain ? 1 : 0));
		assert_int_equal(out.u.publish.qos, qos);
		assert_int_equal(out.u.publish.dup, in.u.publish.dup);
		assert_int_equal(out.u.publish.retain, in.u.publish.retain);
		assert_bytes(&out.u.publish.topic, &in.u.publish.topic);
		assert_int_equal(out.u.publish.packet_id, in.u.publish.packet_id);
		assert_bytes(&out.u.publish.payload, &in.u.publish.payload);
		assert_props_at(&out.props, &in.props, level);
		packet_free(&out);
		free(buf);
	}
}

static void
ack_round_trip(enum packet_type type, uint8_t level)
{
	struct packet	 in, out;
	uint8_t		*buf;

	memset(&in, 0, sizeof(in));
	in.type = type;
	in.u.ack.packet_id = 1;
	buf = round_trip(&in, level, &out);
	assert_int_equal(buf[0], type << 4 | (type == PACKET_PUBREL ? 2 : 0));
	assert_int_equal(buf[1], 2);	/* short form at every level */
	assert_int_equal(out.u.ack.packet_id, 1);
	assert_int_equal(out.u.ack.reason, RC_SUCCESS);
	packet_free(&out);
	free(buf);

	if (level < MQTT_PROTO_V5)
		return;
	in.u.ack.packet_id = 65535;
	in.u.ack.reason = type == PACKET_PUBREL || type == PACKET_PUBCOMP ?
	    RC_PACKET_ID_NOT_FOUND : RC_QUOTA_EXCEEDED;
	in.props = PROPS(ack_props);
	buf = round_trip(&in, level, &out);
	assert_int_equal(out.u.ack.packet_id, 65535);
	assert_int_equal(out.u.ack.reason, in.u.ack.reason);
	assert_props(&out.props, &in.props);
	packet_free(&out);
	free(buf);
}

static void
subscribe_round_trip(uint8_t level)
{
	struct sub_request topics[] = {
		{ B("a/b"), 0, false, false, 0 },
		{ B("c/+/#"), 1, true, false, 1 },
		{ B("$share/g/x"), 2, false, true, 2 },
	};
	struct packet	 in, out;
	uint8_t		*buf;
	size_t		 i;
	bool		 v5 = level == MQTT_PROTO_V5;

	memset(&in, 0, sizeof(in));
	in.type = PACKET_SUBSCRIBE;
	in.u.subscribe.packet_id = 10;
	in.u.subscribe.topics = topics;
	in.u.subscribe.count = 3;
	if (v5)
		in.props = PROPS(subscribe_props);
	buf = round_trip(&in, level, &out);
	assert_int_equal(buf[0], 0x82);
	assert_int_equal(out.u.subscribe.packet_id, 10);
	assert_int_equal(out.u.subscribe.count, 3);
	for (i = 0; i < 3; i++) {
		struct sub_request *r = &out.u.subscribe.topics[i];

		assert_bytes(&r->filter, &topics[i].filter);
		assert_int_equal(r->qos, topics[i].qos);
		/* Only 5.0 carries the other options. */
		assert_int_equal(r->no_local, v5 && topics[i].no_local);
		assert_int_equal(r->retain_as_published,
		    v5 && topics[i].retain_as_published);
		assert_int_equal(r->retain_handling,
		    v5 ? topics[i].retain_handling : 0);
	}
	assert_props_at(&out.props, &in.props, level);
	packet_free(&out);
	free(buf);
}

static void
suback_round_trip(uint8_t level)
{
	uint8_t		 codes[] = { 0x00, 0x01, 0x02, 0x80 };
	uint8_t		 codes5[] = { 0x00, 0x02, 0x87, 0xA2 };
	struct packet	 in, out;
	uint8_t		*buf;

	memset(&in, 0, sizeof(in));
	in.type = PACKET_SUBACK;
	in.u.suback.packet_id = 10;
	in.u.suback.codes = level == MQTT_PROTO_V5 ? codes5 : codes;
	in.u.suback.count = 4;
	if (level == MQTT_PROTO_V5)
		in.props = PROPS(ack_props);
	buf = round_trip(&in, level, &out);
	assert_int_equal(out.u.suback.packet_id, 10);
	assert_int_equal(out.u.suback.count, 4);
	assert_memory_equal(out.u.suback.codes, in.u.suback.codes, 4);
	assert_props_at(&out.props, &in.props, level);
	packet_free(&out);
	free(buf);
}

static void
unsubscribe_round_trip(uint8_t level)
{
	struct mqtt_bytes filters[] = { B("a/b"), B("c/#"), B("\xd0\xbf") };
	struct packet	 in, out;
	uint8_t		*buf;
	size_t		 i;

	memset(&in, 0, sizeof(in));
	in.type = PACKET_UNSUBSCRIBE;
	in.u.unsubscribe.packet_id = 7;
	in.u.unsubscribe.filters = filters;
	in.u.unsubscribe.count = 3;
	if (level == MQTT_PROTO_V5)
		in.props = PROPS(user_only_props);
	buf = round_trip(&in, level, &out);
	assert_int_equal(buf[0], 0xA2);
	assert_int_equal(out.u.unsubscribe.packet_id, 7);
	assert_int_equal(out.u.unsubscribe.count, 3);
	for (i = 0; i < 3; i++)
		assert_bytes(&out.u.unsubscribe.filters[i], &filters[i]);
	assert_props_at(&out.props, &in.props, level);
	packet_free(&out);
	free(buf);
}

static void
unsuback_round_trip(uint8_t level)
{
	uint8_t		 codes[] = { 0x00, 0x11, 0x87 };
	struct packet	 in, out;
	uint8_t		*buf;

	memset(&in, 0, sizeof(in));
	in.type = PACKET_UNSUBACK;
	in.u.suback.packet_id = 7;
	if (level == MQTT_PROTO_V5) {
		in.u.suback.codes = codes;
		in.u.suback.count = 3;
		in.props = PROPS(ack_props);
	}
	buf = round_trip(&in, level, &out);
	assert_int_equal(out.u.suback.packet_id, 7);
	if (level == MQTT_PROTO_V5) {
		assert_int_equal(out.u.suback.count, 3);
		assert_memory_equal(out.u.suback.codes, codes, 3);
	} else {
		assert_int_equal(buf[1], 2);
		assert_int_equal(out.u.suback.count, 0);
	}
	assert_props_at(&out.props, &in.props, level);
	packet_free(&out);
	free(buf);
}

static void
empty_round_trip(enum packet_type type, uint8_t level)
{
	struct packet	 in, out;
	uint8_t		*buf;

	memset(&in, 0, sizeof(in));
	in.type = type;
	buf = round_trip(&in, level, &out);
	assert_int_equal(packet_encoded_size(&in, level), 2);
	assert_int_equal(buf[1], 0);
	packet_free(&out);
	free(buf);
}

static void
reason_round_trip(enum packet_type type, uint8_t level,
    struct property_list props, uint8_t reason)
{
	struct packet	 in, out;
	uint8_t		*buf;

	empty_round_trip(type, level);
	if (level < MQTT_PROTO_V5)
		return;
	memset(&in, 0, sizeof(in));
	in.type = type;
	in.u.reason.reason = reason;
	in.props = props;
	buf = round_trip(&in, level, &out);
	assert_int_equal(out.u.reason.reason, reason);
	assert_props(&out.props, &in.props);
	packet_free(&out);
	free(buf);
}

#define ROUND_TRIPS(name, call)						\
static void								\
test_##name##_round_trip_v31(void **state)				\
{									\
	uint8_t level = MQTT_PROTO_V31;					\
	(void)state;							\
	call;								\
}									\
static void								\
test_##name##_round_trip_v311(void **state)				\
{									\
	uint8_t level = MQTT_PROTO_V311;				\
	(void)state;							\
	call;								\
}									\
static void								\
test_##name##_round_trip_v5(void **state)				\
{									\
	uint8_t level = MQTT_PROTO_V5;					\
	(void)state;							\
	call;								\
}

ROUND_TRIPS(connect, connect_round_trip(level))
ROUND_TRIPS(connack, connack_round_trip(level))
ROUND_TRIPS(publish, publish_round_trip(level))
ROUND_TRIPS(puback, ack_round_trip(PACKET_PUBACK, level))
ROUND_TRIPS(pubrec, ack_round_trip(PACKET_PUBREC, level))
ROUND_TRIPS(pubrel, ack_round_trip(PACKET_PUBREL, level))
ROUND_TRIPS(pubcomp, ack_round_trip(PACKET_PUBCOMP, level))
ROUND_TRIPS(subscribe, subscribe_round_trip(level))
ROUND_TRIPS(suback, suback_round_trip(level))
ROUND_TRIPS(unsubscribe, unsubscribe_round_trip(level))
ROUND_TRIPS(unsuback, unsuback_round_trip(level))
ROUND_TRIPS(pingreq, empty_round_trip(PACKET_PINGREQ, level))
ROUND_TRIPS(pingresp, empty_round_trip(PACKET_PINGRESP, level))
ROUND_TRIPS(disconnect, reason_round_trip(PACKET_DISCONNECT, level,
    PROPS(disconnect_props), RC_SERVER_SHUTTING_DOWN))

static void
test_auth_round_trip_v5(void **state)
{
	(void)state;
	reason_round_trip(PACKET_AUTH, MQTT_PROTO_V5, PROPS(auth_props),
	    RC_CONTINUE_AUTH);
}

static void
test_auth_cannot_be_encoded_below_v5(void **state)
{
	struct packet	p;
	uint8_t		buf[8];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = PACKET_AUTH;
	assert_int_equal(packet_encoded_size(&p, MQTT_PROTO_V311), 0);
	assert_int_equal(packet_encode(&p, MQTT_PROTO_V311, buf, sizeof(buf)),
	    0);
	assert_int_equal(packet_encode(&p, MQTT_PROTO_V5, buf, sizeof(buf)), 2);
}

/* ===== Fixed header and packet types ===== */

/* [MQTT-2.2.1]: type 0 is reserved at every level. */
static void
test_type_0_is_reserved(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(levels); i++)
		assert_int_equal(DEC(levels[i], 0x00, 0x00), PACKET_ERR_TYPE);
	assert_int_equal(DEC(0, 0x00, 0x00), PACKET_ERR_TYPE);
}

/* Type 15 is reserved before 5.0 and AUTH from 5.0 on. */
static void
test_auth_is_reserved_below_v5(void **state)
{
	(void)state;
	assert_int_equal(DEC(0, 0xF0, 0x00), PACKET_ERR_TYPE);
	assert_int_equal(DEC(MQTT_PROTO_V31, 0xF0, 0x00), PACKET_ERR_TYPE);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0xF0, 0x00), PACKET_ERR_TYPE);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0xF0, 0x00), PACKET_OK);
}

/* [MQTT-2.2.2-1], [MQTT-2.2.2-2]: reserved flags of every other type. */
static void
test_reserved_fixed_header_flags_are_malformed(void **state)
{
	/* One valid packet of each type with flags 0 (or 0010). */
	static const uint8_t good[][4] = {
		{ 0x20, 0x02, 0x00, 0x00 },	/* CONNACK */
		{ 0x40, 0x02, 0x00, 0x01 },	/* PUBACK */
		{ 0x50, 0x02, 0x00, 0x01 },	/* PUBREC */
		{ 0x62, 0x02, 0x00, 0x01 },	/* PUBREL */
		{ 0x70, 0x02, 0x00, 0x01 },	/* PUBCOMP */
		{ 0xB0, 0x02, 0x00, 0x01 },	/* UNSUBACK */
		{ 0xC0, 0x00 },			/* PINGREQ */
		{ 0xD0, 0x00 },			/* PINGRESP */
		{ 0xE0, 0x00 },			/* DISCONNECT */
	};
	uint8_t	b[4];
	size_t	i, n;
	int	bit;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		n = 2 + good[i][1];
		assert_int_equal(decode_bytes(MQTT_PROTO_V311, good[i], n),
		    PACKET_OK);
		for (bit = 0; bit < 4; bit++) {
			memcpy(b, good[i], n);
			b[0] ^= (uint8_t)(1 << bit);
			assert_int_equal(decode_bytes(MQTT_PROTO_V311, b, n),
			    PACKET_ERR_FLAGS);
			assert_int_equal(decode_bytes(MQTT_PROTO_V5, b, n),
			    PACKET_ERR_FLAGS);
		}
	}
}

/* [MQTT-3.1.1]: CONNECT's flags are reserved too. */
static void
test_connect_with_fixed_header_flags_is_malformed(void **state)
{
	(void)state;
	assert_int_equal(DEC(0, 0x11, 0x0C, 0, 4, 'M', 'Q', 'T', 'T', 4, 2,
	    0, 60, 0, 0), PACKET_ERR_FLAGS);
}

/* [MQTT-3.6.1-1] */
static void
test_pubrel_flags_must_be_0010(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x60, 2, 0, 1), PACKET_ERR_FLAGS);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x60, 2, 0, 1), PACKET_ERR_FLAGS);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x62, 2, 0, 1), PACKET_OK);
}

/* [MQTT-3.8.1-1] */
static void
test_subscribe_flags_must_be_0010(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x80, 6, 0, 1, 0, 1, 'a', 0),
	    PACKET_ERR_FLAGS);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x83, 6, 0, 1, 0, 1, 'a', 0),
	    PACKET_ERR_FLAGS);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x82, 6, 0, 1, 0, 1, 'a', 0),
	    PACKET_OK);
}

/* [MQTT-3.10.1-1] */
static void
test_unsubscribe_flags_must_be_0010(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0xA0, 5, 0, 1, 0, 1, 'a'),
	    PACKET_ERR_FLAGS);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0xA2, 5, 0, 1, 0, 1, 'a'),
	    PACKET_OK);
}

/* MQTT 3.1 clients set DUP when they resend PUBREL/SUBSCRIBE. */
static void
test_v31_accepts_dup_on_pubrel_and_subscribe(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V31, 0x6A, 2, 0, 1), PACKET_OK);
	assert_int_equal(DEC(MQTT_PROTO_V31, 0x8A, 6, 0, 1, 0, 1, 'a', 0),
	    PACKET_OK);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x6A, 2, 0, 1), PACKET_ERR_FLAGS);
}

static void
test_bytes_after_the_packet_are_trailing(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0xC0, 0x00, 0xC0),
	    PACKET_ERR_TRAILING);
}

static void
test_packet_shorter_than_remaining_length_is_truncated(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x40, 0x02, 0x00),
	    PACKET_ERR_TRUNCATED);
	assert_int_equal(decode_bytes(MQTT_PROTO_V311, NULL, 0),
	    PACKET_ERR_TRUNCATED);
}

/* 5.0 [MQTT-1.5.5-1]: a varint uses the fewest bytes it can. */
static void
test_v5_remaining_length_not_minimal_is_malformed(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V5, 0xC0, 0x80, 0x00),
	    PACKET_ERR_VARINT);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0xC0, 0x80, 0x00), PACKET_OK);
}

static void
test_remaining_length_of_5_bytes_is_malformed(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x30, 0xFF, 0xFF, 0xFF, 0xFF,
	    0x01), PACKET_ERR_VARINT);
}

/* ===== PUBLISH ===== */

/* [MQTT-3.3.1-4] */
static void
test_publish_qos3_is_malformed(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(levels); i++)
		assert_int_equal(DEC(levels[i], 0x36, 5, 0, 1, 't', 0, 1),
		    PACKET_ERR_QOS);
}

/* [MQTT-3.3.1-2] */
static void
test_publish_dup_on_qos0_is_malformed(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x38, 3, 0, 1, 't'),
	    PACKET_ERR_FLAGS);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x38, 4, 0, 1, 't', 0),
	    PACKET_ERR_FLAGS);
	/* 3.1 did not forbid it. */
	assert_int_equal(DEC(MQTT_PROTO_V31, 0x38, 3, 0, 1, 't'), PACKET_OK);
}

/* [MQTT-2.3.1-1] */
static void
test_publish_packet_id_0_is_rejected(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x32, 5, 0, 1, 't', 0, 0),
	    PACKET_ERR_PACKET_ID);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x34, 5, 0, 1, 't', 0, 0),
	    PACKET_ERR_PACKET_ID);
	/* QoS 0 has no packet identifier: these bytes are payload. */
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x30, 5, 0, 1, 't', 0, 0),
	    PACKET_OK);
}

/* [MQTT-3.3.2-1] */
static void
test_publish_topic_must_be_utf8(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x30, 4, 0, 2, 0xC0, 0x80),
	    PACKET_ERR_UTF8);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x30, 4, 0, 2, 'a', 0x00),
	    PACKET_ERR_UTF8);
}

static void
test_publish_payload_is_not_utf8_checked(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x30, 6, 0, 1, 't', 0xC0, 0x80,
	    0x00), PACKET_OK);
}

static void
test_publish_topic_longer_than_packet_is_truncated(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x30, 4, 0, 5, 'a', 'b'),
	    PACKET_ERR_TRUNCATED);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x32, 4, 0, 1, 't', 0),
	    PACKET_ERR_TRUNCATED);
}

/* Topic syntax is the topic module's: wildcards pass the codec. */
static void
test_publish_topic_syntax_is_not_checked_here(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x30, 5, 0, 3, 'a', '/', '#'),
	    PACKET_OK);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x30, 2, 0, 0), PACKET_OK);
}

static void
test_publish_flags_come_from_fields_not_from_flags(void **state)
{
	struct packet	p;
	uint8_t		buf[32];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = PACKET_PUBLISH;
	p.flags = 0x0F;		/* ignored */
	p.u.publish.qos = 1;
	p.u.publish.retain = true;
	p.u.publish.packet_id = 2;
	p.u.publish.topic = (struct mqtt_bytes)B("t");
	assert_int_equal(packet_encode(&p, MQTT_PROTO_V311, buf, sizeof(buf)),
	    7);
	assert_int_equal(buf[0], 0x33);
	p.u.publish.qos = 3;
	assert_int_equal(packet_encoded_size(&p, MQTT_PROTO_V311), 0);
}

/* ===== Acknowledgements ===== */

/* [MQTT-2.3.1-1]: an acknowledgement echoes a non-zero identifier. */
static void
test_ack_packet_id_0_is_rejected(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x40, 2, 0, 0),
	    PACKET_ERR_PACKET_ID);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x50, 2, 0, 0),
	    PACKET_ERR_PACKET_ID);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x62, 2, 0, 0),
	    PACKET_ERR_PACKET_ID);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x70, 2, 0, 0),
	    PACKET_ERR_PACKET_ID);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x90, 3, 0, 0, 0),
	    PACKET_ERR_PACKET_ID);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0xB0, 2, 0, 0),
	    PACKET_ERR_PACKET_ID);
}

/* 3.1.1 section 3.4.1: PUBACK's Remaining Length is 2. */
static void
test_v311_puback_with_extra_bytes_is_trailing(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x40, 3, 0, 1, 0),
	    PACKET_ERR_TRAILING);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x40, 1, 0),
	    PACKET_ERR_TRUNCATED);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0xB0, 3, 0, 1, 0),
	    PACKET_ERR_TRAILING);
}

/* 5.0 section 3.4.2.1: Remaining Length 2 means Success, no properties. */
static void
test_v5_ack_short_forms(void **state)
{
	struct packet	 p;
	uint8_t		*b;

	(void)state;
	b = copy_bytes(BYTES(0x40, 2, 0, 9));
	assert_int_equal(packet_decode(b, 4, MQTT_PROTO_V5, &p, NULL),
	    PACKET_OK);
	assert_int_equal(p.u.ack.reason, RC_SUCCESS);
	assert_int_equal(p.props.count, 0);
	packet_free(&p);
	free(b);

	/* Remaining Length 3: a reason code and no Property Length. */
	b = copy_bytes(BYTES(0x50, 3, 0, 9, 0x10));
	assert_int_equal(packet_decode(b, 5, MQTT_PROTO_V5, &p, NULL),
	    PACKET_OK);
	assert_int_equal(p.u.ack.reason, RC_NO_MATCHING_SUBSCRIBERS);
	packet_free(&p);
	free(b);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x40, 4, 0, 9, 0x00, 0x00),
	    PACKET_OK);
}

static void
test_v5_ack_encodes_short_form_for_success(void **state)
{
	struct packet	p;
	uint8_t		buf[16];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = PACKET_PUBACK;
	p.u.ack.packet_id = 0x1234;
	assert_int_equal(packet_encode(&p, MQTT_PROTO_V5, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, ARR(0x40, 0x02, 0x12, 0x34), 4);
	p.u.ack.reason = RC_NOT_AUTHORIZED;
	assert_int_equal(packet_encode(&p, MQTT_PROTO_V5, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, ARR(0x40, 0x04, 0x12, 0x34, 0x87, 0x00), 6);
}

/* 5.0 section 3.4.2.1 and friends: reason codes each packet may carry. */
static void
test_v5_ack_reason_code_not_allowed_is_rejected(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x40, 3, 0, 1, 0x92),
	    PACKET_ERR_REASON_CODE);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x62, 3, 0, 1, 0x10),
	    PACKET_ERR_REASON_CODE);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x70, 3, 0, 1, 0x92), PACKET_OK);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x50, 3, 0, 1, 0x05),
	    PACKET_ERR_REASON_CODE);
}

static void
test_v5_disconnect_short_forms_and_reasons(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V5, 0xE0, 0), PACKET_OK);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0xE0, 1, 0x04), PACKET_OK);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0xE0, 2, 0x8E, 0), PACKET_OK);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0xE0, 1, 0x18),
	    PACKET_ERR_REASON_CODE);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0xF0, 1, 0x04),
	    PACKET_ERR_REASON_CODE);
	/* Before 5.0 DISCONNECT is empty. */
	assert_int_equal(DEC(MQTT_PROTO_V311, 0xE0, 1, 0x00),
	    PACKET_ERR_TRAILING);
}

/* [MQTT-3.12], [MQTT-3.13]: no variable header, no payload. */
static void
test_pingreq_with_remaining_length_is_trailing(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0xC0, 1, 0), PACKET_ERR_TRAILING);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0xD0, 1, 0), PACKET_ERR_TRAILING);
}

/* ===== CONNACK ===== */

/* 3.1.1 table 3.1: return codes 6..255 are reserved. */
static void
test_v311_connack_reserved_return_code_is_rejected(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x20, 2, 0, 5), PACKET_OK);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x20, 2, 0, 6),
	    PACKET_ERR_REASON_CODE);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x20, 3, 0, 0x04, 0),
	    PACKET_ERR_REASON_CODE);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x20, 3, 0, 0x84, 0), PACKET_OK);
}

/* 3.1.1 section 3.2.2.1, 5.0 [MQTT-3.2.2-1]: bits 7-1 are reserved. */
static void
test_connack_reserved_acknowledge_flags_are_malformed(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x20, 2, 0x02, 0),
	    PACKET_ERR_FLAGS);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x20, 3, 0x80, 0, 0),
	    PACKET_ERR_FLAGS);
}

/* ===== SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK ===== */

/* [MQTT-3.8.3-3] */
static void
test_subscribe_without_topics_is_rejected(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x82, 2, 0, 1),
	    PACKET_ERR_NO_TOPICS);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x82, 3, 0, 1, 0),
	    PACKET_ERR_NO_TOPICS);
}

/* [MQTT-3.10.3-2] */
static void
test_unsubscribe_without_topics_is_rejected(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0xA2, 2, 0, 1),
	    PACKET_ERR_NO_TOPICS);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0xA2, 3, 0, 1, 0),
	    PACKET_ERR_NO_TOPICS);
}

/* [MQTT-2.3.1-1] */
static void
test_subscribe_and_unsubscribe_packet_id_0_is_rejected(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x82, 6, 0, 0, 0, 1, 'a', 0),
	    PACKET_ERR_PACKET_ID);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0xA2, 5, 0, 0, 0, 1, 'a'),
	    PACKET_ERR_PACKET_ID);
}

/* [MQTT-3-8.3-4] (3.1.1), 5.0 section 3.8.3.1 */
static void
test_subscribe_qos3_is_malformed(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < 2; i++)
		assert_int_equal(DEC(levels[i], 0x82, 6, 0, 1, 0, 1, 'a', 3),
		    PACKET_ERR_SUB_OPTIONS);
	/* 5.0 has a Property Length before the list. */
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x82, 7, 0, 1, 0, 0, 1, 'a', 3),
	    PACKET_ERR_SUB_OPTIONS);
}

/* [MQTT-3-8.3-4]: bits 7-2 of the requested QoS byte are reserved. */
static void
test_v311_subscribe_reserved_option_bits_are_malformed(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x82, 6, 0, 1, 0, 1, 'a', 0x04),
	    PACKET_ERR_SUB_OPTIONS);
	assert_int_equal(DEC(MQTT_PROTO_V31, 0x82, 6, 0, 1, 0, 1, 'a', 0x81),
	    PACKET_ERR_SUB_OPTIONS);
}

/* 5.0 [MQTT-3.8.3-5]: bits 7-6 are reserved; Retain Handling 3 too. */
static void
test_v5_subscribe_reserved_option_bits_are_malformed(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x82, 7, 0, 1, 0, 0, 1, 'a', 0x2E),
	    PACKET_OK);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x82, 7, 0, 1, 0, 0, 1, 'a', 0x40),
	    PACKET_ERR_SUB_OPTIONS);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x82, 7, 0, 1, 0, 0, 1, 'a', 0x30),
	    PACKET_ERR_SUB_OPTIONS);
}

/* [MQTT-3.8.3-1], [MQTT-3.10.3-1] */
static void
test_subscribe_and_unsubscribe_filters_must_be_utf8(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x82, 7, 0, 1, 0, 2, 0xED, 0xA0,
	    0), PACKET_ERR_UTF8);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0xA2, 6, 0, 1, 0, 2, 'a', 0),
	    PACKET_ERR_UTF8);
	/* The second filter is bad: nothing is leaked by the first. */
	assert_int_equal(DEC(MQTT_PROTO_V311, 0xA2, 9, 0, 1, 0, 1, 'a', 0, 2,
	    0xC0, 0xAF), PACKET_ERR_UTF8);
}

static void
test_subscribe_entry_without_options_byte_is_truncated(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x82, 5, 0, 1, 0, 1, 'a'),
	    PACKET_ERR_TRUNCATED);
}

/* [MQTT-3.9.3-2] */
static void
test_v311_suback_reserved_return_code_is_rejected(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x90, 4, 0, 1, 0x02, 0x80),
	    PACKET_OK);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x90, 3, 0, 1, 0x03),
	    PACKET_ERR_REASON_CODE);
	assert_int_equal(DEC(MQTT_PROTO_V311, 0x90, 2, 0, 1),
	    PACKET_ERR_NO_TOPICS);
}

static void
test_v5_suback_and_unsuback_reason_codes_are_checked(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x90, 4, 0, 1, 0, 0xA2), PACKET_OK);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x90, 4, 0, 1, 0, 0x11),
	    PACKET_ERR_REASON_CODE);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0xB0, 4, 0, 1, 0, 0x11), PACKET_OK);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0xB0, 4, 0, 1, 0, 0x02),
	    PACKET_ERR_REASON_CODE);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0xB0, 3, 0, 1, 0),
	    PACKET_ERR_NO_TOPICS);
}

/* ===== CONNECT ===== */

/* A 3.1.1 CONNECT with the given flags and payload after Keep Alive. */
static enum packet_err
connect_with(uint8_t flags, const uint8_t *payload, size_t n)
{
	uint8_t		b[64];
	enum packet_err	err;

	assert_true(n + 12 <= sizeof(b));
	memcpy(b, BYTES(0x10, 0, 0, 4, 'M', 'Q', 'T', 'T', 4, 0, 0, 60));
	b[1] = (uint8_t)(10 + n);
	b[9] = flags;
	memcpy(b + 12, payload, n);
	err = decode_bytes(MQTT_PROTO_V311, b, 12 + n);
	return err;
}

#define CONNECT_WITH(flags, ...)	connect_with((flags), BYTES(__VA_ARGS__))

/* [MQTT-3.1.2-1] */
static void
test_connect_unknown_protocol_name_is_rejected(void **state)
{
	(void)state;
	assert_int_equal(DEC(0, 0x10, 12, 0, 4, 'M', 'Q', 'T', 't', 4, 2, 0,
	    60, 0, 0), PACKET_ERR_PROTOCOL_NAME);
	assert_int_equal(DEC(0, 0x10, 12, 0, 4, 'H', 'T', 'T', 'P', 4, 2, 0,
	    60, 0, 0), PACKET_ERR_PROTOCOL_NAME);
}

/* [MQTT-3.1.2-2]: the broker answers CONNACK 0x01, and logs the level. */
static void
test_connect_unsupported_level_fills_name_and_level(void **state)
{
	struct packet	 p;
	uint8_t		*b;

	(void)state;
	/* Level 6, and nothing after it: the header is all that counts. */
	b = copy_bytes(BYTES(0x10, 7, 0, 4, 'M', 'Q', 'T', 'T', 6));
	assert_int_equal(packet_decode(b, 9, 0, &p, NULL),
	    PACKET_ERR_PROTOCOL_LEVEL);
	assert_int_equal(p.type, PACKET_CONNECT);
	assert_int_equal(p.u.connect.level, 6);
	assert_str(&p.u.connect.protocol_name, "MQTT");
	packet_free(&p);
	free(b);

	/* Level 6 with garbage after it. */
	assert_int_equal(DEC(0, 0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 6, 0xFF,
	    0xFF, 0xFF, 0, 9), PACKET_ERR_PROTOCOL_LEVEL);
}

/* The name goes with the level: MQIsdp is 3, MQTT is 4 or 5. */
static void
test_connect_level_not_matching_name_is_rejected(void **state)
{
	(void)state;
	assert_int_equal(DEC(0, 0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 3, 2, 0,
	    60, 0, 0), PACKET_ERR_PROTOCOL_LEVEL);
	assert_int_equal(DEC(0, 0x10, 14, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p',
	    4, 2, 0, 60, 0, 0), PACKET_ERR_PROTOCOL_LEVEL);
	assert_int_equal(DEC(0, 0x10, 14, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p',
	    3, 2, 0, 60, 0, 0), PACKET_OK);
}

/* [MQTT-3.1.2-3] */
static void
test_connect_reserved_flag_is_malformed(void **state)
{
	(void)state;
	assert_int_equal(CONNECT_WITH(0x03, 0, 0), PACKET_ERR_CONNECT_FLAGS);
	assert_int_equal(CONNECT_WITH(0x02, 0, 0), PACKET_OK);
}

/* [MQTT-3.1.2-11], [MQTT-3.1.2-13] */
static void
test_connect_will_qos_without_will_flag_is_malformed(void **state)
{
	(void)state;
	assert_int_equal(CONNECT_WITH(0x08, 0, 0), PACKET_ERR_CONNECT_FLAGS);
	assert_int_equal(CONNECT_WITH(0x10, 0, 0), PACKET_ERR_CONNECT_FLAGS);
}

/* [MQTT-3.1.2-11], [MQTT-3.1.2-15] */
static void
test_connect_will_retain_without_will_flag_is_malformed(void **state)
{
	(void)state;
	assert_int_equal(CONNECT_WITH(0x20, 0, 0), PACKET_ERR_CONNECT_FLAGS);
}

/* [MQTT-3.1.2-14] */
static void
test_connect_will_qos3_is_malformed(void **state)
{
	(void)state;
	assert_int_equal(CONNECT_WITH(0x1C, 0, 0, 0, 1, 't', 0, 0),
	    PACKET_ERR_CONNECT_FLAGS);
	assert_int_equal(CONNECT_WITH(0x14, 0, 0, 0, 1, 't', 0, 0), PACKET_OK);
}

/* [MQTT-3.1.2-22]; 5.0 allows a password alone (section 3.1.2.9). */
static void
test_connect_password_without_username(void **state)
{
	(void)state;
	assert_int_equal(CONNECT_WITH(0x40, 0, 0, 0, 1, 'p'),
	    PACKET_ERR_CONNECT_FLAGS);
	assert_int_equal(DEC(0, 0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x40, 0,
	    60, 0, 0, 0, 0, 1, 'p'), PACKET_OK);
}

/* [MQTT-3.1.3-4], [MQTT-3.1.3-10], [MQTT-3.1.3-11] */
static void
test_connect_strings_must_be_utf8(void **state)
{
	(void)state;
	/* Client id. */
	assert_int_equal(CONNECT_WITH(0x02, 0, 2, 0xC0, 0x80),
	    PACKET_ERR_UTF8);
	/* Will topic. */
	assert_int_equal(CONNECT_WITH(0x06, 0, 0, 0, 1, 0x00, 0, 0),
	    PACKET_ERR_UTF8);
	/* User name. */
	assert_int_equal(CONNECT_WITH(0x82, 0, 0, 0, 1, 0xFF),
	    PACKET_ERR_UTF8);
}

static void
test_connect_password_and_will_payload_are_binary(void **state)
{
	(void)state;
	assert_int_equal(CONNECT_WITH(0xC6, 0, 0, 0, 1, 't', 0, 2, 0x00, 0xFF,
	    0, 1, 'u', 0, 3, 0xC0, 0x80, 0x00), PACKET_OK);
}

/* The client id's content is the broker's to judge (CONNACK 0x02). */
static void
test_connect_client_id_content_is_not_judged_here(void **state)
{
	(void)state;
	assert_int_equal(CONNECT_WITH(0x00, 0, 0), PACKET_OK);
	assert_int_equal(DEC(0, 0x10, 44, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p',
	    3, 2, 0, 60, 0, 30, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j',
	    'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'a', 'b', 'c', 'd',
	    'e', 'f', 'g', 'h', 'i', '/'), PACKET_OK);
}

static void
test_connect_missing_announced_fields_are_truncated(void **state)
{
	(void)state;
	/* Will flag, but no will topic. */
	assert_int_equal(CONNECT_WITH(0x06, 0, 0), PACKET_ERR_TRUNCATED);
	/* User name flag, but no user name. */
	assert_int_equal(CONNECT_WITH(0x82, 0, 0), PACKET_ERR_TRUNCATED);
	/* No client id at all. */
	assert_int_equal(CONNECT_WITH(0x02, 0), PACKET_ERR_TRUNCATED);
	/* A field too many. */
	assert_int_equal(CONNECT_WITH(0x02, 0, 0, 0, 1, 'x'),
	    PACKET_ERR_TRAILING);
}

/* A CONNECT is read at its own level, whatever the connection's. */
static void
test_connect_is_read_at_its_own_level(void **state)
{
	static const uint8_t v5[] = { 0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 5, 2,
	    0, 60, 0, 0, 0 };
	struct packet	 p;
	uint8_t		*b;

	(void)state;
	b = copy_bytes(v5, sizeof(v5));
	assert_int_equal(packet_decode(b, sizeof(v5), MQTT_PROTO_V311, &p, NULL),
	    PACKET_OK);
	assert_int_equal(p.u.connect.level, MQTT_PROTO_V5);
	packet_free(&p);
	free(b);
}

/* packet.h: a CONNECT is written at its own level, else the given one. */
static void
test_connect_encodes_at_its_own_level_or_the_given_one(void **state)
{
	struct packet	p;
	uint8_t		out[32];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = PACKET_CONNECT;
	p.u.connect.level = MQTT_PROTO_V31;
	p.u.connect.protocol_name = (struct mqtt_bytes)B("ignored");
	assert_int_equal(packet_encode(&p, MQTT_PROTO_V5, out, sizeof(out)), 16);
	assert_memory_equal(out, ARR(0x10, 14, 0, 6, 'M', 'Q', 'I', 's', 'd',
	    'p', 3, 0, 0, 0, 0, 0), 16);
	p.u.connect.level = 0;
	assert_int_equal(packet_encode(&p, MQTT_PROTO_V5, out, sizeof(out)), 15);
	assert_memory_equal(out, ARR(0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 5, 0,
	    0, 0, 0, 0, 0), 15);
}

/* ===== MQTT 5 properties ===== */

static void
test_v5_unknown_property_is_rejected(void **state)
{
	(void)state;
	/* 0x04 is not a property id. */
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x30, 6, 0, 1, 't', 2, 0x04, 0),
	    PACKET_ERR_PROPERTY);
	/* A two-byte id: no property that long exists. */
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x30, 7, 0, 1, 't', 3, 0x81, 0x01,
	    0), PACKET_ERR_PROPERTY);
}

/* 5.0 section 2.2.2.2: each property belongs to some packets only. */
static void
test_v5_property_in_wrong_packet_is_rejected(void **state)
{
	(void)state;
	/* Topic Alias in a PUBACK. */
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x40, 7, 0, 1, 0, 3, 0x23, 0, 1),
	    PACKET_ERR_PROPERTY);
	/* Will Delay Interval among CONNECT's own properties. */
	assert_int_equal(DEC(0, 0x10, 18, 0, 4, 'M', 'Q', 'T', 'T', 5, 2, 0,
	    60, 5, 0x18, 0, 0, 0, 5, 0, 0), PACKET_ERR_PROPERTY);
	/* Session Expiry Interval among the Will Properties. */
	assert_int_equal(DEC(0, 0x10, 24, 0, 4, 'M', 'Q', 'T', 'T', 5, 6, 0,
	    60, 0, 0, 0, 5, 0x11, 0, 0, 0, 5, 0, 1, 't', 0, 0),
	    PACKET_ERR_PROPERTY);
	/* Will Delay Interval among the Will Properties is fine. */
	assert_int_equal(DEC(0, 0x10, 24, 0, 4, 'M', 'Q', 'T', 'T', 5, 6, 0,
	    60, 0, 0, 0, 5, 0x18, 0, 0, 0, 5, 0, 1, 't', 0, 0), PACKET_OK);
}

/* 5.0 section 2.2.2.2: a Protocol Error to include one twice. */
static void
test_v5_duplicate_property_is_rejected(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x30, 8, 0, 1, 't', 4, 0x01, 1,
	    0x01, 1), PACKET_ERR_PROPERTY);
	/* User Property may repeat. */
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x30, 18, 0, 1, 't', 14,
	    0x26, 0, 1, 'a', 0, 1, 'b', 0x26, 0, 1, 'a', 0, 1, 'c'), PACKET_OK);
}

/* 3.3.2.3.8: many in a PUBLISH; 3.8.2.1.2: one in a SUBSCRIBE. */
static void
test_v5_subscription_identifier_repeats_only_in_publish(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x30, 8, 0, 1, 't', 4, 0x0B, 1,
	    0x0B, 2), PACKET_OK);
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x82, 11, 0, 1, 4, 0x0B, 1, 0x0B,
	    2, 0, 1, 'a', 0), PACKET_ERR_PROPERTY);
	/* And never 0. */
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x82, 9, 0, 1, 2, 0x0B, 0, 0, 1,
	    'a', 0), PACKET_ERR_PROPERTY);
}

static void
test_v5_property_values_with_rules_are_checked(void **state)
{
	(void)state;
	/* Receive Maximum 0 in CONNECT (3.1.2.11.3). */
	assert_int_equal(DEC(0, 0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 5, 2, 0,
	    60, 3, 0x21, 0, 0, 0, 0), PACKET_ERR_PROPERTY);
	/* Request Problem Information 2 (3.1.2.11.7). */
	assert_int_equal(DEC(0, 0x10, 15, 0, 4, 'M', 'Q', 'T', 'T', 5, 2, 0,
	    60, 2, 0x17, 2, 0, 0), PACKET_ERR_PROPERTY);
	/* Topic Alias 0 (3.3.2.3.4). */
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x30, 7, 0, 1, 't', 3, 0x23, 0,
	    0), PACKET_ERR_PROPERTY);
}

static void
test_v5_property_strings_must_be_utf8(void **state)
{
	(void)state;
	/* Reason String with a surrogate. */
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x40, 10, 0, 1, 0x80, 6, 0x1F, 0,
	    3, 0xED, 0xB0, 0x80), PACKET_ERR_UTF8);
	/* Correlation Data is binary. */
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x30, 9, 0, 1, 't', 5, 0x09, 0, 2,
	    0xED, 0xB0), PACKET_OK);
}

static void
test_v5_property_length_past_packet_is_truncated(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x30, 6, 0, 1, 't', 9, 0x01, 1),
	    PACKET_ERR_TRUNCATED);
	/* A property value running past the Property Length. */
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x30, 9, 0, 1, 't', 2, 0x02, 0, 0,
	    0, 0), PACKET_ERR_TRUNCATED);
	/* Property Length cut inside its varint. */
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x30, 4, 0, 1, 't', 0x80),
	    PACKET_ERR_TRUNCATED);
}

/* 5.0 [MQTT-1.5.5-1] */
static void
test_v5_property_length_not_minimal_is_malformed(void **state)
{
	(void)state;
	assert_int_equal(DEC(MQTT_PROTO_V5, 0x30, 5, 0, 1, 't', 0x80, 0x00),
	    PACKET_ERR_VARINT);
}

static void
test_v5_packet_level_props_are_separate_from_will_props(void **state)
{
	static const uint8_t b[] = { 0x10, 28, 0, 4, 'M', 'Q', 'T', 'T', 5,
	    0x06, 0, 60, 3, 0x21, 0, 9, 0, 0, 5, 0x02, 0, 0, 0, 7, 0, 1, 't',
	    0, 1, 'x' };
	struct packet	 p;
	uint8_t		*c;

	(void)state;
	c = copy_bytes(b, sizeof(b));
	assert_int_equal(packet_decode(c, sizeof(b), 0, &p, NULL), PACKET_OK);
	assert_int_equal(p.props.count, 1);
	assert_int_equal(p.props.items[0].id, PROP_RECEIVE_MAXIMUM);
	assert_int_equal(p.props.items[0].v.num, 9);
	assert_int_equal(p.u.connect.will_props.count, 1);
	assert_int_equal(p.u.connect.will_props.items[0].id,
	    PROP_MESSAGE_EXPIRY_INTERVAL);
	assert_int_equal(p.u.connect.will_props.items[0].v.num, 7);
	assert_str(&p.u.connect.will_payload, "x");
	packet_free(&p);
	free(c);
}

/* ===== The specifications' own bytes ===== */

/*
 * 3.1.1 section 3.1.2.10 "Variable header non normative example":
 * 00 04 'M' 'Q' 'T' 'T' 04 CE 00 0A, followed here by a payload.
 */
static void
test_spec_example_connect_v311(void **state)
{
	static const uint8_t wire[] = {
		0x10, 35,
		0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0xCE, 0x00, 0x0A,
		0x00, 0x03, 'c', 'i', 'd',
		0x00, 0x03, 'w', '/', 't',
		0x00, 0x03, 'b', 'y', 'e',
		0x00, 0x04, 'u', 's', 'e', 'r',
		0x00, 0x02, 'p', 'w',
	};
	struct packet	 p;
	uint8_t		*c, out[64];

	(void)state;
	c = copy_bytes(wire, sizeof(wire));
	assert_int_equal(packet_decode(c, sizeof(wire), 0, &p, NULL),
	    PACKET_OK);
	assert_int_equal(p.u.connect.level, 4);
	assert_true(p.u.connect.clean_start);
	assert_true(p.u.connect.will_flag);
	assert_int_equal(p.u.connect.will_qos, 1);
	assert_false(p.u.connect.will_retain);
	assert_true(p.u.connect.has_username);
	assert_true(p.u.connect.has_password);
	assert_int_equal(p.u.connect.keep_alive, 10);
	assert_str(&p.u.connect.client_id, "cid");
	assert_str(&p.u.connect.will_topic, "w/t");
	assert_str(&p.u.connect.will_payload, "bye");
	assert_str(&p.u.connect.username, "user");
	assert_str(&p.u.connect.password, "pw");
	assert_int_equal(packet_encode(&p, 0, out, sizeof(out)), sizeof(wire));
	assert_memory_equal(out, wire, sizeof(wire));
	packet_free(&p);
	free(c);
}

/* Encodes a packet of type t with nothing set and compares with wire. */
static void
assert_encodes_to(enum packet_type t, uint8_t level, const uint8_t *wire,
    size_t n)
{
	struct packet	p;
	uint8_t		out[16];

	memset(&p, 0, sizeof(p));
	p.type = t;
	assert_int_equal(packet_encode(&p, level, out, sizeof(out)), n);
	assert_memory_equal(out, wire, n);
	assert_int_equal(decode_bytes(level, wire, n), PACKET_OK);
}

/* 3.1.1 sections 3.12, 3.13, 3.14: the whole packets are two bytes. */
static void
test_spec_example_pingreq_pingresp_disconnect(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(levels); i++) {
		assert_encodes_to(PACKET_PINGREQ, levels[i], BYTES(0xC0, 0x00));
		assert_encodes_to(PACKET_PINGRESP, levels[i], BYTES(0xD0, 0x00));
		assert_encodes_to(PACKET_DISCONNECT, levels[i],
		    BYTES(0xE0, 0x00));
	}
}

/* 3.1.1 section 3.3.2.3: topic "a/b", packet identifier 10. */
static void
test_spec_example_publish_variable_header(void **state)
{
	struct packet	p;
	uint8_t		out[16];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = PACKET_PUBLISH;
	p.u.publish.qos = 1;
	p.u.publish.topic = (struct mqtt_bytes)B("a/b");
	p.u.publish.packet_id = 10;
	assert_int_equal(packet_encode(&p, MQTT_PROTO_V311, out, sizeof(out)),
	    9);
	assert_memory_equal(out, ARR(0x32, 0x07, 0x00, 0x03, 'a', '/', 'b',
	    0x00, 0x0A), 9);
}

/* 3.1.1 section 3.8.3: "a/b" at QoS 1, "c/d" at QoS 2. */
static void
test_spec_example_subscribe_payload(void **state)
{
	static const uint8_t wire[] = { 0x82, 14, 0x00, 0x0A,
	    0x00, 0x03, 'a', '/', 'b', 0x01,
	    0x00, 0x03, 'c', '/', 'd', 0x02 };
	struct packet	 p;
	uint8_t		*c;

	(void)state;
	c = copy_bytes(wire, sizeof(wire));
	assert_int_equal(packet_decode(c, sizeof(wire), MQTT_PROTO_V311, &p,
	    NULL), PACKET_OK);
	assert_int_equal(p.u.subscribe.count, 2);
	assert_str(&p.u.subscribe.topics[0].filter, "a/b");
	assert_int_equal(p.u.subscribe.topics[0].qos, 1);
	assert_str(&p.u.subscribe.topics[1].filter, "c/d");
	assert_int_equal(p.u.subscribe.topics[1].qos, 2);
	packet_free(&p);
	free(c);
}

/* 3.1.1 section 3.9.3: return codes 0, 1, 2 and 0x80. */
static void
test_spec_example_suback_payload(void **state)
{
	uint8_t		codes[] = { 0x00, 0x01, 0x02, 0x80 };
	struct packet	p;
	uint8_t		out[16];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = PACKET_SUBACK;
	p.u.suback.packet_id = 10;
	p.u.suback.codes = codes;
	p.u.suback.count = 4;
	assert_int_equal(packet_encode(&p, MQTT_PROTO_V311, out, sizeof(out)),
	    8);
	assert_memory_equal(out, ARR(0x90, 6, 0, 10, 0x00, 0x01, 0x02, 0x80),
	    8);
}

/* 3.1.1 section 3.10.3: filters "a/b" and "c/d". */
static void
test_spec_example_unsubscribe_payload(void **state)
{
	struct mqtt_bytes f[] = { B("a/b"), B("c/d") };
	struct packet	p;
	uint8_t		out[16];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = PACKET_UNSUBSCRIBE;
	p.u.unsubscribe.packet_id = 10;
	p.u.unsubscribe.filters = f;
	p.u.unsubscribe.count = 2;
	assert_int_equal(packet_encode(&p, MQTT_PROTO_V311, out, sizeof(out)),
	    14);
	assert_memory_equal(out, ARR(0xA2, 12, 0, 10, 0, 3, 'a', '/', 'b',
	    0, 3, 'c', '/', 'd'), 14);
}

/* 3.1.1 table 2.4: the bounds of each Remaining Length size. */
static const struct {
	uint32_t	value;
	uint8_t		bytes[4];
	size_t		n;
} varints[] = {
	{ 0, { 0x00 }, 1 },
	{ 127, { 0x7F }, 1 },
	{ 128, { 0x80, 0x01 }, 2 },
	{ 16383, { 0xFF, 0x7F }, 2 },
	{ 16384, { 0x80, 0x80, 0x01 }, 3 },
	{ 2097151, { 0xFF, 0xFF, 0x7F }, 3 },
	{ 2097152, { 0x80, 0x80, 0x80, 0x01 }, 4 },
	{ 268435455, { 0xFF, 0xFF, 0xFF, 0x7F }, 4 },
};

static void
test_spec_table_2_4_varint_encodings(void **state)
{
	uint8_t	out[4];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(varints) / sizeof(varints[0]); i++) {
		memset(out, 0xAA, sizeof(out));
		assert_int_equal(packet_varint_size(varints[i].value),
		    varints[i].n);
		assert_int_equal(packet_varint_encode(varints[i].value, out),
		    varints[i].n);
		assert_memory_equal(out, varints[i].bytes, varints[i].n);
	}
	assert_int_equal(packet_varint_size(268435456), 0);
	assert_int_equal(packet_varint_encode(268435456, out), 0);
}

static void
test_spec_table_2_4_varints_frame_to_their_values(void **state)
{
	struct packet_frame	f;
	uint8_t			b[5];
	size_t			i;

	(void)state;
	for (i = 0; i < sizeof(varints) / sizeof(varints[0]); i++) {
		b[0] = 0x30;
		memcpy(b + 1, varints[i].bytes, varints[i].n);
		assert_int_equal(packet_frame(b, 1 + varints[i].n,
		    MQTT_MAX_PACKET, &f),
		    varints[i].value == 0 ? PACKET_OK : PACKET_NEED_MORE);
		assert_int_equal(f.header_len, 1 + varints[i].n);
		assert_int_equal(f.remaining, varints[i].value);
		assert_int_equal(f.total, 1 + varints[i].n + varints[i].value);
	}
}

/* The Remaining Length of an encoded PUBLISH crosses each bound right. */
static void
test_encoded_remaining_length_crosses_varint_bounds(void **state)
{
	struct packet	 p;
	uint8_t		*payload, *out;
	size_t		 i, n;

	(void)state;
	payload = calloc(1, 2097152);
	out = malloc(2097152 + 8);
	assert_non_null(payload);
	assert_non_null(out);
	memset(&p, 0, sizeof(p));
	p.type = PACKET_PUBLISH;
	p.u.publish.topic = (struct mqtt_bytes)B("t");
	for (i = 0; i < sizeof(varints) / sizeof(varints[0]); i++) {
		/* 3 bytes of topic; the rest is payload. */
		if (varints[i].value < 3 || varints[i].value > 2097152)
			continue;
		p.u.publish.payload.data = payload;
		p.u.publish.payload.len = varints[i].value - 3;
		n = packet_encode(&p, MQTT_PROTO_V311, out, 2097152 + 8);
		assert_int_equal(n, 1 + varints[i].n + varints[i].value);
		assert_memory_equal(out + 1, varints[i].bytes, varints[i].n);
	}
	free(payload);
	free(out);
}

static void
test_encode_refuses_strings_longer_than_65535(void **state)
{
	struct packet	 p;
	uint8_t		*big;

	(void)state;
	big = calloc(1, 65536);
	assert_non_null(big);
	memset(&p, 0, sizeof(p));
	p.type = PACKET_PUBLISH;
	p.u.publish.topic.data = big;
	p.u.publish.topic.len = 65536;
	assert_int_equal(packet_encoded_size(&p, MQTT_PROTO_V311), 0);
	p.u.publish.topic.len = 65535;
	assert_int_equal(packet_encoded_size(&p, MQTT_PROTO_V311),
	    1 + 3 + 2 + 65535);
	free(big);
}

/* ===== Framer ===== */

static const uint8_t framed_publish[] = {
	0x32, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0A, 'h', 'e', 'y'
};

static void
test_frame_needs_more_at_every_split_point(void **state)
{
	struct packet_frame	f;
	uint8_t			*b;
	size_t			i;

	(void)state;
	for (i = 0; i < sizeof(framed_publish); i++) {
		b = copy_bytes(framed_publish, i);
		assert_int_equal(packet_frame(b, i, 1024, &f),
		    PACKET_NEED_MORE);
		/* Once the length is known, the whole size is too. */
		assert_int_equal(f.total, i < 2 ? 0 : sizeof(framed_publish));
		free(b);
	}
	assert_int_equal(packet_frame(framed_publish, sizeof(framed_publish),
	    1024, &f), PACKET_OK);
	assert_int_equal(f.header, 0x32);
	assert_int_equal(f.header_len, 2);
	assert_int_equal(f.remaining, 10);
	assert_int_equal(f.total, sizeof(framed_publish));
}

static void
test_frame_needs_more_inside_a_long_length(void **state)
{
	struct packet_frame f;

	(void)state;
	assert_int_equal(packet_frame(BYTES(0x30, 0x80, 0x80), 1024 * 1024, &f),
	    PACKET_NEED_MORE);
	assert_int_equal(f.total, 0);
	assert_int_equal(packet_frame(NULL, 0, 1024, &f), PACKET_NEED_MORE);
}

static void
test_frame_five_byte_varint_is_malformed(void **state)
{
	struct packet_frame f;

	(void)state;
	assert_int_equal(packet_frame(BYTES(0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F),
	    MQTT_MAX_PACKET, &f), PACKET_ERR_VARINT);
	/* Known as soon as the 4th length byte says another follows. */
	assert_int_equal(packet_frame(BYTES(0x30, 0x80, 0x80, 0x80, 0x80),
	    MQTT_MAX_PACKET, &f), PACKET_ERR_VARINT);
}

static void
test_frame_too_large_before_the_bytes_arrive(void **state)
{
	struct packet_frame f;

	(void)state;
	/* 2 + 200 > 100: refused from the header alone. */
	assert_int_equal(packet_frame(BYTES(0x30, 0xC8, 0x01), 100, &f),
	    PACKET_ERR_TOO_LARGE);
	assert_int_equal(f.total, 3 + 200);
	/* Exactly the maximum is fine. */
	assert_int_equal(packet_frame(BYTES(0xC0, 0x00), 2, &f), PACKET_OK);
	assert_int_equal(packet_frame(BYTES(0x40, 0x02), 3, &f),
	    PACKET_ERR_TOO_LARGE);
	/* The largest Remaining Length is not too large for MQTT_MAX_PACKET. */
	assert_int_equal(packet_frame(BYTES(0x30, 0xFF, 0xFF, 0xFF, 0x7F),
	    MQTT_MAX_PACKET, &f), PACKET_NEED_MORE);
	assert_int_equal(f.total, MQTT_MAX_PACKET);
}

static void
test_frame_two_packets_back_to_back(void **state)
{
	static const uint8_t two[] = { 0x40, 0x02, 0x00, 0x07, 0xC0, 0x00 };
	struct packet_frame	f;
	struct packet		p;

	(void)state;
	assert_int_equal(packet_frame(two, sizeof(two), 1024, &f), PACKET_OK);
	assert_int_equal(f.total, 4);
	assert_int_equal(packet_decode(two, f.total, MQTT_PROTO_V311, &p, NULL),
	    PACKET_OK);
	assert_int_equal(p.type, PACKET_PUBACK);
	assert_int_equal(p.u.ack.packet_id, 7);
	assert_int_equal(packet_frame(two + 4, sizeof(two) - 4, 1024, &f),
	    PACKET_OK);
	assert_int_equal(f.total, 2);
	assert_int_equal(packet_decode(two + 4, 2, MQTT_PROTO_V311, &p, NULL),
	    PACKET_OK);
	assert_int_equal(p.type, PACKET_PINGREQ);
	/* Both at once, decoded as one, are one packet too many. */
	assert_int_equal(decode_bytes(MQTT_PROTO_V311, two, sizeof(two)),
	    PACKET_ERR_TRAILING);
}

/* ===== Robustness ===== */

/* Valid packets of many kinds, for the truncation test. */
static const struct {
	uint8_t		level;
	size_t		n;
	uint8_t		b[48];
} valid[] = {
	{ 4, 38, { 0x10, 36, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xEE, 0, 10, 0, 3,
	    'c', 'i', 'd', 0, 3, 'w', '/', 't', 0, 3, 'b', 'y', 'e', 0, 4, 'u',
	    's', 'e', 'r', 0, 3, 'p', 'w', 'd' } },
	{ 5, 30, { 0x10, 28, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x06, 0, 60, 3, 0x21,
	    0, 9, 0, 0, 5, 0x02, 0, 0, 0, 7, 0, 1, 't', 0, 1, 'x' } },
	{ 3, 16, { 0x10, 14, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 2, 0, 60,
	    0, 0 } },
	{ 5, 10, { 0x20, 8, 1, 0, 5, 0x22, 0, 10, 0x24, 1 } },
	{ 4, 12, { 0x32, 10, 0, 3, 'a', '/', 'b', 0, 10, 'h', 'e', 'y' } },
	{ 5, 16, { 0x34, 14, 0, 3, 'a', '/', 'b', 0, 10, 5, 0x0B, 1, 0x23, 0,
	    1, 'z' } },
	{ 5, 11, { 0x40, 9, 0, 1, 0x10, 5, 0x1F, 0, 2, 'n', 'o' } },
	{ 4, 16, { 0x82, 14, 0, 10, 0, 3, 'a', '/', 'b', 1, 0, 3, 'c', '/',
	    'd', 2 } },
	{ 5, 13, { 0x82, 11, 0, 10, 2, 0x0B, 5, 0, 3, 'a', '/', 'b', 0x1D } },
	{ 5, 7, { 0x90, 5, 0, 10, 0, 0x01, 0x80 } },
	{ 4, 9, { 0xA2, 7, 0, 10, 0, 3, 'a', '/', 'b' } },
	{ 5, 8, { 0xB0, 6, 0, 10, 0, 0x00, 0x11, 0x80 } },
	{ 5, 9, { 0xE0, 7, 0x8B, 5, 0x11, 0, 0, 0, 0 } },
	{ 5, 14, { 0xF0, 12, 0x18, 10, 0x15, 0, 2, 'm', 'e', 0x16, 0, 2, 1,
	    2 } },
};

/* Every strict prefix of a valid packet is an error, never a crash. */
static void
test_every_prefix_of_valid_packets_is_an_error(void **state)
{
	size_t	i, k;

	(void)state;
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		assert_int_equal(decode_bytes(valid[i].level, valid[i].b,
		    valid[i].n), PACKET_OK);
		for (k = 0; k < valid[i].n; k++)
			assert_int_not_equal(decode_bytes(valid[i].level,
			    valid[i].b, k), PACKET_OK);
	}
}

/*
 * The same bodies cut short with the Remaining Length rewritten to match:
 * some cuts are still valid packets (a shorter payload), none may crash
 * or read past the end; at every level, as a fuzzer would try.
 */
static void
test_every_reframed_truncation_decodes_safely(void **state)
{
	uint8_t		b[48];
	size_t		i, k, l;
	enum packet_err	err;

	(void)state;
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		for (k = 2; k <= valid[i].n; k++) {
			memcpy(b, valid[i].b, k);
			b[1] = (uint8_t)(k - 2);
			for (l = 0; l <= 5; l++) {
				err = decode_bytes((uint8_t)l, b, k);
				assert_true(err <= PACKET_ERR_NOMEM);
			}
		}
	}
}

static void
test_packet_free_is_safe_on_a_zeroed_packet(void **state)
{
	struct packet	p;

	(void)state;
	memset(&p, 0, sizeof(p));
	packet_free(&p);
	packet_free(&p);
	packet_free(NULL);
	p.type = PACKET_SUBSCRIBE;
	packet_free(&p);
}

static void
test_names_and_messages(void **state)
{
	(void)state;
	assert_string_equal(packet_type_name(PACKET_PUBLISH), "PUBLISH");
	assert_string_equal(packet_type_name(PACKET_AUTH), "AUTH");
	assert_string_equal(packet_type_name(PACKET_RESERVED), "RESERVED");
	assert_string_equal(packet_type_name((enum packet_type)99), "UNKNOWN");
	assert_string_equal(packet_strerror(PACKET_OK), "success");
	assert_non_null(strstr(packet_strerror(PACKET_ERR_QOS), "QoS"));
	assert_string_equal(packet_strerror((enum packet_err)99),
	    "unknown error");
}

static void
test_decode_reports_a_reason(void **state)
{
	struct packet	 p;
	const char	*why = NULL;
	uint8_t		*b;

	(void)state;
	b = copy_bytes(BYTES(0x36, 3, 0, 1, 't'));
	assert_int_equal(packet_decode(b, 5, MQTT_PROTO_V311, &p, &why),
	    PACKET_ERR_QOS);
	assert_non_null(why);
	assert_non_null(strstr(why, "MQTT-3.3.1-4"));
	free(b);
}

/* ===== UTF-8 [MQTT-1.5.3] ===== */

#define UTF8(...)	utf8_valid(BYTES(__VA_ARGS__))

static void
test_utf8_accepts_ascii_and_empty(void **state)
{
	const char	*s = "the quick brown fox jumps over the lazy dog/+/#";

	(void)state;
	assert_true(utf8_valid((const uint8_t *)"", 0));
	assert_true(utf8_valid((const uint8_t *)s, strlen(s)));
}

static void
test_utf8_accepts_multilingual_strings(void **state)
{
	static const char *const ok[] = {
		"caf\xc3\xa9",				/* café */
		"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", /* Привет */
		"\xe6\xb8\xa9\xe5\xba\xa6/\xe6\x9d\xb1\xe4\xba\xac", /* 温度/東京 */
		"\xf0\x9f\x98\x80 emoji",		/* U+1F600 */
		"A\xf0\xaa\x9b\x94",	/* 3.1.1 section 1.5.3 example */
		"\xef\xbb\xbf\x62om",	/* U+FEFF is kept [MQTT-1.5.3-3] */
		"\xed\x9f\xbf",				/* U+D7FF */
		"\xee\x80\x80",				/* U+E000 */
		"\xf4\x8f\xbf\xbf",			/* U+10FFFF */
		"\x01\x7f",		/* controls: only SHOULD NOT */
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_true(utf8_valid((const uint8_t *)ok[i], strlen(ok[i])));
}

static void
test_utf8_rejects_overlong_forms(void **state)
{
	(void)state;
	assert_false(UTF8(0xC0, 0x80));			/* U+0000 */
	assert_false(UTF8(0xC1, 0xBF));
	assert_false(UTF8(0xE0, 0x80, 0x80));
	assert_false(UTF8(0xE0, 0x9F, 0xBF));
	assert_false(UTF8(0xF0, 0x80, 0x80, 0x80));
	assert_false(UTF8(0xF0, 0x8F, 0xBF, 0xBF));
}

/* [MQTT-1.5.3-1] */
static void
test_utf8_rejects_surrogates(void **state)
{
	(void)state;
	assert_false(UTF8(0xED, 0xA0, 0x80));		/* U+D800 */
	assert_false(UTF8(0xED, 0xBF, 0xBF));		/* U+DFFF */
	assert_false(UTF8('a', 0xED, 0xB0, 0x80, 'b'));
}

static void
test_utf8_rejects_code_points_above_10ffff(void **state)
{
	(void)state;
	assert_false(UTF8(0xF4, 0x90, 0x80, 0x80));	/* U+110000 */
	assert_false(UTF8(0xF5, 0x80, 0x80, 0x80));
	assert_false(UTF8(0xFF));
	assert_false(UTF8(0xFE));
}

/* [MQTT-1.5.3-2] */
static void
test_utf8_rejects_nul(void **state)
{
	(void)state;
	assert_false(UTF8(0x00));
	assert_false(UTF8('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 0x00));
	/* Inside the eight-byte fast path. */
	assert_false(UTF8('a', 'b', 'c', 0x00, 'e', 'f', 'g', 'h', 'i', 'j'));
}

static void
test_utf8_rejects_truncated_sequences(void **state)
{
	(void)state;
	assert_false(UTF8(0xC3));
	assert_false(UTF8(0xE6, 0xB8));
	assert_false(UTF8(0xF0, 0x9F, 0x98));
	assert_false(UTF8('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 0xE6, 0xB8));
	/* A lead byte followed by a non-continuation. */
	assert_false(UTF8(0xC3, 'a'));
	assert_false(UTF8(0xE6, 0xB8, 'a'));
	assert_false(UTF8(0xF0, 0x9F, 0x98, 'a'));
}

static void
test_utf8_rejects_stray_continuation_bytes(void **state)
{
	(void)state;
	assert_false(UTF8(0x80));
	assert_false(UTF8(0xBF));
	assert_false(UTF8('a', 0x80, 'b'));
	assert_false(UTF8(0xC3, 0xA9, 0xA9));
}

/* The fast path and the slow path agree at every alignment. */
static void
test_utf8_long_strings_at_every_offset(void **state)
{
	uint8_t	buf[64];
	size_t	i;

	(void)state;
	for (i = 0; i + 2 <= sizeof(buf); i++) {
		memset(buf, 'x', sizeof(buf));
		buf[i] = 0xC3;
		buf[i + 1] = 0xA9;
		assert_true(utf8_valid(buf, sizeof(buf)));
		buf[i + 1] = 'x';
		assert_false(utf8_valid(buf, sizeof(buf)));
		buf[i] = 0x00;
		assert_false(utf8_valid(buf, sizeof(buf)));
	}
}

/* ===== Runner ===== */

#define RT(name)	cmocka_unit_test(test_##name##_round_trip_v31), \
			cmocka_unit_test(test_##name##_round_trip_v311), \
			cmocka_unit_test(test_##name##_round_trip_v5)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		RT(connect),
		RT(connack),
		RT(publish),
		RT(puback),
		RT(pubrec),
		RT(pubrel),
		RT(pubcomp),
		RT(subscribe),
		RT(suback),
		RT(unsubscribe),
		RT(unsuback),
		RT(pingreq),
		RT(pingresp),
		RT(disconnect),
		cmocka_unit_test(test_auth_round_trip_v5),
		cmocka_unit_test(test_auth_cannot_be_encoded_below_v5),

		cmocka_unit_test(test_type_0_is_reserved),
		cmocka_unit_test(test_auth_is_reserved_below_v5),
		cmocka_unit_test(test_reserved_fixed_header_flags_are_malformed),
		cmocka_unit_test(test_connect_with_fixed_header_flags_is_malformed),
		cmocka_unit_test(test_pubrel_flags_must_be_0010),
		cmocka_unit_test(test_subscribe_flags_must_be_0010),
		cmocka_unit_test(test_unsubscribe_flags_must_be_0010),
		cmocka_unit_test(test_v31_accepts_dup_on_pubrel_and_subscribe),
		cmocka_unit_test(test_bytes_after_the_packet_are_trailing),
		cmocka_unit_test(test_packet_shorter_than_remaining_length_is_truncated),
		cmocka_unit_test(test_v5_remaining_length_not_minimal_is_malformed),
		cmocka_unit_test(test_remaining_length_of_5_bytes_is_malformed),

		cmocka_unit_test(test_publish_qos3_is_malformed),
		cmocka_unit_test(test_publish_dup_on_qos0_is_malformed),
		cmocka_unit_test(test_publish_packet_id_0_is_rejected),
		cmocka_unit_test(test_publish_topic_must_be_utf8),
		cmocka_unit_test(test_publish_payload_is_not_utf8_checked),
		cmocka_unit_test(test_publish_topic_longer_than_packet_is_truncated),
		cmocka_unit_test(test_publish_topic_syntax_is_not_checked_here),
		cmocka_unit_test(test_publish_flags_come_from_fields_not_from_flags),

		cmocka_unit_test(test_ack_packet_id_0_is_rejected),
		cmocka_unit_test(test_v311_puback_with_extra_bytes_is_trailing),
		cmocka_unit_test(test_v5_ack_short_forms),
		cmocka_unit_test(test_v5_ack_encodes_short_form_for_success),
		cmocka_unit_test(test_v5_ack_reason_code_not_allowed_is_rejected),
		cmocka_unit_test(test_v5_disconnect_short_forms_and_reasons),
		cmocka_unit_test(test_pingreq_with_remaining_length_is_trailing),
		cmocka_unit_test(test_v311_connack_reserved_return_code_is_rejected),
		cmocka_unit_test(test_connack_reserved_acknowledge_flags_are_malformed),

		cmocka_unit_test(test_subscribe_without_topics_is_rejected),
		cmocka_unit_test(test_unsubscribe_without_topics_is_rejected),
		cmocka_unit_test(test_subscribe_and_unsubscribe_packet_id_0_is_rejected),
		cmocka_unit_test(test_subscribe_qos3_is_malformed),
		cmocka_unit_test(test_v311_subscribe_reserved_option_bits_are_malformed),
		cmocka_unit_test(test_v5_subscribe_reserved_option_bits_are_malformed),
		cmocka_unit_test(test_subscribe_and_unsubscribe_filters_must_be_utf8),
		cmocka_unit_test(test_subscribe_entry_without_options_byte_is_truncated),
		cmocka_unit_test(test_v311_suback_reserved_return_code_is_rejected),
		cmocka_unit_test(test_v5_suback_and_unsuback_reason_codes_are_checked),

		cmocka_unit_test(test_connect_unknown_protocol_name_is_rejected),
		cmocka_unit_test(test_connect_unsupported_level_fills_name_and_level),
		cmocka_unit_test(test_connect_level_not_matching_name_is_rejected),
		cmocka_unit_test(test_connect_reserved_flag_is_malformed),
		cmocka_unit_test(test_connect_will_qos_without_will_flag_is_malformed),
		cmocka_unit_test(test_connect_will_retain_without_will_flag_is_malformed),
		cmocka_unit_test(test_connect_will_qos3_is_malformed),
		cmocka_unit_test(test_connect_password_without_username),
		cmocka_unit_test(test_connect_strings_must_be_utf8),
		cmocka_unit_test(test_connect_password_and_will_payload_are_binary),
		cmocka_unit_test(test_connect_client_id_content_is_not_judged_here),
		cmocka_unit_test(test_connect_missing_announced_fields_are_truncated),
		cmocka_unit_test(test_connect_is_read_at_its_own_level),
		cmocka_unit_test(test_connect_encodes_at_its_own_level_or_the_given_one),

		cmocka_unit_test(test_v5_unknown_property_is_rejected),
		cmocka_unit_test(test_v5_property_in_wrong_packet_is_rejected),
		cmocka_unit_test(test_v5_duplicate_property_is_rejected),
		cmocka_unit_test(test_v5_subscription_identifier_repeats_only_in_publish),
		cmocka_unit_test(test_v5_property_values_with_rules_are_checked),
		cmocka_unit_test(test_v5_property_strings_must_be_utf8),
		cmocka_unit_test(test_v5_property_length_past_packet_is_truncated),
		cmocka_unit_test(test_v5_property_length_not_minimal_is_malformed),
		cmocka_unit_test(test_v5_packet_level_props_are_separate_from_will_props),

		cmocka_unit_test(test_spec_example_connect_v311),
		cmocka_unit_test(test_spec_example_pingreq_pingresp_disconnect),
		cmocka_unit_test(test_spec_example_publish_variable_header),
		cmocka_unit_test(test_spec_example_subscribe_payload),
		cmocka_unit_test(test_spec_example_suback_payload),
		cmocka_unit_test(test_spec_example_unsubscribe_payload),
		cmocka_unit_test(test_spec_table_2_4_varint_encodings),
		cmocka_unit_test(test_spec_table_2_4_varints_frame_to_their_values),
		cmocka_unit_test(test_encoded_remaining_length_crosses_varint_bounds),
		cmocka_unit_test(test_encode_refuses_strings_longer_than_65535),

		cmocka_unit_test(test_frame_needs_more_at_every_split_point),
		cmocka_unit_test(test_frame_needs_more_inside_a_long_length),
		cmocka_unit_test(test_frame_five_byte_varint_is_malformed),
		cmocka_unit_test(test_frame_too_large_before_the_bytes_arrive),
		cmocka_unit_test(test_frame_two_packets_back_to_back),

		cmocka_unit_test(test_every_prefix_of_valid_packets_is_an_error),
		cmocka_unit_test(test_every_reframed_truncation_decodes_safely),
		cmocka_unit_test(test_packet_free_is_safe_on_a_zeroed_packet),
		cmocka_unit_test(test_names_and_messages),
		cmocka_unit_test(test_decode_reports_a_reason),

		cmocka_unit_test(test_utf8_accepts_ascii_and_empty),
		cmocka_unit_test(test_utf8_accepts_multilingual_strings),
		cmocka_unit_test(test_utf8_rejects_overlong_forms),
		cmocka_unit_test(test_utf8_rejects_surrogates),
		cmocka_unit_test(test_utf8_rejects_code_points_above_10ffff),
		cmocka_unit_test(test_utf8_rejects_nul),
		cmocka_unit_test(test_utf8_rejects_truncated_sequences),
		cmocka_unit_test(test_utf8_rejects_stray_continuation_bytes),
		cmocka_unit_test(test_utf8_long_strings_at_every_offset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
