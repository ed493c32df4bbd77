/*
 * harness_nb.c: non-blocking clients for the tests that hold many
 * connections at once (see harness.h, "Many non-blocking clients").
 *
 * The tests keep their own state machines and poll() loops; this file
 * has what their clients share: opening, sending, and cutting whole
 * packets out of what arrived. Like the rest of the harness it spells
 * packets out as bytes, independent of src/.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

void
nbclient_open(struct nbclient *c, const struct harness_broker *b, int i)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)b->port);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		fail_msg("socket %d: %s", i, strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS)
		fail_msg("connect %d: %s", i, strerror(errno));
}

void
nbclient_check_connected(const struct nbclient *c, int i)
{
	socklen_t elen = sizeof(int);
	int err = 0;

	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen);
	if (err != 0)
		fail_msg("connect %d: %s", i, strerror(err));
}

void
nbclient_send(struct nbclient *c, const uint8_t *buf, size_t len)
{
	struct pollfd pfd = { c->fd, POLLOUT, 0 };
	ssize_t n;

	while (len > 0) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (poll(&pfd, 1, 5000) <= 0)
				fail_msg("send: socket not writable for 5 s");
			continue;
		}
		fail_msg("send: %s", strerror(errno));
	}
}

void
nbclient_packet(struct nbclient *c, uint8_t byte1, const uint8_t *body,
    size_t len)
{
	uint8_t pkt[160];

	assert_true(len < 128);
	pkt[0] = byte1;
	pkt[1] = (uint8_t)len;
	if (len > 0)
		memcpy(pkt + 2, body, len);
	nbclient_send(c, pkt, len + 2);
}

ssize_t
nbclient_recv(struct nbclient *c)
{
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);

	if (n > 0)
		c->len += (size_t)n;
	return n;
}

bool
nbclient_peek(const struct nbclient *c, struct nbpacket *p)
{
	size_t rem = 0, mult = 1, k;

	for (k = 1; k < c->len && k <= 4; k++) {
		rem += (size_t)(c->buf[k] & 0x7f) * mult;
		mult *= 128;
		if ((c->buf[k] & 0x80) != 0)
			continue;
		if (c->len < k + 1 + rem)
			return false;
		p->byte1 = c->buf[0];
		p->body = c->buf + k + 1;
		p->len = rem;
		p->size = k + 1 + rem;
		return true;
	}
	return false;
}

void
nbclient_drop(struct nbclient *c, const struct nbpacket *p)
{
	memmove(c->buf, c->buf + p->size, c->len - p->size);
	c->len -= p->size;
}

void
nb_put_str(uint8_t *b, size_t *off, const char *s)
{
	size_t n = strlen(s);

	b[(*off)++] = (uint8_t)(n >> 8);
	b[(*off)++] = (uint8_t)(n & 0xff);
	memcpy(b + *off, s, n);
	*off += n;
}

size_t
nb_connect_packet(uint8_t *out, const char *client_id)
{
	static const uint8_t head[] = { 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02,
	    0, 0 };
	size_t off = 2 + sizeof(head);

	assert_true(strlen(client_id) <= 64 - off - 2);
	memcpy(out + 2, head, sizeof(head));
	nb_put_str(out, &off, client_id);
	out[0] = 0x10;
	out[1] = (uint8_t)(off - 2);
	return off;
}
