/*
 * config.h: mqttd's settings, read from mqttd.ini and the command line
 * into one validated struct.
 *
 * Order of precedence: built-in defaults, then the file named by -c (if
 * any), then the other command-line flags. Every key of the file is
 * documented, with its default, in conf/mqttd.ini.
 */
#ifndef MQTTD_CONFIG_H
#define MQTTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define CONFIG_MAX_ADDRESSES	8
#define CONFIG_PATH_MAX		1024

enum storage_sync {
	STORAGE_SYNC_OFF = 0,
	STORAGE_SYNC_NORMAL,
	STORAGE_SYNC_FULL
};

struct config {
	/* [listener] */
	char		 addresses[CONFIG_MAX_ADDRESSES][64];	/* -i; "127.0.0.1" */
	size_t		 address_count;
	uint16_t	 port;			/* -p; 1883 */
	unsigned	 max_connections;	/* 10000 */
	unsigned	 connect_timeout;	/* -t; seconds to send CONNECT: 10 */

	/* [session] */
	unsigned	 max_inflight;		/* 20 */
	unsigned	 max_queued_messages;	/* per session: 1000 */
	uint64_t	 max_queued_bytes;	/* per session: 0 = no limit */
	bool		 queue_qos0;		/* queue QoS 0 for offline sessions: false */
	unsigned	 retry_interval;	/* -r; seconds: 20 */
	unsigned	 max_retries;		/* -m; 0 = unlimited */
	uint8_t		 max_qos;		/* granted QoS cap: 2 */
	bool		 will_on_shutdown;	/* publish wills on clean shutdown: false */
	bool		 allow_zero_length_client_id;	/* true */

	/* [limits] */
	uint32_t	 max_packet_size;	/* whole packet, bytes: 1 MiB */
	unsigned	 max_topic_length;	/* bytes: 65535 */
	unsigned	 max_topic_levels;	/* 128 */
	unsigned	 max_subscriptions_per_client;	/* 1000 */
	unsigned	 max_client_id_length;	/* bytes: 256 */
	uint64_t	 output_high_water;	/* bytes buffered per client: 1 MiB */

	/* [storage] */
	char		 db_path[CONFIG_PATH_MAX];	/* "mqttd.db" */
	enum storage_sync sync;			/* full */
	unsigned	 checkpoint_pages;	/* WAL auto-checkpoint: 1000 */
	unsigned	 max_batch;		/* changes per commit: 10000 */
	unsigned	 max_pending;		/* changes queued before back-pressure: 100000 */

	/* [log] */
	enum log_level	 log_level;		/* -v; info */
	char		 log_file[CONFIG_PATH_MAX];	/* "" = stderr, "syslog" */

	/* where the settings came from, for messages */
	char		 config_path[CONFIG_PATH_MAX];	/* "" when no file */
};

enum config_result {
	CONFIG_OK = 0,		/* go on and run */
	CONFIG_EXIT,		/* --help or --version was printed: exit 0 */
	CONFIG_ERROR		/* err holds one line; exit non-zero */
};

/* Fills cfg with the built-in defaults. */
void		 config_defaults(struct config *cfg);

/*
 * Reads an ini file over cfg. On error returns -1 and writes one line to
 * err naming the file, line and key ("mqttd.ini:12: [session] max_inflight:
 * expected a number from 1 to 65535, got 'abc'").
 */
int		 config_load_file(struct config *cfg, const char *path,
		    char *err, size_t errlen);

/* The same from a string (tests, fuzzing); name stands for the file. */
int		 config_load_string(struct config *cfg, const char *text,
		    const char *name, char *err, size_t errlen);

/*
 * The whole start-up sequence: defaults, the -c file, then the flags.
 * --help and --version print to out (stdout) and return CONFIG_EXIT.
 * progname is used in usage text.
 */
enum config_result config_from_args(struct config *cfg, int argc,
		    char **argv, char *err, size_t errlen);

/* "full" etc.; the reverse of what the [storage] sync key accepts. */
const char	*config_sync_name(enum storage_sync sync);

#endif /* MQTTD_CONFIG_H */
