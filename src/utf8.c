/*
 * utf8.c: owns the one question "is this byte string an MQTT UTF-8
 * string?" [MQTT-1.5.3] (5.0: [MQTT-1.5.4]). Pure code: no allocation,
 * no I/O, no knowledge of packets.
 *
 * Topic names and client ids are almost always ASCII, so the loop first
 * skips eight ASCII bytes at a time and only decodes multi-byte sequences
 * one by one. The byte ranges accepted after each lead byte are those of
 * the Unicode standard's table of well-formed sequences: written that way,
 * overlong forms, surrogates and values above U+10FFFF are refused by the
 * range of the second byte alone, with no arithmetic on code points.
 */
#include <string.h>

#include "utf8.h"

#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

static size_t	utf8_ascii_run(const uint8_t *, size_t);
static size_t	utf8_sequence(const uint8_t *, size_t);

bool
utf8_valid(const uint8_t *s, size_t len)
{
	size_t	i = 0, n;

	while (i < len) {
		i += utf8_ascii_run(s + i, len - i);
		if (i == len)
			break;
		if ((n = utf8_sequence(s + i, len - i)) == 0)
			return false;
		i += n;
	}
	return true;
}

/*
 * Length of the longest prefix of s made of ASCII bytes other than NUL,
 * looked at eight bytes at a time while that is possible. A word passes
 * when no byte has its high bit set and no byte is zero (the classic
 * "has a zero byte" test: (v - ONES) & ~v & HIGHS).
 */
static size_t
utf8_ascii_run(const uint8_t *s, size_t len)
{
	uint64_t	v;
	size_t		i = 0;

	while (len - i >= 8) {
		memcpy(&v, s + i, sizeof(v));
		if ((v & HIGHS) != 0 || ((v - ONES) & ~v & HIGHS) != 0)
			break;
		i += 8;
	}
	while (i < len && s[i] != 0 && s[i] < 0x80)
		i++;
	return i;
}

/*
 * Checks the sequence that starts at s[0], which is not a plain ASCII
 * byte. Returns its length (1..4), or 0 when it is NUL, a stray
 * continuation byte, an impossible lead byte (C0, C1, F5..FF), truncated,
 * overlong, a surrogate [MQTT-1.5.3-1] or above U+10FFFF.
 */
static size_t
utf8_sequence(const uint8_t *s, size_t len)
{
	uint8_t	lo = 0x80, hi = 0xBF;	/* second byte's range */
	size_t	n, i;

	if (s[0] == 0x00)
		return 0;		/* U+0000 [MQTT-1.5.3-2] */
	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xC2)
		return 0;		/* continuation, or overlong C0/C1 */
	if (s[0] < 0xE0)
		n = 2;
	else if (s[0] < 0xF0) {
		n = 3;
		if (s[0] == 0xE0)
			lo = 0xA0;	/* below U+0800 would be overlong */
		else if (s[0] == 0xED)
			hi = 0x9F;	/* U+D800..U+DFFF are surrogates */
	} else if (s[0] < 0xF5) {
		n = 4;
		if (s[0] == 0xF0)
			lo = 0x90;	/* below U+10000 would be overlong */
		else if (s[0] == 0xF4)
			hi = 0x8F;	/* above U+10FFFF */
	} else
		return 0;

	if (len < n)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return n;
}
