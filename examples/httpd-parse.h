/* SPDX-License-Identifier: MIT */
/* httpd-parse.h - urio-httpd's request parser: what RFC 9112 lets a server
 * accept, and nothing else.  Pure functions over a byte buffer, no I/O, so
 * tests can drive them directly. */
#ifndef URIO_HTTPD_PARSE_H
#define URIO_HTTPD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_LINE_MAX 8192  /* a longer request line: 414 */
#define HTTP_HEAD_MAX 16384 /* a longer request head: 431 */

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_OTHER };

struct http_request {
	enum http_method method;
	/* The request-target in origin form ("/path?query"), pointing into
	 * the buffer; an absolute-form target is cut down to its path. */
	const char *target;
	size_t target_len;
	bool http10;	     /* HTTP/1.0 rather than 1.1 (or a later 1.x) */
	bool keep_alive;     /* from the version and the Connection tokens */
	bool chunked;	     /* a Transfer-Encoding came: a body we refuse */
	uint64_t body_bytes; /* Content-Length, 0 without one */
	size_t head_len;     /* bytes of the head, its blank line included */
};

/* Leading empty lines a request may start with (RFC 9112 2.2 says to ignore
 * them): how many bytes of buf to drop. */
size_t http_skip_empty_lines(const char *buf, size_t len);

/* Looks for the end of the request head that starts buf: returns its length
 * (the blank line included), 0 while more bytes are needed, or -414 / -431
 * once the request line or the head outgrows its limit.  *scanned keeps the
 * progress between calls on a growing buffer: 0 for a new request. */
long http_head_end(const char *buf, size_t len, size_t *scanned);

/* Parses a complete head (http_head_end's length) into *req: returns 0, or
 * the status to answer with: 400 for anything malformed (bare CR, a folded
 * or nameless header, no Host or two on HTTP/1.1, Content-Length that is
 * not one number, Content-Length with Transfer-Encoding), 505 for a
 * version other than HTTP/1.x.  Nothing is kept from an earlier call. */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/* Decodes the path of an origin-form target into a path relative to the
 * root, in out (cap bytes): percent-escapes decoded, "." segments and
 * repeated slashes dropped, the query cut off; "" is the root itself.
 * *dir is set when the path ends in a slash.  Returns 0, or 400 for a path
 * that would leave the root ("..") or holds a NUL or a bad escape. */
int http_decode_path(const char *target, size_t len, char *out, size_t cap,
		     bool *dir);

#endif
