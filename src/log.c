/*
 * log.c: the logger. Owns where log lines go (stderr, a file, or syslog),
 * the current level, and the shape of a line:
 *
 *	2026-11-25T22:10:03.123Z mqttd[1234]: warn: message
 *
 * One event is one line, always:
 *   - a line is built whole on the stack and handed to the kernel with a
 *     single write(2) on a descriptor opened with O_APPEND, so lines from
 *     several threads (the store's writer thread logs too) never
 *     interleave and nothing sits in a stdio buffer when the process dies;
 *   - a line longer than LOG_LINE_MAX bytes is cut (never split in two) and
 *     ends in "...", cut at a UTF-8 character boundary; the ": strerror"
 *     tail of log_warn()/log_error() is kept whole;
 *   - newlines and carriage returns inside a message become spaces, other
 *     control characters become '?', so that a client id or a topic cannot
 *     forge log lines or drive a terminal.
 *
 * The state is one static struct, the root that main() sets up with
 * log_init() and tears down with log_close(). log_init(), log_reopen()
 * and log_close() belong to the main thread; the log_*() calls may come
 * from any thread. Before log_init() lines go to stderr at level info.
 *
 * fatal() and fatalx() are logged whatever the level (even "off"): a
 * process that stops must say why.
 *
 * No configuration parsing here (config.c turns "warn" into a level via
 * log_level_parse()), no allocation.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Longest line written, newline included. */
#define LOG_LINE_MAX	1024
/* Longest log file path kept for log_reopen(). */
#define LOG_PATH_MAX	1024
#define LOG_FILE_MODE	0640
#define LOG_CUT_MARK	"..."

enum log_output {
	LOG_TO_STDERR = 0,
	LOG_TO_FILE,
	LOG_TO_SYSLOG
};

static struct {
	atomic_int	 level;		/* enum log_level */
	enum log_output	 output;
	int		 fd;		/* the file's descriptor; -1 unless LOG_TO_FILE */
	char		 path[LOG_PATH_MAX];	/* the file's name, for log_reopen() */
} logger = {
	.level = LOG_LEVEL_INFO,
	.output = LOG_TO_STDERR,
	.fd = -1,
};

/* Indexed by enum log_level. */
static const struct {
	const char	*name;
	int		 priority;	/* syslog(3) */
} log_levels[] = {
	[LOG_LEVEL_OFF] =	{ "off",	LOG_EMERG },
	[LOG_LEVEL_ERROR] =	{ "error",	LOG_ERR },
	[LOG_LEVEL_WARN] =	{ "warn",	LOG_WARNING },
	[LOG_LEVEL_INFO] =	{ "info",	LOG_INFO },
	[LOG_LEVEL_DEBUG] =	{ "debug",	LOG_DEBUG },
	[LOG_LEVEL_TRACE] =	{ "trace",	LOG_DEBUG },
};
#define LOG_LEVEL_COUNT	(sizeof(log_levels) / sizeof(log_levels[0]))

static int	 log_open_file(const char *path);
static void	 log_emit(enum log_level level, bool force, int errnum,
		    const char *fmt, va_list ap)
		    __attribute__((format(printf, 4, 0)));
static size_t	 log_prefix(char *buf, size_t size, enum log_level level);
static size_t	 log_clean(char *dst, const char *src, size_t len);
static size_t	 log_utf8_cut(const char *s, size_t len);
static void	 log_write(int fd, const char *buf, size_t len);

/* ===== The root: start, stop, reopen ===== */

/*
 * Starts logging at level to path: NULL or "" for stderr, "syslog" for
 * syslog(3) with ident "mqttd", anything else a file opened for appending
 * (created 0640 if missing). Replaces what an earlier log_init() set up.
 * Returns 0, or -1 with errno set when the file cannot be opened; lines
 * then go to stderr.
 */
int
log_init(enum log_level level, const char *path)
{
	log_close();
	log_set_level(level);
	if (path == NULL || *path == '\0')
		return 0;
	if (strcmp(path, "syslog") == 0) {
		openlog("mqttd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		logger.output = LOG_TO_SYSLOG;
		return 0;
	}
	if (strlen(path) >= sizeof(logger.path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((logger.fd = log_open_file(path)) == -1)
		return -1;
	strcpy(logger.path, path);	/* length checked above */
	logger.output = LOG_TO_FILE;
	return 0;
}

/* Stops logging to a file or syslog; later lines go to stderr. */
void
log_close(void)
{
	switch (logger.output) {
	case LOG_TO_FILE:
		close(logger.fd);
		break;
	case LOG_TO_SYSLOG:
		closelog();
		break;
	case LOG_TO_STDERR:
		break;
	}
	logger.output = LOG_TO_STDERR;
	logger.fd = -1;
	logger.path[0] = '\0';
}

/*
 * Reopens the log file by name (after logrotate moved it away, on SIGHUP).
 * The new file takes over the old descriptor number with dup2(), so a
 * thread logging meanwhile writes to one file or the other, never to a
 * closed descriptor. Nothing to do for stderr or syslog. Returns 0, or -1
 * with errno set; logging then carries on to the old file.
 */
int
log_reopen(void)
{
	int	 fd, saved;

	if (logger.output != LOG_TO_FILE)
		return 0;
	if ((fd = log_open_file(logger.path)) == -1)
		return -1;
	if (dup2(fd, logger.fd) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	return 0;
}

static int
log_open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    LOG_FILE_MODE);
}

/* ===== Levels ===== */

void
log_set_level(enum log_level level)
{
	if ((unsigned)level >= LOG_LEVEL_COUNT)
		level = LOG_LEVEL_TRACE;
	atomic_store_explicit(&logger.level, (int)level, memory_order_relaxed);
}

/*
 * True if a line at level would be written: lets a caller skip building
 * an expensive argument (a hex dump, a topic list).
 */
bool
log_enabled(enum log_level level)
{
	return level != LOG_LEVEL_OFF && (int)level <=
	    atomic_load_explicit(&logger.level, memory_order_relaxed);
}

/* Parses a level's name, in any case. Returns 0, or -1 for no level. */
int
log_level_parse(const char *name, enum log_level *level)
{
	size_t	 i;

	for (i = 0; i < LOG_LEVEL_COUNT; i++) {
		if (strcasecmp(name, log_levels[i].name) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *
log_level_name(enum log_level level)
{
	if ((unsigned)level >= LOG_LEVEL_COUNT)
		return "unknown";
	return log_levels[level].name;
}

/* ===== The calls ===== */

void
log_error(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, false, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_errorx(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, false, -1, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_WARN, false, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_WARN, false, -1, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_INFO, false, -1, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_DEBUG, false, -1, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_trace(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_TRACE, false, -1, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, true, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, true, -1, fmt, ap);
	va_end(ap);
	exit(1);
}

/* ===== Building and writing one line ===== */

/*
 * Formats one event and writes it as one line. errnum >= 0 appends
 * ": strerror(errnum)". force writes it whatever the level (fatal).
 */
static void
log_emit(enum log_level level, bool force, int errnum, const char *fmt,
    va_list ap)
{
	char	 msg[LOG_LINE_MAX];
	char	 errbuf[128];
	char	 suffix[sizeof(errbuf) + 2];
	char	 line[LOG_LINE_MAX];
	size_t	 len, msglen, suffixlen, room;
	bool	 cut = false;
	int	 n;

	if (!force && !log_enabled(level))
		return;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0) {
		strcpy(msg, "(message could not be formatted)");
		msglen = strlen(msg);
	} else if ((size_t)n >= sizeof(msg)) {
		msglen = sizeof(msg) - 1;
		cut = true;
	} else
		msglen = (size_t)n;

	suffix[0] = '\0';
	if (errnum >= 0) {
		if (strerror_r(errnum, errbuf, sizeof(errbuf)) != 0)
			snprintf(errbuf, sizeof(errbuf), "error %d", errnum);
		snprintf(suffix, sizeof(suffix), ": %s", errbuf);
	}
	suffixlen = strlen(suffix);

	len = log_prefix(line, sizeof(line), level);

	/* What is left for the message, keeping the suffix and "\n" whole. */
	room = sizeof(line) - len - suffixlen - 1;
	if (msglen > room) {
		msglen = room;
		cut = true;
	}
	if (cut) {
		msglen = log_utf8_cut(msg,
		    msglen > room - strlen(LOG_CUT_MARK) ?
		    room - strlen(LOG_CUT_MARK) : msglen);
	}
	len += log_clean(line + len, msg, msglen);
	if (cut) {
		memcpy(line + len, LOG_CUT_MARK, strlen(LOG_CUT_MARK));
		len += strlen(LOG_CUT_MARK);
	}
	len += log_clean(line + len, suffix, suffixlen);

	switch (logger.output) {
	case LOG_TO_SYSLOG:
		line[len] = '\0';
		syslog(log_levels[level].priority, "%s", line);
		break;
	case LOG_TO_FILE:
		line[len++] = '\n';
		log_write(logger.fd, line, len);
		break;
	case LOG_TO_STDERR:
		line[len++] = '\n';
		log_write(STDERR_FILENO, line, len);
		break;
	}
}

/*
 * Writes "2026-11-25T22:10:03.123Z mqttd[1234]: warn: " into buf (syslog
 * has its own time and pid: only "warn: " there). Returns its length.
 */
static size_t
log_prefix(char *buf, size_t size, enum log_level level)
{
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 len = 0;
	int		 n;

	if (logger.output != LOG_TO_SYSLOG) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		len = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(buf + len, size - len, ".%03ldZ mqttd[%ld]: ",
		    ts.tv_nsec / 1000000, (long)getpid());
		if (n > 0)
			len += (size_t)n;
	}
	n = snprintf(buf + len, size - len, "%s: ", log_levels[level].name);
	if (n > 0)
		len += (size_t)n;
	return len;
}

/*
 * Copies len bytes of src to dst, newlines and carriage returns made
 * spaces and other control characters (tab aside) made '?'. Returns len.
 */
static size_t
log_clean(char *dst, const char *src, size_t len)
{
	unsigned char	 c;
	size_t		 i;

	for (i = 0; i < len; i++) {
		c = (unsigned char)src[i];
		if (c == '\n' || c == '\r')
			c = ' ';
		else if ((c < 0x20 && c != '\t') || c == 0x7f)
			c = '?';
		dst[i] = (char)c;
	}
	return len;
}

/*
 * Returns a length <= len that does not end inside a UTF-8 character of
 * s, so a cut line stays valid UTF-8 if the message was.
 */
static size_t
log_utf8_cut(const char *s, size_t len)
{
	size_t	 i = len;

	/* Back over continuation bytes to the lead byte at s[i]. */
	while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
		i--;
	return i;
}

/* Writes buf whole; on an error there is nowhere left to report it. */
static void
log_write(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}
