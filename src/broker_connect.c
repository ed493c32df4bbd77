/*
 * broker_connect.c: CONNECT [MQTT-3.1]: protocol checks, client
 * identifier rules, session take-over and resumption, CONNACK.
 */
#include <sys/random.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker_int.h"
#include "config.h"
#include "log.h"
#include "message.h"
#include "session.h"
#include "store.h"
#include "strmap.h"

static void
connack(struct client *c, bool session_present, uint8_t code, uint64_t hold)
{
	struct packet	 p = { .type = PACKET_CONNACK };

	p.u.connack.session_present = session_present;
	p.u.connack.code = code;
	broker_send(c, &p, hold);
}

/* Answers with a CONNACK refusal, then closes [MQTT-3.2.2-5]. */
static int
refuse(struct client *c, uint8_t code, const char *why)
{
	log_info("%s: CONNECT refused: %s", c->peer, why);
	/* [MQTT-3.2.2-4] session present is 0 with a non-zero code */
	connack(c, false, code, 0);
	broker_client_end(c, why, false);
	return -1;
}

/* An unknown protocol name or level: answered as 3.1.1 answers it. */
int
broker_handle_connect_refused(struct client *c, const char *why)
{
	c->level = MQTT_PROTO_V311;
	return refuse(c, CONNACK_BAD_PROTOCOL, why);
}

/* Fills buf with a fresh client identifier no session uses. */
static size_t
generate_client_id(struct broker *b, char *buf, size_t size)
{
	uint64_t	 rnd = 0;
	int		 n;

	do {
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) !=
		    (ssize_t)sizeof(rnd))
			rnd ^= (uint64_t)(uintptr_t)buf ^ b->id_counter;
		n = snprintf(buf, size, "mqttd-%" PRIx64 "-%" PRIx64,
		    ++b->id_counter, rnd & 0xffffffffu);
	} while (strmap_get(b->sessions, buf, (size_t)n) != NULL);
	return (size_t)n;
}

/* Checks the will's topic and keeps the will until the connection ends. */
static int
take_will(struct client *c, const struct packet_connect *pc)
{
	struct broker	*b = c->broker;
	enum topic_err	 terr;

	if (!pc->will_flag)
		return 0;
	terr = topic_name_validate((const char *)pc->will_topic.data,
	    pc->will_topic.len, &b->limits);
	if (terr != TOPIC_OK) {
		/* [MQTT-3.1.2-9] the will topic must be a valid topic name */
		log_info("%s: CONNECT with invalid will topic: %s", c->peer,
		    topic_strerror(terr));
		return -1;
	}
	if (topic_is_sys((const char *)pc->will_topic.data,
	    pc->will_topic.len)) {
		/* As a PUBLISH to $SYS is: accepted, never published. */
		log_info("%s: will on '$SYS' ignored", c->peer);
		return 0;
	}
	c->will = message_new((const char *)pc->will_topic.data,
	    pc->will_topic.len, pc->will_payload.data, pc->will_payload.len,
	    pc->will_qos > b->cfg->max_qos ? b->cfg->max_qos : pc->will_qos,
	    pc->will_retain);
	return 0;
}

/* Ends whatever connection holds the session now [MQTT-3.1.4-2]. */
static void
take_over(struct session *s)
{
	struct client	*old = s->client;

	if (old == NULL)
		return;
	log_info("%s: session taken over by a new connection", old->peer);
	broker_client_end(old, "session taken over", true);
}

int
broker_handle_connect(struct client *c, struct packet *p)
{
	struct broker		*b = c->broker;
	struct packet_connect	*pc = &p->u.connect;
	struct session		*s;
	char			 idbuf[64];
	const char		*id = (const char *)pc->client_id.data;
	size_t			 idlen = pc->client_id.len;
	bool			 present = false;
	uint64_t		 hold = 0;

	if (c->connected || c->session != NULL) {
		/* [MQTT-3.1.0-2] a second CONNECT is a protocol violation */
		log_info("%s: second CONNECT", client_name(c));
		broker_client_end(c, "second CONNECT", true);
		return -1;
	}
	c->level = pc->level;
	if (pc->level == MQTT_PROTO_V5) {
		/* Answered as a 3.1.1 server answers an unknown level. */
		c->level = MQTT_PROTO_V311;
		return refuse(c, CONNACK_BAD_PROTOCOL,
		    "MQTT 5.0 is not supported yet");
	}
	if (idlen == 0) {
		/* [MQTT-3.1.3-8] an empty id needs a clean session */
		if (!pc->clean_start || pc->level == MQTT_PROTO_V31 ||
		    !b->cfg->allow_zero_length_client_id)
			return refuse(c, CONNACK_ID_REJECTED,
			    "empty client id without clean session");
		/* [MQTT-3.1.3-6] the server assigns a unique id */
		idlen = generate_client_id(b, idbuf, sizeof(idbuf));
		id = idbuf;
	}
	if (idlen > b->cfg->max_client_id_length ||
	    (pc->level == MQTT_PROTO_V31 && idlen > 23))
		return refuse(c, CONNACK_ID_REJECTED, "client id too long");
	if (take_will(c, pc) == -1) {
		broker_client_end(c, "invalid will topic", false);
		return -1;
	}

	if ((s = strmap_get(b->sessions, id, idlen)) != NULL) {
		/* Ending the old connection may end a clean session too. */
		take_over(s);
		s = strmap_get(b->sessions, id, idlen);
	}
	if (s != NULL) {
		if (pc->clean_start || s->clean) {
			/* [MQTT-3.1.2-6] a clean session starts afresh */
			broker_session_destroy(b, s);
			s = NULL;
		} else
			present = true;		/* [MQTT-3.2.2-2] */
	}
	if (s == NULL) {
		s = session_new(id, idlen);
		s->clean = pc->clean_start;
		strmap_put(b->sessions, s->client_id, s->client_id_len, s);
	}
	s->level = pc->level;
	s->client = c;
	c->session = s;
	c->keep_alive = pc->keep_alive;
	c->connected = true;
	b->stats.clients_connected++;
	if (!s->clean)
		hold = store_session_put(b->store, s);

	log_info("%s: connected from %s (MQTT %s, %s session%s, keep-alive %us)",
	    s->client_id, c->peer, pc->level == MQTT_PROTO_V31 ? "3.1" : "3.1.1",
	    s->clean ? "clean" : "persistent", present ? " resumed" : "",
	    pc->keep_alive);
	/* [MQTT-3.2.2-1] [MQTT-3.2.2-2] */
	connack(c, present, CONNACK_ACCEPTED, hold);
	b->io->connected(c->conn, pc->keep_alive);
	if (present)
		broker_session_resend(b, s);
	broker_session_drain(b, s);
	return 0;
}
