/*
 * siphash.h: SipHash-1-3, the keyed hash for tables whose keys come from
 * clients (client ids, topic levels).
 *
 * With a public hash a client could choose keys that all land in one
 * chain and make every lookup, its own and everyone else's, walk it. With
 * a key it does not know, it cannot.
 */
#ifndef MQTTD_SIPHASH_H
#define MQTTD_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* Fills key with a fresh random key (the clock and an address if the
 * system has no entropy to give). */
void		 siphash_key(uint64_t key[2]);

uint64_t	 siphash13(const uint64_t key[2], const void *data, size_t len);

#endif /* MQTTD_SIPHASH_H */
