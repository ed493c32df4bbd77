/* topic.c: to be written */
