/* SPDX-License-Identifier: MIT */
/* report.c - what urio-bench prints: a fio-like summary, or one JSON
 * object for tools, and a progress line on a terminal while it runs.
 * Reads and writes are reported apart, as fio does. */
#include <inttypes.h>
#include <time.h>

#include "bench.h"

double tv_sec(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void json_lat(const struct hist *h)
{
	printf("{\"mean\": %.0f, \"p50\": %" PRIu64 ", \"p99\": %" PRIu64
	       ", \"p999\": %" PRIu64 ", \"max\": %" PRIu64 "}",
	       hist_mean(h), hist_quantile(h, 0.5), hist_quantile(h, 0.99),
	       hist_quantile(h, 0.999), h->n ? h->max : 0);
}

/* fio's "read" and "write" objects: each direction's own figures. */
static void json_dir(const char *name, uint64_t ios, const struct config *c,
		     const struct totals *t, const struct hist *lat)
{
	printf("\"%s\": {\"ios\": %" PRIu64 ", \"iops\": %.1f, "
	       "\"bw_bytes\": %.0f, \"lat_ns\": ",
	       name, ios, t->secs > 0 ? ios / t->secs : 0,
	       t->secs > 0 ? (double)ios * c->bs / t->secs : 0);
	json_lat(lat);
	printf("}, ");
}

static void json_layout(const struct config *c, struct thread_job *jobs)
{
	const struct urio_layout *lay = &jobs[0].lay;

	printf("\"layout\": {\"backend\": ");
	json_str(c->engine == ENG_PSYNC ? "psync" : lay->backend);
	printf(", \"description\": ");
	json_str(c->engine == ENG_PSYNC ? "pread/pwrite" : jobs[0].layout);
	printf(", \"wait\": ");
	json_str(c->engine == ENG_PSYNC ? "blocking syscalls" : lay->wait);
	if (lay->memlock_limit == UINT64_MAX || c->engine == ENG_PSYNC)
		printf(", \"memlock_limit\": null");
	else
		printf(", \"memlock_limit\": %" PRIu64, lay->memlock_limit);
	printf(", \"planned_bytes\": %" PRIu64 ", \"buf_bytes\": %" PRIu64
	       ", \"rings\": [",
	       lay->planned_bytes, lay->buf_bytes);
	for (unsigned i = 0; c->engine != ENG_PSYNC && i < lay->nrings; i++)
		printf("%s{\"entries\": %u, \"cq_entries\": %u, \"kind\": "
		       "\"%s\"}",
		       i ? ", " : "", lay->rings[i].entries,
		       lay->rings[i].cq_entries,
		       lay->rings[i].kind == URIO_RING_AIO	  ? "aio"
		       : lay->rings[i].kind == URIO_RING_PASSTHRU ? "passthru"
								  : "plain");
	printf("], \"fallbacks\": [");
	for (unsigned i = 0; c->engine != ENG_PSYNC && i < lay->nfallbacks;
	     i++) {
		printf("%s{\"step\": ", i ? ", " : "");
		json_str(lay->fallbacks[i].step);
		printf(", \"errno\": %d, \"reason\": ", lay->fallbacks[i].err);
		json_str(lay->fallbacks[i].reason);
		printf("}");
	}
	printf("]}");
}

void report_json(const struct config *c, struct thread_job *jobs,
		 const struct totals *t)
{
	double iops = t->secs > 0 ? t->ios / t->secs : 0;
	double cpu_ns = t->ios ? (t->usr + t->sys) * 1e9 / t->ios : 0;
	time_t now = time(NULL);
	char iso[32];

	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	printf("{\"urio_version\": ");
	json_str(urio_version_string());
	printf(", \"timestamp\": %lld, \"time\": \"%s\", \"target\": ",
	       (long long)now, iso);
	json_str(c->nop ? "(nop)" : c->path);
	printf(", \"target_prepared\": ");
	json_str(c->nop ? "none" : c->prepared ? c->prepared : "existing");
	printf(", \"invalidate\": %d", c->invalidate && !c->nop);
	printf(", \"engine\": \"%s\", \"rw\": \"%s\", \"bs\": %zu, \"qd\": %u, "
	       "\"threads\": %u, \"runtime_s\": %.3f, \"iops\": %.1f, "
	       "\"bw_bytes\": %.0f, \"ios\": %" PRIu64 ", \"reads\": %" PRIu64
	       ", \"writes\": %" PRIu64 ", \"errors\": %" PRIu64
	       ", \"verify_errors\": %" PRIu64 ", ",
	       engine_names[c->engine], c->nop ? "nop" : rw_names[c->rw], c->bs,
	       c->qd, c->threads, t->secs, iops,
	       t->secs > 0 ? t->bytes / t->secs : 0, t->ios, t->reads,
	       t->writes, t->errors, t->verify_errors);
	printf("\"lat_ns\": ");
	json_lat(&t->lat);
	printf(", ");
	if (!c->nop) {
		json_dir("read", t->reads, c, t, &t->lat_dir[0]);
		json_dir("write", t->writes, c, t, &t->lat_dir[1]);
	}
	printf("\"cpu\": {\"usr_pct\": %.1f, \"sys_pct\": %.1f}, "
	       "\"cpu_ns_per_io\": %.0f, ",
	       t->secs > 0 ? 100 * t->usr / t->secs : 0,
	       t->secs > 0 ? 100 * t->sys / t->secs : 0, cpu_ns);
	printf("\"per_thread\": [");
	for (unsigned i = 0; i < c->threads; i++) {
		struct thread_job *j = &jobs[i];
		double s = (j->t_meas1 - j->t_meas0) / 1e9;
		double cpu = tv_sec(j->ru1.ru_utime) - tv_sec(j->ru0.ru_utime) +
			     tv_sec(j->ru1.ru_stime) - tv_sec(j->ru0.ru_stime);

		printf("%s{\"iops\": %.1f, \"ios\": %" PRIu64
		       ", \"errors\": %" PRIu64 ", \"cpu_ns_per_io\": %.0f, "
		       "\"lat_p50_ns\": %" PRIu64 ", \"sleeps\": %" PRIu64
		       ", \"spins\": %" PRIu64 ", \"spin_hits\": %" PRIu64 "}",
		       i ? ", " : "", s > 0 ? j->ios / s : 0, j->ios, j->errors,
		       j->ios ? cpu * 1e9 / j->ios : 0,
		       hist_quantile(&j->lat, 0.5), j->st.sleeps, j->st.spins,
		       j->st.spin_hits);
	}
	printf("], ");
	json_layout(c, jobs);
	printf("}\n");
}

static void text_lat(const char *indent, const struct hist *h)
{
	printf("%slat (usec): mean=%.2f, p50=%.2f, p99=%.2f, p99.9=%.2f, "
	       "max=%.2f\n",
	       indent, hist_mean(h) / 1e3, hist_quantile(h, 0.5) / 1e3,
	       hist_quantile(h, 0.99) / 1e3, hist_quantile(h, 0.999) / 1e3,
	       (h->n ? h->max : 0) / 1e3);
}

void report_text(const struct config *c, struct thread_job *jobs,
		 const struct totals *t)
{
	double iops = t->secs > 0 ? t->ios / t->secs : 0;
	double bw = t->secs > 0 ? t->bytes / t->secs : 0;

	printf("urio-bench: %s %s bs=%zu qd=%u threads=%u %s\n",
	       engine_names[c->engine], c->nop ? "nop" : rw_names[c->rw], c->bs,
	       c->qd, c->threads, c->nop ? "" : c->path);
	printf("  layout: %s\n", c->engine == ENG_PSYNC
					 ? "psync (pread/pwrite, no urio)"
					 : jobs[0].layout);
	if (!c->nop)
		printf("  target: %s, %.1f MiB used; page cache %s\n",
		       c->prepared ? c->prepared : "existing",
		       c->size / 1048576.0,
		       c->invalidate ? "dropped before the run (--invalidate 1)"
				     : "kept (--invalidate 0)");
	printf("  %s: IOPS=%.0f, BW=%.1fMiB/s (%.1fMB/s), ios=%" PRIu64
	       " errors=%" PRIu64 " in %.2fs\n",
	       c->nop ? "nop" : "io", iops, bw / (1 << 20), bw / 1e6, t->ios,
	       t->errors, t->secs);
	text_lat("  ", &t->lat);
	/* Both directions ran: each its own figures, as fio prints them. */
	for (int d = 0; d < 2 && t->reads && t->writes; d++) {
		uint64_t n = d ? t->writes : t->reads;
		double s = t->secs > 0 ? t->secs : 1;

		printf("  %s: IOPS=%.0f, BW=%.1fMiB/s, ios=%" PRIu64 "\n",
		       d ? "write" : "read", n / s,
		       (double)n * c->bs / s / (1 << 20), n);
		text_lat("    ", &t->lat_dir[d]);
	}
	printf("  cpu: usr=%.1f%%, sys=%.1f%%, %.0f ns per I/O\n",
	       t->secs > 0 ? 100 * t->usr / t->secs : 0,
	       t->secs > 0 ? 100 * t->sys / t->secs : 0,
	       t->ios ? (t->usr + t->sys) * 1e9 / t->ios : 0);
	if (c->verify)
		printf("  verify: %" PRIu64 " mismatches\n", t->verify_errors);
}

void progress(const struct config *c, struct thread_job *jobs, uint64_t start,
	      uint64_t *last_ios, uint64_t *last_bytes, uint64_t *last_t)
{
	uint64_t ios = 0, bytes = 0, t = now_ns();
	double total = c->ramp + c->runtime, el = (t - start) / 1e9;
	double dt = (t - *last_t) / 1e9;

	for (unsigned i = 0; i < c->threads; i++) {
		ios += atomic_load_explicit(&jobs[i].progress_ios,
					    memory_order_relaxed);
		bytes += atomic_load_explicit(&jobs[i].progress_bytes,
					      memory_order_relaxed);
	}
	fprintf(stderr,
		"\r[%.0fs/%.0fs] %s: %.0f IOPS, %.1f MiB/s, eta %.0fs   ", el,
		total, el < c->ramp ? "ramp" : "run",
		dt > 0 ? (ios - *last_ios) / dt : 0,
		dt > 0 ? (bytes - *last_bytes) / dt / (1 << 20) : 0,
		total > el ? total - el : 0);
	*last_ios = ios;
	*last_bytes = bytes;
	*last_t = t;
}
