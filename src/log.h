/*
 * log.h: levelled logging, one line per event.
 *
 * Lines go to stderr (default), to a file, or to syslog, each with a
 * timestamp and the level. The logger's state is one root that main()
 * sets up with log_init() and tears down with log_close().
 * log_warn() appends strerror(errno); log_warnx() does not.
 */
#ifndef MQTTD_LOG_H
#define MQTTD_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_OFF = 0,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_TRACE
};

#define LOG_PRINTF(f, a) __attribute__((format(printf, f, a)))

/*
 * Starts logging at level to path (NULL or "" for stderr; "syslog" for
 * syslog with ident "mqttd"). Returns 0, or -1 with errno set when the
 * file cannot be opened (logging then goes to stderr).
 */
int		 log_init(enum log_level level, const char *path);
void		 log_close(void);
void		 log_set_level(enum log_level level);
bool		 log_enabled(enum log_level level);

/* Reopens the log file (SIGHUP, after rotation). Returns 0 or -1. */
int		 log_reopen(void);

/* Parses "off|error|warn|info|debug|trace"; returns -1 if none of them. */
int		 log_level_parse(const char *name, enum log_level *level);
const char	*log_level_name(enum log_level level);

void		 log_error(const char *fmt, ...) LOG_PRINTF(1, 2);	/* + strerror */
void		 log_errorx(const char *fmt, ...) LOG_PRINTF(1, 2);
void		 log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);	/* + strerror */
void		 log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void		 log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void		 log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
void		 log_trace(const char *fmt, ...) LOG_PRINTF(1, 2);

/* Logs at error level (with strerror(errno)) and exits 1. Start-up only. */
void		 fatal(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void		 fatalx(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

#endif /* MQTTD_LOG_H */
