/*
 * The baseline of `make bench`: the smallest libmicrohttpd responder in
 * keygate's threading mode (internal epoll thread pool, one worker per
 * CPU, ITC), answering a small fixed JSON body on the handler's second
 * call (keeping the connection alive), as keygate does.
 * Usage: baseline PORT THREADS
 */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char body[] = "{\"message\":\"successful\",\"data\":[]}";
static struct MHD_Response *resp;

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	static int marker;
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
	return MHD_queue_response(conn, 200, resp);
}

int main(int argc, char **argv)
{
	sigset_t set;
	int sig;

	if (argc < 3)
		return 2;
	resp = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	struct MHD_Daemon *d =
	    MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC, (uint16_t)atoi(argv[1]), NULL, NULL,
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
