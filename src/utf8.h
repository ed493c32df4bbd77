/*
 * utf8.h: validation of MQTT UTF-8 encoded strings [MQTT-1.5.3].
 * Pure code.
 */
#ifndef MQTTD_UTF8_H
#define MQTTD_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * True when s[0..len) is well-formed UTF-8 as MQTT requires: no overlong
 * forms, no UTF-16 surrogates U+D800..U+DFFF [MQTT-1.5.3-1], nothing above
 * U+10FFFF, and no U+0000 [MQTT-1.5.3-2].
 */
bool	 utf8_valid(const uint8_t *s, size_t len);

#endif /* MQTTD_UTF8_H */
