/* packet.c: to be written */
