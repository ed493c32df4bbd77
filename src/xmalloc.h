/*
 * xmalloc.h: allocation that cannot return NULL. On exhaustion the
 * process logs one line and exits: used where running out of memory
 * leaves no sane way on (start-up, small bookkeeping). Paths where a
 * client's input decides the size use plain malloc and refuse the client.
 */
#ifndef MQTTD_XMALLOC_H
#define MQTTD_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t size);
void	*xcalloc(size_t nmemb, size_t size);
void	*xreallocarray(void *ptr, size_t nmemb, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
void	*xmemdup(const void *p, size_t n);

#endif /* MQTTD_XMALLOC_H */
