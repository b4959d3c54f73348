/* Minimal JSON reader (see json.h). Recursive descent over a byte range. */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct {
  const char *s;
  size_t len, pos;
  char *err;
  size_t errcap;
  int failed;
} parser;

static void *xalloc(size_t n) {
  void *p = calloc(1, n ? n : 1);
  if (!p) {
    fputs("sipling: out of memory\n", stderr);
    exit(1);
  }
  return p;
}

static void fail(parser *p, const char *what) {
  if (p->failed) return;
  p->failed = 1;
  if (p->pos >= p->len) snprintf(p->err, p->errcap, "%s at end of input", what);
  else snprintf(p->err, p->errcap, "%s at position %zu", what, p->pos);
}

static void ws(parser *p) {
  while (p->pos < p->len) {
    char c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

static json *node(enum json_type t) {
  json *v = xalloc(sizeof *v);
  v->type = t;
  return v;
}

static int hex4(parser *p, unsigned *out) {
  if (p->len - p->pos < 4) return 0;
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p->s[p->pos + i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return 0;
  }
  p->pos += 4;
  *out = v;
  return 1;
}

static void put_utf8(strbuf *b, unsigned cp) {
  if (cp < 0x80) sb_putc(b, (char)cp);
  else if (cp < 0x800) sb_putc(b, (char)(0xC0 | cp >> 6)), sb_putc(b, (char)(0x80 | (cp & 0x3F)));
  else if (cp < 0x10000)
    sb_putc(b, (char)(0xE0 | cp >> 12)), sb_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F))),
        sb_putc(b, (char)(0x80 | (cp & 0x3F)));
  else
    sb_putc(b, (char)(0xF0 | cp >> 18)), sb_putc(b, (char)(0x80 | ((cp >> 12) & 0x3F))),
        sb_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F))), sb_putc(b, (char)(0x80 | (cp & 0x3F)));
}

/* At the opening quote. Returns a malloc'd NUL-terminated string or NULL. */
static char *string(parser *p) {
  strbuf b = {0};
  p->pos++;
  for (;;) {
    if (p->pos >= p->len) {
      fail(p, "unterminated string");
      free(b.p);
      return NULL;
    }
    unsigned char c = (unsigned char)p->s[p->pos];
    if (c == '"') {
      p->pos++;
      break;
    }
    if (c < 0x20) {
      fail(p, "control character in string");
      free(b.p);
      return NULL;
    }
    if (c != '\\') {
      sb_putc(&b, (char)c);
      p->pos++;
      continue;
    }
    p->pos++;
    if (p->pos >= p->len) continue; /* reported as unterminated */
    char e = p->s[p->pos++];
    unsigned cp;
    switch (e) {
      case '"': sb_putc(&b, '"'); break;
      case '\\': sb_putc(&b, '\\'); break;
      case '/': sb_putc(&b, '/'); break;
      case 'b': sb_putc(&b, '\b'); break;
      case 'f': sb_putc(&b, '\f'); break;
      case 'n': sb_putc(&b, '\n'); break;
      case 'r': sb_putc(&b, '\r'); break;
      case 't': sb_putc(&b, '\t'); break;
      case 'u':
        if (!hex4(p, &cp)) {
          fail(p, "bad \\u escape");
          free(b.p);
          return NULL;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF && p->len - p->pos >= 6 && p->s[p->pos] == '\\' &&
            p->s[p->pos + 1] == 'u') {
          size_t save = p->pos;
          unsigned lo;
          p->pos += 2;
          if (hex4(p, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          else p->pos = save;
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD; /* lone surrogate */
        if (cp == 0) {
          fail(p, "\\u0000 in string");
          free(b.p);
          return NULL;
        }
        put_utf8(&b, cp);
        break;
      default:
        p->pos--;
        fail(p, "bad escape in string");
        free(b.p);
        return NULL;
    }
  }
  sb_putc(&b, '\0');
  return b.p;
}

static json *value(parser *p, int depth);

static json *number(parser *p) {
  size_t start = p->pos;
  const char *s = p->s;
  size_t i = p->pos;
  if (i < p->len && s[i] == '-') i++;
  if (i < p->len && s[i] == '0') i++;
  else if (i < p->len && s[i] >= '1' && s[i] <= '9')
    while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
  else {
    fail(p, "unexpected token");
    return NULL;
  }
  if (i < p->len && s[i] == '.') {
    i++;
    if (!(i < p->len && s[i] >= '0' && s[i] <= '9')) {
      p->pos = i;
      fail(p, "bad number");
      return NULL;
    }
    while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
  }
  if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < p->len && (s[i] == '+' || s[i] == '-')) i++;
    if (!(i < p->len && s[i] >= '0' && s[i] <= '9')) {
      p->pos = i;
      fail(p, "bad number");
      return NULL;
    }
    while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
  }
  char tmp[64];
  size_t n = i - start;
  json *v = node(J_NUMBER);
  if (n < sizeof tmp) {
    memcpy(tmp, s + start, n);
    tmp[n] = 0;
    v->num = strtod(tmp, NULL);
  } else {
    char *big = xalloc(n + 1);
    memcpy(big, s + start, n);
    v->num = strtod(big, NULL);
    free(big);
  }
  p->pos = i;
  return v;
}

static int literal(parser *p, const char *word) {
  size_t n = strlen(word);
  if (p->len - p->pos >= n && memcmp(p->s + p->pos, word, n) == 0) {
    p->pos += n;
    return 1;
  }
  return 0;
}

static void push(json *c, char *k, json *v) {
  if (c->type == J_OBJECT) {
    for (size_t i = 0; i < c->n; i++)
      if (strcmp(c->keys[i], k) == 0) { /* duplicate key: the last one wins, as JSON.parse */
        free(k);
        c->items[i] = v;
        return;
      }
  }
  if ((c->n & (c->n - 1)) == 0) { /* grow at powers of two */
    size_t cap = c->n ? c->n * 2 : 4;
    c->items = realloc(c->items, cap * sizeof *c->items);
    if (c->type == J_OBJECT) c->keys = realloc(c->keys, cap * sizeof *c->keys);
    if (!c->items || (c->type == J_OBJECT && !c->keys)) {
      fputs("sipling: out of memory\n", stderr);
      exit(1);
    }
  }
  if (c->type == J_OBJECT) c->keys[c->n] = k;
  c->items[c->n++] = v;
}

static json *container(parser *p, int depth, int obj) {
  json *c = node(obj ? J_OBJECT : J_ARRAY);
  char close = obj ? '}' : ']';
  p->pos++;
  ws(p);
  if (p->pos < p->len && p->s[p->pos] == close) {
    p->pos++;
    return c;
  }
  for (;;) {
    char *k = NULL;
    ws(p);
    if (obj) {
      if (p->pos >= p->len || p->s[p->pos] != '"') {
        fail(p, "expected a string key");
        return NULL;
      }
      if (!(k = string(p))) return NULL;
      ws(p);
      if (p->pos >= p->len || p->s[p->pos] != ':') {
        fail(p, "expected ':'");
        return NULL;
      }
      p->pos++;
    }
    json *v = value(p, depth + 1);
    if (!v) return NULL;
    push(c, k, v);
    ws(p);
    if (p->pos < p->len && p->s[p->pos] == ',') {
      p->pos++;
      continue;
    }
    if (p->pos < p->len && p->s[p->pos] == close) {
      p->pos++;
      return c;
    }
    fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    return NULL;
  }
}

static json *value(parser *p, int depth) {
  if (depth > MAX_DEPTH) {
    fail(p, "nested too deeply");
    return NULL;
  }
  ws(p);
  if (p->pos >= p->len) {
    fail(p, "unexpected end");
    return NULL;
  }
  char c = p->s[p->pos];
  if (c == '{') return container(p, depth, 1);
  if (c == '[') return container(p, depth, 0);
  if (c == '"') {
    char *s = string(p);
    if (!s) return NULL;
    json *v = node(J_STRING);
    v->str = s;
    return v;
  }
  if (literal(p, "true")) return node(J_TRUE);
  if (literal(p, "false")) return node(J_FALSE);
  if (literal(p, "null")) return node(J_NULL);
  return number(p);
}

json *json_parse(const char *text, size_t len, char *err, size_t errcap) {
  parser p = {text, len, 0, err, errcap, 0};
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) p.pos = 3; /* UTF-8 BOM */
  json *v = value(&p, 0);
  if (!v) return NULL;
  ws(&p);
  if (p.pos != p.len) {
    fail(&p, "unexpected text after the value");
    return NULL;
  }
  return v;
}

void json_show(strbuf *b, const json *v) {
  switch (v->type) {
    case J_NULL: sb_puts(b, "null"); return;
    case J_FALSE: sb_puts(b, "false"); return;
    case J_TRUE: sb_puts(b, "true"); return;
    case J_NUMBER: sb_json_number(b, v->num); return;
    case J_STRING: sb_json_string(b, v->str, strlen(v->str)); return;
    case J_ARRAY:
    case J_OBJECT:
      sb_putc(b, v->type == J_ARRAY ? '[' : '{');
      for (size_t i = 0; i < v->n; i++) {
        if (i) sb_putc(b, ',');
        if (v->type == J_OBJECT) {
          sb_json_string(b, v->keys[i], strlen(v->keys[i]));
          sb_putc(b, ':');
        }
        json_show(b, v->items[i]);
      }
      sb_putc(b, v->type == J_ARRAY ? ']' : '}');
      return;
  }
}
