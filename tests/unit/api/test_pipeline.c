/*
 * Unit tests: the pipeline holds a handler to what it returns, and the
 * offload module suspends a real connection for a password job and
 * resumes it into the handler's continuation. A libmicrohttpd daemon on
 * 127.0.0.1 plays the front end (its access callback offloads as a handler
 * does, and hands the resumed call to pipeline_run); the password pool is
 * the real one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "api/pipeline.h"
#include "api/router.h"
#include "base/app.h"
#include "base/config.h"
#include "http/http_reply.h"
#include "http/offload.h"

#define PASSWORD "correct-horse-9"
#define REPLY_500 "{\"detail\":\"A server error occurred.\"}"

static struct config cfg;
static struct app app;
static char stored[PASSWORD_HASH_MAX]; /* PASSWORD's hash */
static struct MHD_Daemon *daemon_;
static unsigned short port;

/* Set by a test, read on the MHD thread. */
static offload_finish_fn finish_under_test;
static const char *password_sent = PASSWORD;
/* Written on the MHD or pool thread, read by the test once it has its
 * reply (and, for `ended`, waited for it). */
static atomic_int finish_runs, finish_result, first_rc, access_again, ended, wiped;

static enum handler_rc finish_replies(struct request *req, int result, const char *hash)
{
	(void)hash;
	atomic_fetch_add(&finish_runs, 1);
	atomic_store(&finish_result, result);
	http_reply_json(req, 200, json_pack("{s:i}", "result", result));
	return HANDLER_DONE;
}

/* A continuation that forgot to reply. */
static enum handler_rc finish_forgets(struct request *req, int result, const char *hash)
{
	(void)req;
	(void)result;
	(void)hash;
	atomic_fetch_add(&finish_runs, 1);
	return HANDLER_DONE;
}

/* One that says it suspended when it did not. */
static enum handler_rc finish_lies(struct request *req, int result, const char *hash)
{
	(void)req;
	(void)result;
	(void)hash;
	atomic_fetch_add(&finish_runs, 1);
	return HANDLER_SUSPENDED;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	struct request *req = *req_cls;
	const struct route *rt;
	int64_t id;
	unsigned allow;
	(void)cls;
	(void)version;
	(void)upload_data;

	if (req == NULL) {
		if ((req = calloc(1, sizeof(*req))) == NULL)
			return MHD_NO;
		http_request_begin(req, conn, &app, method, url);
		router_match(url, req->method, &rt, &id, &allow);
		req->route = rt;
		*req_cls = req;
		return MHD_YES;
	}
	*upload_data_size = 0;
	if (offload_suspended(req)) { /* resumed */
		pipeline_run(req);
		return MHD_YES;
	}
	if (atomic_load(&first_rc) != -1) { /* MHD runs the request again: nobody replied */
		atomic_fetch_add(&access_again, 1);
		http_reply_text(req, 299, "again", 5, "text/plain");
		return MHD_YES;
	}
	atomic_store(
	    &first_rc, offload_password_verify(req, stored, password_sent, strlen(password_sent), finish_under_test));
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe)
{
	struct request *req = *req_cls;
	(void)cls;
	(void)conn;
	(void)toe;

	if (req == NULL)
		return;
	/* The job's hashes went with the continuation. */
	atomic_store(&wiped, req->offload.job.password == NULL && req->offload.job.hash[0] == '\0');
	http_request_end(req);
	free(req);
	*req_cls = NULL;
	atomic_store(&ended, 1);
}

struct reply {
	unsigned status;
	char body[512];
	char log[2048]; /* what the server logged meanwhile */
};

static void read_log(int fd, char *out, size_t cap)
{
	ssize_t n = pread(fd, out, cap - 1, 0);
	out[n > 0 ? n : 0] = '\0';
}

static int wait_for(atomic_int *flag)
{
	for (int i = 0; i < 1000 && !atomic_load(flag); i++)
		usleep(10 * 1000);
	return atomic_load(flag);
}

/* One request and its reply on a new connection; the bytes read, or -1. */
static ssize_t exchange(const char *request, char *buf, size_t cap)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 20 };
	size_t len = 0, want = strlen(request);
	ssize_t n = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && write(fd, request, want) == (ssize_t)want)
		while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
			len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return n == 0 ? (ssize_t)len : -1;
}

/* POST /users/login/ with an empty body, the continuation given: the
 * reply, and the log lines written until the request ended. */
static void post_login(offload_finish_fn finish, struct reply *r)
{
	char buf[4096];

	finish_under_test = finish;
	atomic_store(&finish_runs, 0);
	atomic_store(&first_rc, -1);
	atomic_store(&access_again, 0);
	atomic_store(&ended, 0);
	atomic_store(&wiped, 0);
	FILE *log = tmpfile();
	assert_non_null(log);
	int saved = dup(2);
	dup2(fileno(log), 2); /* log.c writes to stderr */
	ssize_t len = exchange("POST /users/login/ HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n"
			       "Connection: close\r\n\r\n",
	    buf, sizeof(buf));
	int done = wait_for(&ended);
	dup2(saved, 2);
	close(saved);
	read_log(fileno(log), r->log, sizeof(r->log));
	fclose(log);
	assert_true(len > 0);
	assert_true(done);
	r->status = 0;
	sscanf(buf, "HTTP/1.1 %u", &r->status);
	const char *body = strstr(buf, "\r\n\r\n");
	snprintf(r->body, sizeof(r->body), "%s", body != NULL ? body + 4 : "");
}

/* Control: the continuation runs on resume with the job's result and
 * replies; nothing is logged, and the job is wiped after it. */
static void test_resume_runs_continuation(void **state)
{
	struct reply r;
	(void)state;

	password_sent = PASSWORD;
	post_login(finish_replies, &r);
	assert_int_equal(atomic_load(&first_rc), HANDLER_SUSPENDED);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"result\":0}");
	assert_int_equal(atomic_load(&finish_runs), 1);
	assert_int_equal(atomic_load(&access_again), 0);
	assert_true(atomic_load(&wiped));
	assert_string_equal(r.log, "");

	password_sent = "not-the-password";
	post_login(finish_replies, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"result\":-1}");
	password_sent = PASSWORD;
}

/* HANDLER_DONE without a reply: the usual 500, a log line naming the
 * route and no secret, and MHD does not run the request again. */
static void test_done_without_reply_answers_500(void **state)
{
	struct reply r;
	(void)state;

	post_login(finish_forgets, &r);
	assert_int_equal(r.status, 500);
	assert_string_equal(r.body, REPLY_500);
	assert_int_equal(atomic_load(&finish_runs), 1);
	assert_int_equal(atomic_load(&access_again), 0);
	assert_non_null(strstr(r.log, "POST /users/login/: the handler returned done without a reply; answering 500"));
	assert_null(strstr(r.log, PASSWORD));
	assert_non_null(strchr(r.log, '\n'));
	assert_int_equal(strchr(r.log, '\n') - r.log + 1, (long)strlen(r.log)); /* one line */
}

/* HANDLER_SUSPENDED on a connection that is not suspended: the same. */
static void test_suspended_without_suspending_answers_500(void **state)
{
	struct reply r;
	(void)state;

	post_login(finish_lies, &r);
	assert_int_equal(r.status, 500);
	assert_string_equal(r.body, REPLY_500);
	assert_int_equal(atomic_load(&access_again), 0);
	assert_non_null(
	    strstr(r.log, "POST /users/login/: the handler returned suspended without suspending; answering 500"));
}

/* No room in the hashing queue: 503 from the offload, no suspension, no
 * continuation, and no complaint from the pipeline. */
static void test_queue_full_answers_503(void **state)
{
	struct password_pool *pool = app.passwords;
	char err[128];
	struct reply r;
	(void)state;

	app.passwords = password_pool_new(1, 0, err, sizeof(err));
	assert_non_null(app.passwords);
	post_login(finish_replies, &r);
	password_pool_free(app.passwords);
	app.passwords = pool;
	assert_int_equal(atomic_load(&first_rc), HANDLER_DONE);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body, "Too many password checks"));
	assert_int_equal(atomic_load(&finish_runs), 0);
	assert_string_equal(r.log, "");
}

static int setup(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	char err[128];
	(void)state;

	if (sodium_init() < 0 || password_hash_now(PASSWORD, strlen(PASSWORD), stored) == -1)
		return -1;
	config_defaults(&cfg);
	atomic_init(&app.cfg, &cfg);
	if ((app.passwords = password_pool_new(1, 4, err, sizeof(err))) == NULL)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || listen(fd, 8) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &salen) == -1)
		return -1;
	port = ntohs(sa.sin_port);
	daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, on_access,
	    NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	return daemon_ != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	password_pool_stop(app.passwords); /* resumes whatever is suspended */
	MHD_stop_daemon(daemon_);
	password_pool_free(app.passwords);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resume_runs_continuation),
		cmocka_unit_test(test_done_without_reply_answers_500),
		cmocka_unit_test(test_suspended_without_suspending_answers_500),
		cmocka_unit_test(test_queue_full_answers_503),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
