/* SPDX-License-Identifier: MIT */
/* test_httpd.c - urio-httpd as a client sees it: files served with their
 * length, 404 for a missing one, 400 for malformed requests and for any
 * path that would leave the root (.., encoded .., absolute, a symlink
 * out), HEAD without a body, keep-alive and pipelining. */
#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t server;
static unsigned port;
static char root[64];

static void start(void)
{
	const char *exe = getenv("URIO_HTTPD");
	char p[128], portstr[16];
	int fd;

	ck_assert_msg(exe != NULL, "URIO_HTTPD is not set");
	snprintf(root, sizeof(root), "/var/tmp/urio-httpd-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(p, sizeof(p), "%s/hello.txt", root);
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_eq(write(fd, "hello, world\n", 13), 13);
	close(fd);
	snprintf(p, sizeof(p), "%s/out", root);
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	port = 20000 + (unsigned)(getpid() % 20000);
	snprintf(portstr, sizeof(portstr), "%u", port);
	server = fork();
	ck_assert_int_ge(server, 0);
	if (server == 0) {
		execl(exe, exe, "--root", root, "--port", portstr,
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 50; i++) { /* until it listens */
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons((uint16_t)port),
					 .sin_addr.s_addr =
						 htonl(INADDR_LOOPBACK) };
		struct timespec ts = { 0, 50000000 };
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0) {
			close(s);
			return;
		}
		close(s);
		nanosleep(&ts, NULL);
	}
	ck_abort_msg("urio-httpd did not start");
}

static void stop(void)
{
	char cmd[128];

	kill(server, SIGTERM);
	waitpid(server, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
}

/* Sends raw, reads until the server closes; returns the bytes read. */
static size_t ask(const char *raw, char *out, size_t cap)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 2, 0 };
	int s = socket(AF_INET, SOCK_STREAM, 0);
	size_t n = 0;
	ssize_t r;

	ck_assert_int_eq(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ck_assert_int_eq(write(s, raw, strlen(raw)), (ssize_t)strlen(raw));
	/* Every case ends with Connection: close or a 400: read to EOF. */
	while (n + 1 < cap && (r = read(s, out + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(s);
	return n;
}

START_TEST(get_serves_the_file_with_its_length)
{
	char out[4096];

	ask("GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	    out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 200 OK\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "Content-Length: 13\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "\r\n\r\nhello, world\n"));
}
END_TEST

START_TEST(head_sends_no_body)
{
	char out[4096];

	ask("HEAD /hello.txt HTTP/1.1\r\nConnection: close\r\n\r\n", out,
	    sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "Content-Length: 13\r\n"));
	ck_assert_ptr_null(strstr(out, "hello, world"));
}
END_TEST

START_TEST(missing_file_is_404)
{
	char out[4096];

	ask("GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n", out,
	    sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 404 Not Found"));
}
END_TEST

START_TEST(paths_out_of_the_root_are_refused)
{
	static const char *const bad[] = {
		"GET /../etc/passwd HTTP/1.1\r\n\r\n",
		"GET /a/../../etc/passwd HTTP/1.1\r\n\r\n",
		"GET /%2e%2e/etc/passwd HTTP/1.1\r\n\r\n",
		"GET /%2E%2e%2fetc%2fpasswd HTTP/1.1\r\n\r\n",
		"GET //etc/passwd HTTP/1.1\r\n\r\n",
		"GET /%2fetc/passwd HTTP/1.1\r\n\r\n",
		"GET /out HTTP/1.1\r\n\r\n", /* a symlink to /etc/passwd */
		"GET /hello.txt%00 HTTP/1.1\r\n\r\n",
		"GET http://x/etc/passwd HTTP/1.1\r\n\r\n",
	};
	char out[4096];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ask(bad[i], out, sizeof(out));
		ck_assert_msg(strstr(out, "HTTP/1.1 400 Bad Request"),
			      "%s -> %s", bad[i], out);
		ck_assert_ptr_null(strstr(out, "root:"));
	}
}
END_TEST

START_TEST(malformed_requests_are_400)
{
	static const char *const bad[] = {
		"GARBAGE\r\n\r\n",
		"GET /hello.txt\r\n\r\n",
		"GET /hello.txt HTTP/2.0\r\n\r\n",
		"POST /hello.txt HTTP/1.1\r\n\r\n",
		"GET hello.txt HTTP/1.1\r\n\r\n",
	};
	char out[4096];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ask(bad[i], out, sizeof(out));
		ck_assert_msg(strstr(out, "HTTP/1.1 400 Bad Request"),
			      "%s -> %s", bad[i], out);
	}
}
END_TEST

START_TEST(keep_alive_serves_pipelined_requests_on_one_connection)
{
	char out[8192];
	unsigned n = 0;

	ask("GET /hello.txt HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n"
	    "GET /hello.txt HTTP/1.1\r\nConnection: close\r\n\r\n",
	    out, sizeof(out));
	for (char *p = out; (p = strstr(p, "HTTP/1.1 ")); p++)
		n++;
	ck_assert_uint_eq(n, 3);
	ck_assert_ptr_nonnull(strstr(out, "404"));
	ck_assert_ptr_nonnull(strstr(out, "Connection: keep-alive"));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("httpd");
	TCase *tc = tcase_create("httpd");

	tcase_add_unchecked_fixture(tc, start, stop);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, get_serves_the_file_with_its_length);
	tcase_add_test(tc, head_sends_no_body);
	tcase_add_test(tc, missing_file_is_404);
	tcase_add_test(tc, paths_out_of_the_root_are_refused);
	tcase_add_test(tc, malformed_requests_are_400);
	tcase_add_test(tc,
		       keep_alive_serves_pipelined_requests_on_one_connection);
	suite_add_tcase(s, tc);
	return s;
}

URIO_TEST_MAIN(suite)
