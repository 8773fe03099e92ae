/* SPDX-License-Identifier: MIT */
/* httpd-parse.c - urio-httpd's request parser, after RFC 9112: lines end in
 * CRLF or a bare LF, header names compare without case, a bare CR, a
 * folded line or a request body framed in a way we do not read is an
 * error, never a guess: a server that guesses where a request ends can be
 * made to answer a request hidden in another's body. */
#include "httpd-parse.h"

#include <string.h>

size_t http_skip_empty_lines(const char *buf, size_t len)
{
	size_t i = 0;

	for (;;) {
		if (i < len && buf[i] == '\n')
			i++;
		else if (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n')
			i += 2;
		else
			return i;
	}
}

/* Whether the line buf[0..n) (its LF excluded) ends in " HTTP/". */
static bool has_version(const char *buf, size_t n)
{
	const char *sp;

	if (n && buf[n - 1] == '\r')
		n--;
	sp = memrchr(buf, ' ', n);
	return sp && (size_t)(buf + n - sp) > 5 && !memcmp(sp + 1, "HTTP/", 5);
}

long http_head_end(const char *buf, size_t len, size_t *scanned)
{
	size_t i = *scanned;
	/* Whether the next LF found ends the request line. */
	bool first = !memchr(buf, '\n', i);
	const char *lf;

	/* The head ends at an empty line: an LF, then LF or CRLF. */
	while (i < len && (lf = memchr(buf + i, '\n', len - i))) {
		size_t at = (size_t)(lf - buf), rest = len - at - 1;

		/* A request line without "HTTP/x.y" (HTTP/0.9, or no request
		 * at all) has no head to wait for: it is the whole of it, and
		 * the parser answers 400 now, not the header timeout. */
		if (first && !has_version(buf, at))
			return (long)(at + 1);
		first = false;

		if (rest >= 1 && buf[at + 1] == '\n')
			return (long)(at + 2);
		if (rest >= 2 && buf[at + 1] == '\r' && buf[at + 2] == '\n')
			return (long)(at + 3);
		if (rest == 0 || (rest == 1 && buf[at + 1] == '\r')) {
			*scanned = at; /* undecided until more bytes come */
			return 0;
		}
		i = at + 1;
	}
	*scanned = len;
	if (len > HTTP_LINE_MAX && !memchr(buf, '\n', HTTP_LINE_MAX + 1))
		return -414;
	return len >= HTTP_HEAD_MAX ? -431 : 0;
}

/* Character classes, looked up per byte. */
#define TCHAR 1 /* RFC 9110 5.6.2: a token's characters */
#define HOSTC 2 /* RFC 3986 reg-name, IP literal and port characters */
static const unsigned char cls[256] = {
	['0' ... '9'] = TCHAR | HOSTC,
	['a' ... 'z'] = TCHAR | HOSTC,
	['A' ... 'Z'] = TCHAR | HOSTC,
	['!'] = TCHAR | HOSTC,
	['$'] = TCHAR | HOSTC,
	['&'] = TCHAR | HOSTC,
	['\''] = TCHAR | HOSTC,
	['*'] = TCHAR | HOSTC,
	['+'] = TCHAR | HOSTC,
	['-'] = TCHAR | HOSTC,
	['.'] = TCHAR | HOSTC,
	['_'] = TCHAR | HOSTC,
	['~'] = TCHAR | HOSTC,
	['%'] = TCHAR | HOSTC,
	['#'] = TCHAR,
	['^'] = TCHAR,
	['`'] = TCHAR,
	['|'] = TCHAR,
	['('] = HOSTC,
	[')'] = HOSTC,
	[','] = HOSTC,
	[';'] = HOSTC,
	['='] = HOSTC,
	[':'] = HOSTC,
	['['] = HOSTC,
	[']'] = HOSTC,
};

static bool all_of(const char *s, size_t n, unsigned char c)
{
	for (size_t i = 0; i < n; i++)
		if (!(cls[(unsigned char)s[i]] & c))
			return false;
	return true;
}

static bool all_tchars(const char *s, size_t n)
{
	return n > 0 && all_of(s, n, TCHAR);
}

/* Case-insensitive comparison of s[0..n) with the lower-case word. */
static bool same_word(const char *s, size_t n, const char *word)
{
	if (n != strlen(word))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];

		if (ch != word[i])
			return false;
	}
	return true;
}

/* The next line from *pos: its length without the CRLF or LF; -1 when a
 * CR stands anywhere but before the LF (RFC 9112 2.2: a bare CR is an
 * error, lest two parsers split the line differently). */
static long next_line(const char *buf, size_t len, size_t *pos,
		      const char **line)
{
	const char *lf = memchr(buf + *pos, '\n', len - *pos);
	size_t n;

	*line = buf + *pos;
	if (!lf)
		return -1; /* not a complete head */
	n = (size_t)(lf - *line);
	*pos += n + 1;
	if (n && (*line)[n - 1] == '\r')
		n--;
	return memchr(*line, '\r', n) ? -1 : (long)n;
}

/* "HTTP/" DIGIT "." DIGIT: 0 for 1.x, 505 for another major, 400 else. */
static int parse_version(const char *v, size_t n, bool *http10)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) || v[5] < '0' || v[5] > '9' ||
	    v[6] != '.' || v[7] < '0' || v[7] > '9')
		return 400;
	if (v[5] != '1')
		return 505;
	*http10 = v[7] == '0';
	return 0;
}

/* Cuts an absolute-form target ("http://host/path") down to its path;
 * false when it is neither that nor origin form ("/path"). */
static bool origin_form(struct http_request *req)
{
	const char *t = req->target, *end = t + req->target_len, *p;
	size_t scheme;

	if (t[0] == '/')
		return true;
	if (end - t > 7 && same_word(t, 7, "http://"))
		scheme = 7;
	else if (end - t > 8 && same_word(t, 8, "https://"))
		scheme = 8;
	else
		return false;
	for (p = t + scheme; p < end && *p != '/' && *p != '?'; p++)
		;
	if (p == t + scheme)
		return false; /* no authority */
	if (p == end || *p == '?') {
		req->target = "/"; /* the root; its query does not matter */
		req->target_len = 1;
	} else {
		req->target = p;
		req->target_len = (size_t)(end - p);
	}
	return true;
}

static int parse_request_line(const char *line, size_t n,
			      struct http_request *req)
{
	const char *sp1, *sp2;
	size_t mlen;

	if (n > HTTP_LINE_MAX)
		return 414;
	sp1 = memchr(line, ' ', n);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - line)) : NULL;
	if (!sp2)
		return 400;
	mlen = (size_t)(sp1 - line);
	if (!all_tchars(line, mlen))
		return 400;
	req->method = mlen == 3 && !memcmp(line, "GET", 3)    ? HTTP_GET
		      : mlen == 4 && !memcmp(line, "HEAD", 4) ? HTTP_HEAD
							      : HTTP_OTHER;
	req->target = sp1 + 1;
	req->target_len = (size_t)(sp2 - req->target);
	if (!req->target_len)
		return 400;
	for (size_t i = 0; i < req->target_len; i++) {
		unsigned char ch = (unsigned char)req->target[i];

		if (ch <= ' ' || ch >= 0x7f)
			return 400; /* RFC 3986: printable ASCII only */
	}
	/* Any target will do for a method we only answer with 405. */
	if (req->method != HTTP_OTHER && !origin_form(req))
		return 400;
	return parse_version(sp2 + 1, (size_t)(line + n - sp2 - 1),
			     &req->http10);
}

/* Content-Length: one decimal number (a list of them is refused). */
static bool parse_length(const char *v, size_t n, uint64_t *out)
{
	uint64_t x = 0;

	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		/* Past 2^63 is "too large" all the same. */
		x = x > (UINT64_MAX >> 4) ? UINT64_MAX >> 1
					  : x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return true;
}

/* The Connection tokens we act on: "close" and "keep-alive". */
static void connection_tokens(const char *v, size_t n, bool *close, bool *ka)
{
	size_t i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		for (s = i; i < n && v[i] != ','; i++)
			;
		for (e = i; e > s && (v[e - 1] == ' ' || v[e - 1] == '\t');)
			e--;
		if (same_word(v + s, e - s, "close"))
			*close = true;
		else if (same_word(v + s, e - s, "keep-alive"))
			*ka = true;
	}
}

int http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	bool close = false, ka = false, length_seen = false;
	unsigned hosts = 0;
	const char *line;
	size_t pos = 0;
	long n;
	int ret;

	memset(req, 0, sizeof(*req));
	req->head_len = len;
	n = next_line(buf, len, &pos, &line);
	if (n < 0)
		return 400;
	ret = parse_request_line(line, (size_t)n, req);
	if (ret)
		return ret;
	while ((n = next_line(buf, len, &pos, &line)) != 0) {
		const char *colon, *v;
		size_t vlen;

		/* No folded lines (obs-fold), no space before the colon. */
		if (n < 0 || !(colon = memchr(line, ':', (size_t)n)) ||
		    !all_tchars(line, (size_t)(colon - line)))
			return 400;
		v = colon + 1;
		vlen = (size_t)(line + n - v);
		while (vlen && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		for (size_t i = 0; i < vlen; i++)
			if (((unsigned char)v[i] < ' ' && v[i] != '\t') ||
			    v[i] == 0x7f)
				return 400; /* NUL and the other controls */
#define IS(name) same_word(line, (size_t)(colon - line), name)
		if (IS("host")) {
			if (++hosts > 1 || !all_of(v, vlen, HOSTC))
				return 400;
		} else if (IS("connection")) {
			connection_tokens(v, vlen, &close, &ka);
		} else if (IS("content-length")) {
			/* Two lengths: which one frames the body? Refuse. */
			if (length_seen ||
			    !parse_length(v, vlen, &req->body_bytes))
				return 400;
			length_seen = true;
		} else if (IS("transfer-encoding")) {
			/* We read no chunked bodies, and a length next to
			 * a transfer coding is how requests get smuggled. */
			return 400;
		}
#undef IS
	}
	if (!req->http10 && hosts == 0)
		return 400; /* RFC 9112 3.2: Host is required on 1.1 */
	req->keep_alive = !close && (!req->http10 || ka);
	return 0;
}

static int unhex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

int http_decode_path(const char *target, size_t len, char *out, size_t cap,
		     bool *dir)
{
	const char *cut = memchr(target, '?', len);
	size_t o = 0, seg = 0;

	if (cut)
		len = (size_t)(cut - target);
	cut = memchr(target, '#', len);
	if (cut)
		len = (size_t)(cut - target);
	if (!len || target[0] != '/' || cap < 2)
		return 400;
	*dir = true; /* "/" is the root directory */
	for (size_t i = 1; i <= len; i++) {
		bool end = i == len;
		char ch = end ? '/' : target[i]; /* the end closes a segment */
		int h, l;

		if (ch == '%') {
			if (i + 2 >= len || (h = unhex(target[i + 1])) < 0 ||
			    (l = unhex(target[i + 2])) < 0)
				return 400;
			ch = (char)(h << 4 | l);
			i += 2;
		}
		if (!ch)
			return 400;
		if (o + 2 > cap)
			return 400; /* this byte, then a slash or the NUL */
		if (ch != '/') {
			out[o++] = ch;
			continue;
		}
		/* A segment ends (a decoded slash ends one too, so "%2e%2e%2f"
		 * is a ".." like any other): "" and "." vanish, ".." leaves
		 * the root and is refused. */
		if (o - seg == 2 && out[seg] == '.' && out[seg + 1] == '.')
			return 400;
		*dir = o == seg || (o - seg == 1 && out[seg] == '.');
		if (*dir) {
			o = seg;
		} else if (!end) {
			out[o++] = '/';
			seg = o;
		}
	}
	if (o && out[o - 1] == '/')
		o--; /* the slash before a segment that vanished */
	out[o] = '\0';
	return 0;
}
