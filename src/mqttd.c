/*
 * mqttd.c: main(). Owns the process's roots (configuration, logger,
 * event base, broker, store) and wires them together.
 */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "config.h"

int
main(int argc, char **argv)
{
	struct config	 cfg;
	char		 err[512];

	switch (config_from_args(&cfg, argc, argv, err, sizeof(err))) {
	case CONFIG_EXIT:
		return 0;
	case CONFIG_ERROR:
		fprintf(stderr, "mqttd: %s\n", err);
		return 2;
	case CONFIG_OK:
		break;
	}
	if (log_init(cfg.log_level, cfg.log_file) == -1)
		log_warn("cannot open log file %s", cfg.log_file);
	log_info("mqttd %s: the broker is not built yet", PACKAGE_VERSION);
	log_close();
	return 0;
}
