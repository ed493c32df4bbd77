/*
 * stats.c: what mqttd-bench measures and how it reads the broker.
 *
 * Owns the latency histogram, the per-publisher sequence maps that tell
 * loss from duplication, the clock, and the readers of /proc/PID/stat and
 * /proc/PID/status for the broker's CPU time and resident memory. No
 * sockets and no MQTT here.
 */
#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* ===== Latency histogram ===== */

static size_t
hist_bucket(uint64_t us)
{
	int	 msb, shift;

	if (us < 1024)
		return (size_t)us;
	if (us >= (1ULL << 49))
		us = (1ULL << 49) - 1;
	msb = 63 - __builtin_clzll(us);
	shift = msb - 9;
	return 1024 + (size_t)(msb - 10) * HIST_SUB +
	    (size_t)((us >> shift) - HIST_SUB);
}

/* The lowest value that falls into bucket b. */
static uint64_t
hist_bucket_value(size_t b)
{
	size_t	 k, mant;

	if (b < 1024)
		return b;
	k = (b - 1024) / HIST_SUB;
	mant = (b - 1024) % HIST_SUB + HIST_SUB;
	return (uint64_t)mant << (k + 1);
}

void
hist_add(struct hist *h, uint64_t us)
{
	h->buckets[hist_bucket(us)]++;
	h->count++;
	if (us > h->max)
		h->max = us;
}

/* The value below which a fraction q of the samples lie; 0 if none. */
uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t	 want, seen = 0;
	size_t		 b;

	if (h->count == 0)
		return 0;
	want = (uint64_t)(q * (double)h->count);
	if (want == 0)
		want = 1;
	for (b = 0; b < HIST_BUCKETS; b++) {
		seen += h->buckets[b];
		if (seen >= want) {
			uint64_t v = hist_bucket_value(b);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

void
hist_merge(struct hist *dst, const struct hist *src)
{
	size_t	 b;

	for (b = 0; b < HIST_BUCKETS; b++)
		dst->buckets[b] += src->buckets[b];
	dst->count += src->count;
	if (src->max > dst->max)
		dst->max = src->max;
}

/* ===== Sequence maps ===== */

/*
 * Marks seq as seen. The bitmap doubles when seq is past its end, so the
 * cost per message is amortised constant and no allocation happens on
 * most calls. Returns false for a sequence number seen before.
 */
bool
seqmap_mark(struct seqmap *m, uint64_t seq)
{
	size_t	 byte = (size_t)(seq >> 3);
	uint8_t	 bit = (uint8_t)(1u << (seq & 7));

	if (byte >= m->nbytes) {
		size_t	 n = m->nbytes ? m->nbytes : 4096;
		uint8_t	*p;

		while (n <= byte)
			n *= 2;
		if ((p = realloc(m->bits, n)) == NULL) {
			fprintf(stderr, "mqttd-bench: out of memory\n");
			exit(2);
		}
		memset(p + m->nbytes, 0, n - m->nbytes);
		m->bits = p;
		m->nbytes = n;
	}
	if (m->bits[byte] & bit) {
		m->dup++;
		return false;
	}
	m->bits[byte] |= bit;
	m->distinct++;
	return true;
}

void
seqmap_free(struct seqmap *m)
{
	free(m->bits);
	memset(m, 0, sizeof(*m));
}

/* ===== Clocks and /proc ===== */

uint64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * utime + stime of every thread of process pid, from /proc/PID/stat
 * (fields 14 and 15, in clock ticks). The command name in field 2 may
 * hold spaces and parentheses, so parsing starts after its last ')'.
 */
double
proc_cpu_seconds(int pid)
{
	char		 path[64], buf[1024], *p;
	unsigned long	 ut, st;
	FILE		*f;
	size_t		 n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Whether pid is a running (not a zombie) process. */
bool
proc_alive(int pid)
{
	char	 path[64], buf[512], *p;
	FILE	*f;
	size_t	 n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return false;
	return p[2] != 'Z' && p[2] != 'X';
}

long
proc_rss_kib(int pid)
{
	char	 path[64], line[256];
	long	 kib = -1;
	FILE	*f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kib;
}

double
self_cpu_seconds(void)
{
	struct rusage	 ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return -1;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}
