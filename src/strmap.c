/*
 * strmap.c: a chained hash table keyed by byte strings (see strmap.h).
 *
 * Buckets double when the load passes 1, so lookups stay O(1) whether a
 * map holds ten sessions or a million. Keys come from clients (client
 * ids, topic levels), so the hash is SipHash with a random key (per table,
 * or per owner of many small tables, like the retained-topic tree):
 * nobody can choose keys that share one chain.
 */
#include <stdlib.h>
#include <string.h>

#include "siphash.h"
#include "strmap.h"
#include "xmalloc.h"

struct strmap_entry {
	struct strmap_entry	*next;
	uint64_t		 hash;
	void			*value;
	size_t			 len;
	char			 key[];
};

struct strmap {
	struct strmap_entry	**buckets;
	size_t			 nbuckets;	/* a power of two */
	size_t			 count;
	uint64_t		 key[2];
};

struct strmap *
strmap_new_keyed(const uint64_t key[2])
{
	struct strmap	*map;

	map = xcalloc(1, sizeof(*map));
	map->nbuckets = 8;
	map->buckets = xcalloc(map->nbuckets, sizeof(*map->buckets));
	map->key[0] = key[0];
	map->key[1] = key[1];
	return map;
}

struct strmap *
strmap_new(void)
{
	uint64_t	 key[2];

	siphash_key(key);
	return strmap_new_keyed(key);
}

void
strmap_free(struct strmap *map)
{
	struct strmap_entry	*e, *next;
	size_t			 i;

	if (map == NULL)
		return;
	for (i = 0; i < map->nbuckets; i++) {
		for (e = map->buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(map->buckets);
	free(map);
}

static uint64_t
strmap_key_hash(const struct strmap *map, const char *key, size_t len)
{
	return siphash13(map->key, key, len);
}

static struct strmap_entry **
strmap_find(const struct strmap *map, const char *key, size_t len,
    uint64_t hash)
{
	struct strmap_entry	**pe;

	pe = &map->buckets[hash & (map->nbuckets - 1)];
	for (; *pe != NULL; pe = &(*pe)->next) {
		if ((*pe)->hash == hash && (*pe)->len == len &&
		    memcmp((*pe)->key, key, len) == 0)
			break;
	}
	return pe;
}

void *
strmap_get(const struct strmap *map, const char *key, size_t len)
{
	struct strmap_entry	**pe;

	pe = strmap_find(map, key, len, strmap_key_hash(map, key, len));
	return *pe ? (*pe)->value : NULL;
}

static void
strmap_grow(struct strmap *map)
{
	struct strmap_entry	**buckets, *e, *next;
	size_t			 n, i;

	n = map->nbuckets * 2;
	buckets = xcalloc(n, sizeof(*buckets));
	for (i = 0; i < map->nbuckets; i++) {
		for (e = map->buckets[i]; e != NULL; e = next) {
			next = e->next;
			e->next = buckets[e->hash & (n - 1)];
			buckets[e->hash & (n - 1)] = e;
		}
	}
	free(map->buckets);
	map->buckets = buckets;
	map->nbuckets = n;
}

void *
strmap_put(struct strmap *map, const char *key, size_t len, void *value)
{
	struct strmap_entry	**pe, *e;
	uint64_t		 hash;
	void			*old;

	hash = strmap_key_hash(map, key, len);
	pe = strmap_find(map, key, len, hash);
	if (*pe != NULL) {
		old = (*pe)->value;
		(*pe)->value = value;
		return old;
	}
	e = xmalloc(sizeof(*e) + len + 1);
	e->hash = hash;
	e->value = value;
	e->len = len;
	memcpy(e->key, key, len);
	e->key[len] = '\0';
	e->next = map->buckets[hash & (map->nbuckets - 1)];
	map->buckets[hash & (map->nbuckets - 1)] = e;
	if (++map->count > map->nbuckets)
		strmap_grow(map);
	return NULL;
}

void *
strmap_del(struct strmap *map, const char *key, size_t len)
{
	struct strmap_entry	**pe, *e;
	void			*value;

	pe = strmap_find(map, key, len, strmap_key_hash(map, key, len));
	if ((e = *pe) == NULL)
		return NULL;
	*pe = e->next;
	value = e->value;
	free(e);
	map->count--;
	return value;
}

size_t
strmap_count(const struct strmap *map)
{
	return map->count;
}

void
strmap_foreach(struct strmap *map, strmap_fn *fn, void *arg)
{
	struct strmap_entry	*e, *next;
	size_t			 i;

	for (i = 0; i < map->nbuckets; i++) {
		for (e = map->buckets[i]; e != NULL; e = next) {
			next = e->next;
			fn(e->key, e->len, e->value, arg);
		}
	}
}
