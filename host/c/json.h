/* A minimal JSON reader for the configuration file (RFC 8259: objects, arrays, strings with every
 * escape, numbers, true/false/null). It builds a small tree with malloc (start-up only; never freed:
 * the process keeps its configuration for its lifetime). Strings are NUL-terminated UTF-8; a string
 * containing \u0000 is refused (no config value needs one). Depth is capped at 64. */
#ifndef SIPLING_JSON_H
#define SIPLING_JSON_H

#include <stddef.h>
#include "log.h"

enum json_type { J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT };

typedef struct json json;
struct json {
  enum json_type type;
  double num;        /* J_NUMBER */
  char *str;         /* J_STRING */
  size_t n;          /* J_ARRAY, J_OBJECT: number of items */
  json **items;      /* J_ARRAY, J_OBJECT: values */
  char **keys;       /* J_OBJECT: keys, in file order (duplicates: the last wins, as JSON.parse) */
};

/* Parses text[0..len). Returns the tree, or NULL with a message ("... at position N") in err. */
json *json_parse(const char *text, size_t len, char *err, size_t errcap);

/* JSON.stringify-like compact text of v (for "got ..." in error messages). */
void json_show(strbuf *b, const json *v);

#endif
