/*
 * The baseline of `make bench`: the smallest libmicrohttpd responder in
 * keygate's threading mode (internal epoll thread pool, one worker per
 * CPU, ITC), answering a small fixed JSON body on the handler's second
 * call (keeping the connection alive), as keygate does.
 * With "suspend", each request is suspended on that call and resumed by
 * one other thread, which takes every connection queued meanwhile (as
 * keygate's Redis pipelining thread does, with no work of its own): the
 * floor of what libmicrohttpd's suspend and resume cost a request.
 * Usage: baseline PORT THREADS [suspend]
 */
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char body[] = "{\"message\":\"successful\",\"data\":[]}";
static struct MHD_Response *resp;
static int suspending;

/* The connections waiting for the resuming thread: at most one request
 * each, so the connection limit bounds them. */
#define QUEUE_MAX 1024
static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct MHD_Connection *conns[QUEUE_MAX];
	size_t n;
} queue = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { NULL }, 0 };

static void *resumer(void *arg)
{
	struct MHD_Connection *batch[QUEUE_MAX];
	(void)arg;

	for (;;) {
		pthread_mutex_lock(&queue.lock);
		while (queue.n == 0)
			pthread_cond_wait(&queue.wake, &queue.lock);
		size_t n = queue.n;
		memcpy(batch, queue.conns, n * sizeof(batch[0]));
		queue.n = 0;
		pthread_mutex_unlock(&queue.lock);
		for (size_t i = 0; i < n; i++)
			MHD_resume_connection(batch[i]);
	}
	return NULL;
}

static void suspend(struct MHD_Connection *conn)
{
	MHD_suspend_connection(conn);
	pthread_mutex_lock(&queue.lock);
	queue.conns[queue.n++] = conn;
	pthread_cond_signal(&queue.wake);
	pthread_mutex_unlock(&queue.lock);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	static int marker, suspended;
	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)upload_data;
	if (*req_cls == NULL) {
		*req_cls = &marker;
		return MHD_YES;
	}
	*upload_data_size = 0;
	if (suspending && *req_cls == &marker) {
		*req_cls = &suspended;
		suspend(conn);
		return MHD_YES;
	}
	return MHD_queue_response(conn, 200, resp);
}

int main(int argc, char **argv)
{
	sigset_t set;
	int sig;

	if (argc < 3)
		return 2;
	suspending = argc > 3 && strcmp(argv[3], "suspend") == 0;
	resp = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_t t;
	if (suspending && pthread_create(&t, NULL, resumer, NULL) != 0)
		return 1;
	struct MHD_Daemon *d = MHD_start_daemon(
	    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | (suspending ? MHD_ALLOW_SUSPEND_RESUME : 0), (uint16_t)atoi(argv[1]), NULL, NULL,
		on_access, NULL, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)atoi(argv[2]), MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)1000, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_END);
	if (d == NULL)
		return 1;
	printf("baseline listening (port %u)\n", MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
	fflush(stdout);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	MHD_destroy_response(resp);
	return 0;
}
