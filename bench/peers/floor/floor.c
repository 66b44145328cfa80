/*
 * The floor: the least an HTTP/1.1 greeting server can do on Linux, against
 * which eddy and its peers are measured ("the hardware" in every table).
 *
 * One epoll loop per worker thread, level-triggered, each with its own
 * SO_REUSEPORT listener (so `--workers N` spreads connections in the kernel
 * and the threads share nothing). A wake-up on a connection does one read(2)
 * into a 64 KiB buffer, counts the complete request heads in it (`\r\n\r\n`
 * terminators; a terminator split across reads is carried in one byte of
 * state per connection), and answers all of them with one write(2) of that
 * many copies of a fixed response. It parses nothing else: a line starting
 * `Connection: close` (any case) makes it answer with `Connection: close` and
 * close after the write, which is what wrk's `close` scenario needs.
 *
 * The response is the bytes eddy's greeting example sends for `GET /bench`,
 * with `Server: floor` instead of `Server: eddy`:
 *
 *   HTTP/1.1 200 OK / Server / Date / Content-Type / Content-Length, body
 *   `Hello, bench!`
 *
 * The Date line is re-formatted at most once a second (time(2) per wake-up,
 * a vDSO call), as eddy does, so both pay the same for it.
 *
 * What it does not do, on purpose: request validation, routing, timeouts,
 * partial writes (a short write closes the connection and counts it on
 * stderr at exit; with responses of ~130 bytes and at most one read's worth
 * of requests in flight it does not happen on loopback).
 *
 * Usage: floor --addr 127.0.0.1:PORT [--workers N]
 * Prints `listening on ADDR` when ready; SIGTERM or SIGINT stops every loop,
 * closes every socket and exits with status 0 (so callgrind writes its totals).
 *
 * Built by bench/http/run.py and bench/instr/instr.py with the system C
 * compiler: cc -O2 -pthread -o floor floor.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* One read's worth: 64 KiB holds ~800 wrk requests, far more than a batch. */
#define READ_BUF 65536
/* Events per epoll_wait: enough that 1000 busy connections take few calls. */
#define MAX_EVENTS 256
/* Per-connection state, one byte, indexed by fd (fds are process-wide). */
#define ST_MATCH_MASK 0x03 /* bytes of "\r\n\r" matched before this read */
#define ST_LINE_START 0x04 /* the last byte read was '\n' */

static const char BODY[] = "Hello, bench!";

static uint8_t *conn_state; /* RLIMIT_NOFILE entries, lazily faulted in */
static size_t conn_state_len;
static atomic_ulong short_writes;

struct worker {
	pthread_t thread;
	int listener;
	int epoll;
	int stop; /* eventfd, shared: written once at shutdown */
	/* The fixed responses, re-formatted when the second changes. */
	time_t formatted_at;
	char keep[256], close[256];
	size_t keep_len, close_len;
	char out[READ_BUF / 4 * 192]; /* a head is at least 4 bytes, a response < 192 */
	char in[READ_BUF];
};

static void die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Formats both responses (keep-alive and close) for the current second. */
static void format_responses(struct worker *w, time_t now)
{
	struct tm tm;
	char date[64];
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	const char *fmt = "HTTP/1.1 200 OK\r\nServer: floor\r\nDate: %s\r\n"
			  "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n%s\r\n%s";
	w->keep_len = (size_t)snprintf(w->keep, sizeof w->keep, fmt, date, sizeof BODY - 1, "", BODY);
	w->close_len = (size_t)snprintf(w->close, sizeof w->close, fmt, date, sizeof BODY - 1,
					"Connection: close\r\n", BODY);
	w->formatted_at = now;
}

static void close_conn(struct worker *w, int fd)
{
	(void)w;
	conn_state[fd] = 0;
	close(fd); /* also removes it from the epoll set */
}

/* Accepts every pending connection (level-triggered: at most what's queued). */
static void accept_all(struct worker *w)
{
	for (;;) {
		int fd = accept4(w->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				fprintf(stderr, "floor: accept: %s\n", strerror(errno));
			return;
		}
		if ((size_t)fd >= conn_state_len) {
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
		if (epoll_ctl(w->epoll, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			continue;
		}
		conn_state[fd] = ST_LINE_START;
	}
}

/* Reads once, answers every complete head in one write. */
static void serve(struct worker *w, int fd)
{
	ssize_t n = read(fd, w->in, sizeof w->in);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close_conn(w, fd);
		return;
	}
	unsigned st = conn_state[fd];
	unsigned match = st & ST_MATCH_MASK; /* of "\r\n\r", then '\n' ends a head */
	int line_start = (st & ST_LINE_START) != 0;
	size_t heads = 0;
	int want_close = 0;
	const char *p = w->in, *end = w->in + n;
	while (p < end) {
		char c = *p;
		if (line_start && (c == 'C' || c == 'c') && end - p >= 17 &&
		    strncasecmp(p, "connection: close", 17) == 0)
			want_close = 1;
		if (c == '\n') {
			if (match == 3) {
				heads++;
				match = 0;
				if (want_close)
					break; /* anything after it is not answered */
			} else {
				match = match == 1 ? 2 : 0;
			}
			line_start = 1;
		} else {
			match = c == '\r' ? (match == 2 ? 3 : 1) : 0;
			line_start = 0;
		}
		p++;
	}
	conn_state[fd] = (uint8_t)(match | (line_start ? ST_LINE_START : 0));
	if (heads == 0)
		return;
	if (heads * w->close_len > sizeof w->out) {
		close_conn(w, fd); /* a flood of empty heads: not a greeting client */
		return;
	}
	time_t now = time(NULL);
	if (now != w->formatted_at)
		format_responses(w, now);
	size_t len = 0;
	for (size_t i = 0; i + 1 < heads; i++) {
		memcpy(w->out + len, w->keep, w->keep_len);
		len += w->keep_len;
	}
	const char *last = want_close ? w->close : w->keep;
	size_t last_len = want_close ? w->close_len : w->keep_len;
	memcpy(w->out + len, last, last_len);
	len += last_len;
	ssize_t written = write(fd, w->out, len);
	if (written != (ssize_t)len) {
		if (written >= 0 || errno == EAGAIN)
			atomic_fetch_add(&short_writes, 1);
		close_conn(w, fd);
		return;
	}
	if (want_close)
		close_conn(w, fd);
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	struct epoll_event events[MAX_EVENTS];
	for (;;) {
		int n = epoll_wait(w->epoll, events, MAX_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;
			if (fd == w->listener)
				accept_all(w);
			else if (fd == w->stop)
				goto done;
			else
				serve(w, fd);
		}
	}
done:
	/* Stop accepting; open connections close when the process exits, right
	 * after every loop has returned here. */
	close(w->listener);
	close(w->epoll);
	return NULL;
}

static void parse_addr(const char *text, struct sockaddr_in *sa)
{
	const char *colon = strrchr(text, ':');
	char host[64];
	if (!colon || (size_t)(colon - text) >= sizeof host) {
		fprintf(stderr, "floor: --addr %s: want IPV4:PORT\n", text);
		exit(2);
	}
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = 0;
	char *rest;
	long port = strtol(colon + 1, &rest, 10);
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (*rest || port < 0 || port > 65535 || inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
		fprintf(stderr, "floor: --addr %s: want IPV4:PORT\n", text);
		exit(2);
	}
}

static int listen_on(struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)sa, sizeof *sa) < 0)
		die("bind");
	if (listen(fd, 4096) < 0)
		die("listen");
	/* Port 0: the first listener's port is every later one's. */
	socklen_t len = sizeof *sa;
	getsockname(fd, (struct sockaddr *)sa, &len);
	return fd;
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1:8080";
	long workers = 1;
	for (int i = 1; i < argc; i += 2) {
		if (i + 1 >= argc) {
			fprintf(stderr, "floor: %s needs a value\nusage: floor --addr HOST:PORT --workers N\n", argv[i]);
			return 2;
		}
		if (strcmp(argv[i], "--addr") == 0) {
			addr = argv[i + 1];
		} else if (strcmp(argv[i], "--workers") == 0) {
			workers = strtol(argv[i + 1], NULL, 10);
			if (workers < 1 || workers > 1024) {
				fprintf(stderr, "floor: --workers must be 1..1024\n");
				return 2;
			}
		} else {
			fprintf(stderr, "floor: unknown flag %s\nusage: floor --addr HOST:PORT --workers N\n", argv[i]);
			return 2;
		}
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	conn_state_len = rl.rlim_cur == RLIM_INFINITY ? (1u << 20) : rl.rlim_cur;
	conn_state = calloc(conn_state_len, 1);
	if (!conn_state)
		die("calloc");

	/* Block the stop signals before any thread exists: only sigwait sees them. */
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct sockaddr_in sa;
	parse_addr(addr, &sa);
	int stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (stop < 0)
		die("eventfd");
	struct worker *ws = calloc((size_t)workers, sizeof *ws);
	if (!ws)
		die("calloc");
	for (long i = 0; i < workers; i++) {
		struct worker *w = &ws[i];
		w->listener = listen_on(&sa);
		w->stop = stop;
		w->epoll = epoll_create1(EPOLL_CLOEXEC);
		if (w->epoll < 0)
			die("epoll_create1");
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = w->listener};
		struct epoll_event sev = {.events = EPOLLIN, .data.fd = stop};
		if (epoll_ctl(w->epoll, EPOLL_CTL_ADD, w->listener, &ev) < 0 ||
		    epoll_ctl(w->epoll, EPOLL_CTL_ADD, stop, &sev) < 0)
			die("epoll_ctl");
		format_responses(w, time(NULL));
	}
	char shown[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &sa.sin_addr, shown, sizeof shown);
	printf("listening on %s:%u\n", shown, ntohs(sa.sin_port));
	fflush(stdout);
	for (long i = 0; i < workers; i++)
		if (pthread_create(&ws[i].thread, NULL, run_worker, &ws[i]) != 0)
			die("pthread_create");
	int sig;
	sigwait(&stop_signals, &sig);
	uint64_t one = 1;
	if (write(stop, &one, sizeof one) < 0)
		die("eventfd write");
	for (long i = 0; i < workers; i++)
		pthread_join(ws[i].thread, NULL);
	unsigned long shorts = atomic_load(&short_writes);
	if (shorts)
		fprintf(stderr, "floor: %lu connections closed after a short write\n", shorts);
	free(ws);
	free(conn_state);
	return 0;
}
