/*
 * fuzz_packet.c: libFuzzer target for src/packet.c and src/utf8.c.
 *
 * The input is a byte stream as a client would send it. The framer cuts
 * it into packets; each packet is copied to a buffer of exactly its size
 * (so that any read past its end is caught by AddressSanitizer) and
 * decoded at every connection level (0, 3, 4, 5). A packet that decodes
 * is encoded again, and that encoding must decode to the same fields and
 * encode to the very same bytes. utf8_valid() is checked against a plain
 * code-point decoder on the raw input.
 *
 * Any disagreement calls abort(), which libFuzzer reports as a crash.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"
#include "utf8.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const uint8_t fuzz_levels[] = { 0, MQTT_PROTO_V31, MQTT_PROTO_V311,
    MQTT_PROTO_V5 };

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

static void
same_bytes(const struct mqtt_bytes *a, const struct mqtt_bytes *b)
{
	CHECK(a->len == b->len);
	CHECK(a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
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
same_props(const struct property_list *a, const struct property_list *b)
{
	size_t	i;

	CHECK(a->count == b->count);
	for (i = 0; i < a->count; i++) {
		CHECK(a->items[i].id == b->items[i].id);
		if (a->items[i].id == PROP_USER_PROPERTY) {
			same_bytes(&a->items[i].v.pair.name,
			    &b->items[i].v.pair.name);
			same_bytes(&a->items[i].v.pair.value,
			    &b->items[i].v.pair.value);
		} else if (prop_is_binary(a->items[i].id))
			same_bytes(&a->items[i].v.bin, &b->items[i].v.bin);
		else
			CHECK(a->items[i].v.num == b->items[i].v.num);
	}
}

static void
same_connect(const struct packet_connect *a, const struct packet_connect *b)
{
	CHECK(a->level == b->level);
	same_bytes(&a->protocol_name, &b->protocol_name);
	CHECK(a->clean_start == b->clean_start);
	CHECK(a->keep_alive == b->keep_alive);
	same_bytes(&a->client_id, &b->client_id);
	CHECK(a->will_flag == b->will_flag);
	CHECK(a->will_qos == b->will_qos);
	CHECK(a->will_retain == b->will_retain);
	same_bytes(&a->will_topic, &b->will_topic);
	same_bytes(&a->will_payload, &b->will_payload);
	same_props(&a->will_props, &b->will_props);
	CHECK(a->has_username == b->has_username);
	same_bytes(&a->username, &b->username);
	CHECK(a->has_password == b->has_password);
	same_bytes(&a->password, &b->password);
}

static void
same_subscribe(const struct packet_subscribe *a,
    const struct packet_subscribe *b)
{
	size_t	i;

	CHECK(a->packet_id == b->packet_id);
	CHECK(a->count == b->count);
	for (i = 0; i < a->count; i++) {
		same_bytes(&a->topics[i].filter, &b->topics[i].filter);
		CHECK(a->topics[i].qos == b->topics[i].qos);
		CHECK(a->topics[i].no_local == b->topics[i].no_local);
		CHECK(a->topics[i].retain_as_published ==
		    b->topics[i].retain_as_published);
		CHECK(a->topics[i].retain_handling ==
		    b->topics[i].retain_handling);
	}
}

static void
same_packet(const struct packet *a, const struct packet *b)
{
	size_t	i;

	CHECK(a->type == b->type);
	same_props(&a->props, &b->props);
	switch (a->type) {
	case PACKET_CONNECT:
		same_connect(&a->u.connect, &b->u.connect);
		break;
	case PACKET_CONNACK:
		CHECK(a->u.connack.session_present ==
		    b->u.connack.session_present);
		CHECK(a->u.connack.code == b->u.connack.code);
		break;
	case PACKET_PUBLISH:
		CHECK(a->u.publish.dup == b->u.publish.dup);
		CHECK(a->u.publish.qos == b->u.publish.qos);
		CHECK(a->u.publish.retain == b->u.publish.retain);
		CHECK(a->u.publish.packet_id == b->u.publish.packet_id);
		same_bytes(&a->u.publish.topic, &b->u.publish.topic);
		same_bytes(&a->u.publish.payload, &b->u.publish.payload);
		break;
	case PACKET_PUBACK:
	case PACKET_PUBREC:
	case PACKET_PUBREL:
	case PACKET_PUBCOMP:
		CHECK(a->u.ack.packet_id == b->u.ack.packet_id);
		CHECK(a->u.ack.reason == b->u.ack.reason);
		break;
	case PACKET_SUBSCRIBE:
		same_subscribe(&a->u.subscribe, &b->u.subscribe);
		break;
	case PACKET_SUBACK:
	case PACKET_UNSUBACK:
		CHECK(a->u.suback.packet_id == b->u.suback.packet_id);
		CHECK(a->u.suback.count == b->u.suback.count);
		CHECK(a->u.suback.count == 0 || memcmp(a->u.suback.codes,
		    b->u.suback.codes, a->u.suback.count) == 0);
		break;
	case PACKET_UNSUBSCRIBE:
		CHECK(a->u.unsubscribe.packet_id == b->u.unsubscribe.packet_id);
		CHECK(a->u.unsubscribe.count == b->u.unsubscribe.count);
		for (i = 0; i < a->u.unsubscribe.count; i++)
			same_bytes(&a->u.unsubscribe.filters[i],
			    &b->u.unsubscribe.filters[i]);
		break;
	case PACKET_DISCONNECT:
	case PACKET_AUTH:
		CHECK(a->u.reason.reason == b->u.reason.reason);
		break;
	default:
		break;
	}
}

/* Encodes a decoded packet and checks that it comes back unchanged. */
static void
re_encode(const struct packet *p, uint8_t level)
{
	struct packet	 q;
	uint8_t		*out, *again;
	size_t		 n;

	n = packet_encoded_size(p, level);
	CHECK(n > 0);
	out = malloc(n);
	again = malloc(n);
	CHECK(out != NULL && again != NULL);
	CHECK(packet_encode(p, level, out, n - 1) == 0);
	CHECK(packet_encode(p, level, out, n) == n);
	CHECK(packet_decode(out, n, level, &q, NULL) == PACKET_OK);
	same_packet(p, &q);
	CHECK(packet_encode(&q, level, again, n) == n);
	CHECK(memcmp(out, again, n) == 0);
	packet_free(&q);
	free(again);
	free(out);
}

static void
check_packet(const uint8_t *data, size_t n)
{
	struct packet	 p;
	const char	*why;
	uint8_t		*copy;
	size_t		 i;
	enum packet_err	 err;

	copy = malloc(n);
	CHECK(copy != NULL);
	memcpy(copy, data, n);
	for (i = 0; i < sizeof(fuzz_levels); i++) {
		why = NULL;
		err = packet_decode(copy, n, fuzz_levels[i], &p, &why);
		CHECK(err <= PACKET_ERR_NOMEM);
		CHECK(err == PACKET_OK || why != NULL);
		CHECK(packet_strerror(err) != NULL);
		if (err == PACKET_OK) {
			CHECK(packet_type_name(p.type) != NULL);
			re_encode(&p, fuzz_levels[i]);
		}
		packet_free(&p);
	}
	free(copy);
}

/*
 * A plain UTF-8 decoder, written from the definition rather than from
 * the byte-range table utf8.c uses, to check it.
 */
static bool
reference_utf8(const uint8_t *s, size_t len)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	uint32_t	cp;
	size_t		i = 0, n, k;

	while (i < len) {
		if (s[i] < 0x80)
			n = 1, cp = s[i];
		else if ((s[i] & 0xE0) == 0xC0)
			n = 2, cp = s[i] & 0x1F;
		else if ((s[i] & 0xF0) == 0xE0)
			n = 3, cp = s[i] & 0x0F;
		else if ((s[i] & 0xF8) == 0xF0)
			n = 4, cp = s[i] & 0x07;
		else
			return false;
		if (len - i < n)
			return false;
		for (k = 1; k < n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if (cp == 0 || cp < min[n] || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n;
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct packet_frame	f;
	size_t			off = 0;

	CHECK(utf8_valid(data, size) == reference_utf8(data, size));

	while (off < size) {
		if (packet_frame(data + off, size - off, MQTT_MAX_PACKET, &f) !=
		    PACKET_OK)
			break;
		CHECK(f.total >= 2 && f.total <= size - off);
		check_packet(data + off, f.total);
		off += f.total;
	}
	return 0;
}
