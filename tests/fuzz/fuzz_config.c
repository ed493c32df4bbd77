/*
 * fuzz_config.c: libFuzzer target for config.c's ini reading. The input
 * is a NUL-terminated copy of the fuzzer's bytes, read as mqttd.ini over
 * the defaults. Checks that whatever comes in, the result is either a
 * config within the documented limits or one error line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 cfg;
	char		 err[512];
	char		*text;
	size_t		 i;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	config_defaults(&cfg);
	err[0] = '\0';
	if (config_load_string(&cfg, text, "fuzz.ini", err,
	    sizeof(err)) == 0) {
		if (cfg.address_count < 1 ||
		    cfg.address_count > CONFIG_MAX_ADDRESSES)
			abort();
		for (i = 0; i < cfg.address_count; i++)
			if (memchr(cfg.addresses[i], '\0',
			    sizeof(cfg.addresses[i])) == NULL)
				abort();
		if (cfg.max_qos > 2 ||
		    cfg.max_packet_size < 16 ||
		    cfg.max_packet_size > 268435460 ||
		    cfg.output_high_water < 4096 ||
		    cfg.max_client_id_length < 23 ||
		    cfg.db_path[0] == '\0' ||
		    memchr(cfg.db_path, '\0', sizeof(cfg.db_path)) == NULL ||
		    memchr(cfg.log_file, '\0', sizeof(cfg.log_file)) == NULL ||
		    (unsigned)cfg.log_level > LOG_LEVEL_TRACE ||
		    (unsigned)cfg.sync > STORAGE_SYNC_FULL)
			abort();
	} else if (err[0] == '\0' || strchr(err, '\n') != NULL ||
	    strlen(err) >= sizeof(err))
		abort();

	free(text);
	return 0;
}
