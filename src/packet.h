/*
 * packet.h: the MQTT wire format, both directions, for protocol levels
 * 3 (MQTT 3.1, "MQIsdp"), 4 (MQTT 3.1.1) and 5 (MQTT 5.0).
 *
 * Pure code: no sockets, no libevent, no SQL. Three jobs:
 *   - framing: find where one packet ends in a stream of bytes;
 *   - decoding: one whole packet's bytes -> struct packet, with every check
 *     the specifications make on the wire (each cites its normative id);
 *   - encoding: struct packet -> bytes.
 *
 * Decoded strings and binary fields are views (struct mqtt_bytes) into the
 * caller's buffer: they stay valid as long as that buffer does. Arrays
 * (subscription requests, reason codes, properties) are allocated by the
 * decoder and released by packet_free(). Errors are values, never aborts.
 */
#ifndef MQTTD_PACKET_H
#define MQTTD_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQTT_PROTO_V31		3	/* "MQIsdp" */
#define MQTT_PROTO_V311		4	/* "MQTT" */
#define MQTT_PROTO_V5		5	/* "MQTT" */

/* Largest value the Remaining Length varint can carry [MQTT-2.2.3]. */
#define MQTT_MAX_REMAINING	268435455u
/* Largest whole packet: 1 byte header + 4 bytes of length + the above. */
#define MQTT_MAX_PACKET		(MQTT_MAX_REMAINING + 5u)

enum packet_type {
	PACKET_RESERVED = 0,
	PACKET_CONNECT = 1,
	PACKET_CONNACK = 2,
	PACKET_PUBLISH = 3,
	PACKET_PUBACK = 4,
	PACKET_PUBREC = 5,
	PACKET_PUBREL = 6,
	PACKET_PUBCOMP = 7,
	PACKET_SUBSCRIBE = 8,
	PACKET_SUBACK = 9,
	PACKET_UNSUBSCRIBE = 10,
	PACKET_UNSUBACK = 11,
	PACKET_PINGREQ = 12,
	PACKET_PINGRESP = 13,
	PACKET_DISCONNECT = 14,
	PACKET_AUTH = 15		/* MQTT 5 only */
};

/*
 * Results of framing and decoding. Each error is distinct so that the
 * broker can answer as the specification says (e.g. CONNACK 0x01 for an
 * unsupported protocol level) and log a precise reason.
 */
enum packet_err {
	PACKET_OK = 0,
	PACKET_NEED_MORE,		/* framer: not a whole packet yet */
	PACKET_ERR_VARINT,		/* 5th continuation byte in a varint */
	PACKET_ERR_TOO_LARGE,		/* over the configured maximum size */
	PACKET_ERR_TRUNCATED,		/* a field runs past the packet's end */
	PACKET_ERR_TRAILING,		/* bytes left after the last field */
	PACKET_ERR_TYPE,		/* reserved packet type (0; 15 before 5.0) */
	PACKET_ERR_FLAGS,		/* reserved fixed-header flag bits wrong */
	PACKET_ERR_QOS,			/* QoS 3 */
	PACKET_ERR_PACKET_ID,		/* packet identifier 0 where one is required */
	PACKET_ERR_UTF8,		/* malformed UTF-8 or U+0000 in a string */
	PACKET_ERR_PROTOCOL_NAME,	/* CONNECT protocol name not MQTT/MQIsdp */
	PACKET_ERR_PROTOCOL_LEVEL,	/* CONNECT level not 3, 4 or 5 (or not matching the name) */
	PACKET_ERR_CONNECT_FLAGS,	/* reserved bit, will/user/password flag rules */
	PACKET_ERR_NO_TOPICS,		/* SUBSCRIBE/UNSUBSCRIBE with no topic filter */
	PACKET_ERR_SUB_OPTIONS,		/* requested QoS > 2 or reserved option bits */
	PACKET_ERR_PROPERTY,		/* unknown, duplicated or misplaced MQTT 5 property */
	PACKET_ERR_REASON_CODE,		/* a reason code not allowed in this packet */
	PACKET_ERR_NOMEM
};

/* MQTT 3.1/3.1.1 CONNACK return codes [MQTT-3.2.2.3]. */
enum connack_code {
	CONNACK_ACCEPTED = 0x00,
	CONNACK_BAD_PROTOCOL = 0x01,
	CONNACK_ID_REJECTED = 0x02,
	CONNACK_SERVER_UNAVAILABLE = 0x03,
	CONNACK_BAD_CREDENTIALS = 0x04,
	CONNACK_NOT_AUTHORIZED = 0x05
};

/* 3.1.1 SUBACK failure return code [MQTT-3.9.3]. */
#define SUBACK_FAILURE		0x80

/* MQTT 5.0 reason codes [MQTT-2.4]. */
enum reason_code {
	RC_SUCCESS = 0x00,		/* also Normal disconnection, Granted QoS 0 */
	RC_GRANTED_QOS1 = 0x01,
	RC_GRANTED_QOS2 = 0x02,
	RC_DISCONNECT_WITH_WILL = 0x04,
	RC_NO_MATCHING_SUBSCRIBERS = 0x10,
	RC_NO_SUBSCRIPTION_EXISTED = 0x11,
	RC_CONTINUE_AUTH = 0x18,
	RC_REAUTHENTICATE = 0x19,
	RC_UNSPECIFIED = 0x80,
	RC_MALFORMED_PACKET = 0x81,
	RC_PROTOCOL_ERROR = 0x82,
	RC_IMPLEMENTATION_SPECIFIC = 0x83,
	RC_UNSUPPORTED_VERSION = 0x84,
	RC_CLIENT_ID_INVALID = 0x85,
	RC_BAD_USERNAME_PASSWORD = 0x86,
	RC_NOT_AUTHORIZED = 0x87,
	RC_SERVER_UNAVAILABLE = 0x88,
	RC_SERVER_BUSY = 0x89,
	RC_BANNED = 0x8A,
	RC_SERVER_SHUTTING_DOWN = 0x8B,
	RC_BAD_AUTH_METHOD = 0x8C,
	RC_KEEP_ALIVE_TIMEOUT = 0x8D,
	RC_SESSION_TAKEN_OVER = 0x8E,
	RC_TOPIC_FILTER_INVALID = 0x8F,
	RC_TOPIC_NAME_INVALID = 0x90,
	RC_PACKET_ID_IN_USE = 0x91,
	RC_PACKET_ID_NOT_FOUND = 0x92,
	RC_RECEIVE_MAXIMUM_EXCEEDED = 0x93,
	RC_TOPIC_ALIAS_INVALID = 0x94,
	RC_PACKET_TOO_LARGE = 0x95,
	RC_MESSAGE_RATE_TOO_HIGH = 0x96,
	RC_QUOTA_EXCEEDED = 0x97,
	RC_ADMINISTRATIVE_ACTION = 0x98,
	RC_PAYLOAD_FORMAT_INVALID = 0x99,
	RC_RETAIN_NOT_SUPPORTED = 0x9A,
	RC_QOS_NOT_SUPPORTED = 0x9B,
	RC_USE_ANOTHER_SERVER = 0x9C,
	RC_SERVER_MOVED = 0x9D,
	RC_SHARED_SUBS_NOT_SUPPORTED = 0x9E,
	RC_CONNECTION_RATE_EXCEEDED = 0x9F,
	RC_MAXIMUM_CONNECT_TIME = 0xA0,
	RC_SUB_IDS_NOT_SUPPORTED = 0xA1,
	RC_WILDCARD_SUBS_NOT_SUPPORTED = 0xA2
};

/* MQTT 5.0 property identifiers [MQTT-2.2.2.2]. */
enum property_id {
	PROP_PAYLOAD_FORMAT_INDICATOR = 0x01,	/* byte */
	PROP_MESSAGE_EXPIRY_INTERVAL = 0x02,	/* four-byte integer */
	PROP_CONTENT_TYPE = 0x03,		/* UTF-8 string */
	PROP_RESPONSE_TOPIC = 0x08,		/* UTF-8 string */
	PROP_CORRELATION_DATA = 0x09,		/* binary */
	PROP_SUBSCRIPTION_IDENTIFIER = 0x0B,	/* varint */
	PROP_SESSION_EXPIRY_INTERVAL = 0x11,	/* four-byte integer */
	PROP_ASSIGNED_CLIENT_IDENTIFIER = 0x12,	/* UTF-8 string */
	PROP_SERVER_KEEP_ALIVE = 0x13,		/* two-byte integer */
	PROP_AUTHENTICATION_METHOD = 0x15,	/* UTF-8 string */
	PROP_AUTHENTICATION_DATA = 0x16,	/* binary */
	PROP_REQUEST_PROBLEM_INFORMATION = 0x17,/* byte */
	PROP_WILL_DELAY_INTERVAL = 0x18,	/* four-byte integer */
	PROP_REQUEST_RESPONSE_INFORMATION = 0x19,/* byte */
	PROP_RESPONSE_INFORMATION = 0x1A,	/* UTF-8 string */
	PROP_SERVER_REFERENCE = 0x1C,		/* UTF-8 string */
	PROP_REASON_STRING = 0x1F,		/* UTF-8 string */
	PROP_RECEIVE_MAXIMUM = 0x21,		/* two-byte integer */
	PROP_TOPIC_ALIAS_MAXIMUM = 0x22,	/* two-byte integer */
	PROP_TOPIC_ALIAS = 0x23,		/* two-byte integer */
	PROP_MAXIMUM_QOS = 0x24,		/* byte */
	PROP_RETAIN_AVAILABLE = 0x25,		/* byte */
	PROP_USER_PROPERTY = 0x26,		/* UTF-8 string pair */
	PROP_MAXIMUM_PACKET_SIZE = 0x27,	/* four-byte integer */
	PROP_WILDCARD_SUB_AVAILABLE = 0x28,	/* byte */
	PROP_SUB_ID_AVAILABLE = 0x29,		/* byte */
	PROP_SHARED_SUB_AVAILABLE = 0x2A	/* byte */
};

/* A view of bytes: not owned, not NUL-terminated. */
struct mqtt_bytes {
	const uint8_t	*data;
	size_t		 len;
};

/*
 * One property. Which member of the union is used follows from the id:
 * byte, two-byte, four-byte and varint values are in num; strings and
 * binary data in bin; a user property in pair.
 */
struct property {
	uint8_t		 id;
	union {
		uint32_t		num;
		struct mqtt_bytes	bin;
		struct {
			struct mqtt_bytes	name;
			struct mqtt_bytes	value;
		} pair;
	} v;
};

/* Properties of a packet (MQTT 5 only; count 0 otherwise). */
struct property_list {
	struct property	*items;		/* owned by the packet when decoded */
	size_t		 count;
};

struct packet_connect {
	struct mqtt_bytes	protocol_name;	/* "MQTT" or "MQIsdp" */
	uint8_t			level;		/* MQTT_PROTO_* */
	bool			clean_start;	/* Clean Session in 3.1.1 */
	uint16_t		keep_alive;	/* seconds */
	struct mqtt_bytes	client_id;
	bool			will_flag;
	uint8_t			will_qos;
	bool			will_retain;
	struct mqtt_bytes	will_topic;
	struct mqtt_bytes	will_payload;
	struct property_list	will_props;	/* MQTT 5 */
	bool			has_username;
	struct mqtt_bytes	username;
	bool			has_password;
	struct mqtt_bytes	password;
};

struct packet_connack {
	bool		 session_present;
	uint8_t		 code;		/* enum connack_code, or a reason code in 5.0 */
};

struct packet_publish {
	bool		 dup;
	uint8_t		 qos;
	bool		 retain;
	struct mqtt_bytes topic;
	uint16_t	 packet_id;	/* only when qos > 0 */
	struct mqtt_bytes payload;
};

/* PUBACK, PUBREC, PUBREL, PUBCOMP. */
struct packet_ack {
	uint16_t	 packet_id;
	uint8_t		 reason;	/* MQTT 5; RC_SUCCESS otherwise */
};

/* Subscription options byte [MQTT-3.8.3.1]; only qos before 5.0. */
struct sub_request {
	struct mqtt_bytes filter;
	uint8_t		 qos;
	bool		 no_local;
	bool		 retain_as_published;
	uint8_t		 retain_handling;	/* 0, 1 or 2 */
};

struct packet_subscribe {
	uint16_t	 packet_id;
	struct sub_request *topics;	/* owned by the packet when decoded */
	size_t		 count;
};

/* SUBACK and UNSUBACK (UNSUBACK has codes only in 5.0). */
struct packet_suback {
	uint16_t	 packet_id;
	uint8_t		*codes;		/* owned by the packet when decoded */
	size_t		 count;
};

struct packet_unsubscribe {
	uint16_t	 packet_id;
	struct mqtt_bytes *filters;	/* owned by the packet when decoded */
	size_t		 count;
};

/* DISCONNECT and AUTH. */
struct packet_reason {
	uint8_t		 reason;
};

struct packet {
	enum packet_type	 type;
	uint8_t			 flags;		/* low nibble of the fixed header */
	struct property_list	 props;		/* MQTT 5 */
	union {
		struct packet_connect	  connect;
		struct packet_connack	  connack;
		struct packet_publish	  publish;
		struct packet_ack	  ack;		/* PUBACK..PUBCOMP */
		struct packet_subscribe	  subscribe;
		struct packet_suback	  suback;	/* SUBACK, UNSUBACK */
		struct packet_unsubscribe unsubscribe;
		struct packet_reason	  reason;	/* DISCONNECT, AUTH */
	} u;
};

/* What the framer found at the start of a buffer. */
struct packet_frame {
	uint8_t		 header;	/* first byte: type << 4 | flags */
	size_t		 header_len;	/* 1 + bytes of the varint (2..5) */
	size_t		 remaining;	/* Remaining Length */
	size_t		 total;		/* header_len + remaining */
};

/* ===== Framing ===== */

/*
 * Looks at the first len bytes of a stream. Returns PACKET_OK with *frame
 * filled when buf holds at least one whole packet (frame->total bytes),
 * PACKET_NEED_MORE when it does not yet (frame->total is then the whole
 * size if the length is already known, else 0), PACKET_ERR_VARINT for a
 * 5th continuation byte, PACKET_ERR_TOO_LARGE when the whole packet would
 * exceed max_size (checked as soon as the length is known, before its
 * bytes arrive). Never reads past buf + len.
 */
enum packet_err	 packet_frame(const uint8_t *buf, size_t len, size_t max_size,
		    struct packet_frame *frame);

/* ===== Decoding ===== */

/*
 * Decodes one whole packet of len bytes (as found by packet_frame()).
 * level is the connection's protocol level (0 before CONNECT; a CONNECT
 * carries its own). On success *p holds views into buf and arrays the
 * caller releases with packet_free(); on error nothing needs freeing,
 * *why (if not NULL) points to a static human reason and *p is undefined.
 *
 * One exception: PACKET_ERR_PROTOCOL_LEVEL is returned as soon as a
 * CONNECT's protocol name and level are read (the broker answers it with
 * CONNACK 0x01, or reason 0x84 in 5.0, whatever follows), and then
 * p->type, p->u.connect.protocol_name and p->u.connect.level are filled
 * in so that the broker can log what the client asked for.
 * Levels other than 3 and 5 (0 before CONNECT) are read with the 3.1.1
 * rules; a CONNECT is always read with the rules of its own level.
 */
enum packet_err	 packet_decode(const uint8_t *buf, size_t len, uint8_t level,
		    struct packet *p, const char **why);

/* Releases the arrays a decode allocated; the views stay the caller's. */
void		 packet_free(struct packet *p);

/* ===== Encoding ===== */

/*
 * Bytes that packet_encode() will write for p at protocol level level,
 * fixed header included; 0 if p cannot be encoded (too large, bad type).
 * Also 0 for what no receiver may accept: QoS or Will QoS 3, Retain
 * Handling 3, a SUBSCRIBE, UNSUBSCRIBE, SUBACK or 5.0 UNSUBACK with no
 * entries, a string over 65535 bytes, an unknown property id or a value
 * too wide for its property's type. Levels other than 3 and 5 are
 * written as 3.1.1. A CONNECT is written at p->u.connect.level when that
 * is 3, 4 or 5 (else at level), with the protocol name that goes with
 * it; p->u.connect.protocol_name is not read.
 */
size_t		 packet_encoded_size(const struct packet *p, uint8_t level);

/*
 * Writes p into out (capacity cap). Returns the bytes written, or 0 when
 * cap is too small or p cannot be encoded. The flags of the fixed header
 * come from the packet's fields (dup/qos/retain for PUBLISH, the fixed
 * values for PUBREL, SUBSCRIBE, UNSUBSCRIBE), not from p->flags.
 */
size_t		 packet_encode(const struct packet *p, uint8_t level,
		    uint8_t *out, size_t cap);

/* ===== Helpers ===== */

const char	*packet_strerror(enum packet_err err);
const char	*packet_type_name(enum packet_type type);	/* "PUBLISH" */

/* Bytes needed to encode value as a varint (1..4), 0 if too large. */
size_t		 packet_varint_size(uint32_t value);

/*
 * Writes value as a Variable Byte Integer [MQTT-2.2.3] into out, which
 * has room for 4 bytes. Returns the bytes written (1..4), 0 if too large.
 */
size_t		 packet_varint_encode(uint32_t value, uint8_t *out);

#endif /* MQTTD_PACKET_H */
