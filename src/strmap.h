/*
 * strmap.h: a hash table from byte-string keys to pointers.
 *
 * Pure code. Keys are copied into the table; values are the caller's.
 * Used for client id -> session, and for the children of a topic level.
 */
#ifndef MQTTD_STRMAP_H
#define MQTTD_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap;

/* A table under a fresh random hash key. */
struct strmap	*strmap_new(void);
/* A table under the caller's key: for many small tables of one owner,
 * which draws the key once. */
struct strmap	*strmap_new_keyed(const uint64_t key[2]);
/* Frees the table and its keys, not the values. */
void		 strmap_free(struct strmap *map);

void		*strmap_get(const struct strmap *map, const char *key, size_t len);
/* Inserts or replaces; returns the previous value or NULL. Exits on ENOMEM. */
void		*strmap_put(struct strmap *map, const char *key, size_t len,
		    void *value);
/* Removes key; returns its value or NULL when absent. */
void		*strmap_del(struct strmap *map, const char *key, size_t len);
size_t		 strmap_count(const struct strmap *map);

/*
 * Calls fn for every entry, in no particular order. fn may delete the
 * entry it is given, and no other.
 */
typedef void	 strmap_fn(const char *key, size_t len, void *value, void *arg);
void		 strmap_foreach(struct strmap *map, strmap_fn *fn, void *arg);

#endif /* MQTTD_STRMAP_H */
