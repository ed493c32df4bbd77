/*
 * siphash.c: SipHash-1-3 (see siphash.h). One compression round per
 * 8-byte word and three at the end: the keys hashed here are short and
 * the hash never leaves the process, so the cheaper variant is enough.
 */
#include <time.h>
#include <unistd.h>

#include "siphash.h"

#define ROTL64(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND(v0, v1, v2, v3) do {					\
	v0 += v1; v1 = ROTL64(v1, 13); v1 ^= v0; v0 = ROTL64(v0, 32);	\
	v2 += v3; v3 = ROTL64(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = ROTL64(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = ROTL64(v1, 17); v1 ^= v2; v2 = ROTL64(v2, 32);	\
} while (0)

/*
 * The key only has to be unknown to clients. getentropy() can fail in a
 * sandbox; the clock and an address are then a poor but usable key.
 */
void
siphash_key(uint64_t key[2])
{
	struct timespec	 ts;

	if (getentropy(key, 2 * sizeof(key[0])) == 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
	    (uint64_t)ts.tv_sec;
	key[1] = (uint64_t)(uintptr_t)key * 0xbf58476d1ce4e5b9ULL;
}

uint64_t
siphash13(const uint64_t key[2], const void *data, size_t len)
{
	const unsigned char	*p = data;
	uint64_t		 v0, v1, v2, v3, m, b;
	size_t			 i, tail;

	v0 = key[0] ^ 0x736f6d6570736575ULL;
	v1 = key[1] ^ 0x646f72616e646f6dULL;
	v2 = key[0] ^ 0x6c7967656e657261ULL;
	v3 = key[1] ^ 0x7465646279746573ULL;
	for (i = 0; i + 8 <= len; i += 8) {
		/* Little-endian words, as SipHash is defined, on any host
		 * (compilers make this one load where that is the order). */
		for (m = 0, tail = 0; tail < 8; tail++)
			m |= (uint64_t)p[i + tail] << (8 * tail);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	b = (uint64_t)len << 56;
	for (tail = 0; i + tail < len; tail++)
		b |= (uint64_t)p[i + tail] << (8 * tail);
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}
