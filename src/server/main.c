/*
 * main.c: start-up and shutdown, one call per step; teardown in reverse.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/admin.h"
#include "base/app.h"
#include "base/config.h"
#include "server/healthcheck.h"
#include "auth/keycache.h"
#include "auth/namecache.h"
#include "api/list_cache.h"
#include "server/http_admin.h"
#include "server/http_server.h"
#include "base/log.h"
#include "base/password.h"
#include "server/reload.h"
#include "api/router.h"
#include "server/sdnotify.h"
#include "base/secret.h"
#include "store/store.h"
#include "throttle/throttle.h"
#include "lib/validate.h"

extern char **environ;

#define MAX_OVERRIDES 64

struct cli {
	const char *config_file;
	const char *command;
	int nargs;
	char **args; /* the command word and its arguments */
	int check_config;
	int noverrides;
	struct config_override overrides[MAX_OVERRIDES]; /* point into argv */
};

static void usage(FILE *out)
{
	fprintf(out, "usage: keygate [options] [COMMAND]\n"
		     "\n"
		     "  serve (default)       run the HTTP API server\n"
		     "  migrate               bring the database schema up to date and exit\n"
		     "  user list             list users\n"
		     "  user disable NAME     refuse a user's tokens and key from now on (user enable NAME undoes it)\n"
		     "  key regenerate NAME   give a user a new API key, printed once\n"
		     "  quota show NAME       a user's api_key window, without spending any\n"
		     "  quota reset NAME      forget a user's api_key window\n"
		     "  healthcheck [URL]     exit 0 if GET /healthz on the listen address (or URL) answers 200\n"
		     "  routes                print the route table (method, path, authentication, throttle scope)\n"
		     "\n"
		     "  -c, --config FILE     INI configuration file (or $KEYGATE_CONFIG)\n"
		     "  -o section.key=VALUE  set one configuration key (repeatable)\n"
		     "  -l, --listen ADDR     same as -o server.listen=ADDR\n"
		     "  -d, --data-dir DIR    same as -o server.data_dir=DIR\n"
		     "  -t, --threads N       same as -o server.threads=N\n"
		     "      --check-config    validate the configuration, print it, and exit\n"
		     "  -V, --version         print the version and exit\n"
		     "  -h, --help            print this help and exit\n"
		     "\n"
		     "Precedence: built-in defaults < file < environment (KEYGATE_<SECTION>_<KEY>)\n"
		     "< command line. See config.example.ini for every key.\n");
}

static void add_override(struct cli *cli, const char *key, const char *value)
{
	if (cli->noverrides == MAX_OVERRIDES)
		fatalx("too many -o options");
	cli->overrides[cli->noverrides++] = (struct config_override){ key, value };
}

static void cli_parse(int argc, char **argv, struct cli *cli)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "threads", required_argument, NULL, 't' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	cli->config_file = getenv("KEYGATE_CONFIG");
	while ((ch = getopt_long(argc, argv, "c:o:l:d:t:Vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': cli->config_file = optarg; break;
		case 'l': add_override(cli, "server.listen", optarg); break;
		case 'd': add_override(cli, "server.data_dir", optarg); break;
		case 't': add_override(cli, "server.threads", optarg); break;
		case 'C': cli->check_config = 1; break;
		case 'o': {
			char *eq = strchr(optarg, '=');
			if (eq == NULL)
				fatalx("-o %s: expected section.key=value", optarg);
			*eq = '\0';
			add_override(cli, optarg, eq + 1);
			break;
		}
		case 'V': printf("keygate %s\n", KEYGATE_VERSION); exit(0);
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	cli->command = optind < argc ? argv[optind] : "serve";
	cli->args = argv + optind;
	cli->nargs = argc - optind;
	int takes_args = admin_is_command(cli->command) || strcmp(cli->command, "healthcheck") == 0;
	if ((cli->nargs > 1 && !takes_args) ||
	    (!takes_args && strcmp(cli->command, "serve") != 0 && strcmp(cli->command, "migrate") != 0 &&
		strcmp(cli->command, "routes") != 0)) {
		usage(stderr);
		exit(2);
	}
}

static struct config_source config_source_of(const struct cli *cli)
{
	return (struct config_source){
		.file = cli->config_file,
		.envp = environ,
		.overrides = cli->overrides,
		.noverrides = cli->noverrides,
	};
}

static void data_dir_ensure(const struct config *cfg)
{
	if (mkdir(cfg->data_dir, 0700) == -1 && errno != EEXIST)
		fatal("data directory %s", cfg->data_dir);
}

static void secrets_load(struct app *app, const struct config *cfg)
{
	unsigned char buf[SECRET_MAX];
	char path[CONFIG_PATH_MAX], err[512];
	size_t len;

	if (config_path(cfg, cfg->jwt_secret_file, path, sizeof(path)) == -1)
		fatalx("[auth] jwt_secret_file: path too long");
	if (secret_load(cfg->jwt_secret, path, 1, buf, &len, err, sizeof(err)) == -1)
		fatalx("JWT secret: %s", err);
	if (token_signer_init(
		&app->tokens, buf, len, (cfg->access_ttl_ms + 999) / 1000, (cfg->refresh_ttl_ms + 999) / 1000) == -1)
		fatalx("JWT secret: unusable");
	sodium_memzero(buf, sizeof(buf));

	if (config_path(cfg, cfg->key_secret_file, path, sizeof(path)) == -1)
		fatalx("[auth] key_secret_file: path too long");
	if (secret_load(NULL, path, 1, buf, &len, err, sizeof(err)) == -1)
		fatalx("API key secret: %s", err);
	apikey_keys_init(&app->keys, buf, len);
	sodium_memzero(buf, sizeof(buf));
}

/* Block the shutdown signals in every thread; main takes them with
 * sigwait. Must run before any thread is created. */
static void signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* One line per method a route takes (HTTP_ANY: each named one), as the
 * OpenAPI document lists operations. */
static int print_routes(void)
{
	for (unsigned i = 0; i < router_nroutes; i++) {
		const struct route *rt = &router_routes[i];
		for (unsigned bit = HTTP_GET; bit <= HTTP_OPTIONS; bit <<= 1) {
			char method[16];
			if (!(rt->method & bit))
				continue;
			router_allow_string(bit, method, sizeof(method));
			printf("%-7s %-24s %-7s %s\n", method, rt->path,
			    rt->flags & ROUTE_F_JWT      ? "jwt"
			    : rt->flags & ROUTE_F_APIKEY ? "api_key"
							 : "none",
			    rt->scope != SCOPE_NONE ? throttle_scope_name(rt->scope) : "-");
		}
	}
	return 0;
}

/* Wait for a signal. Meanwhile, every second, check the throttle store
 * (and repair it), and ping the systemd watchdog when it asked to be. */
static int next_signal(struct app *app, const sigset_t *set, uint64_t watchdog_usec)
{
	uint64_t tick_usec = 1000000, since_ping = 0;

	if (watchdog_usec != 0 && watchdog_usec / 2 < tick_usec)
		tick_usec = watchdog_usec / 2; /* as sd_watchdog_enabled(3) advises */
	for (;;) {
		struct timespec ts = { (time_t)(tick_usec / 1000000), (long)(tick_usec % 1000000) * 1000 };
		int sig = sigtimedwait(set, NULL, &ts);
		if (sig > 0)
			return sig;
		if (errno != EAGAIN)
			continue;
		throttle_check(app->throttle);
		log_access_flush();
		since_ping += tick_usec;
		if (watchdog_usec != 0 && since_ping >= watchdog_usec / 2) {
			sdnotify("WATCHDOG=1");
			since_ping = 0;
		}
	}
}

static void serve(struct app *app, const struct config *cfg, const struct config_source *src)
{
	char err[512];
	sigset_t set;
	int sig;

	signals_block(&set);
	log_access_buffer(cfg->access_log_buffer);
	app->passwords = password_pool_new(cfg->hash_threads, cfg->hash_queue, err, sizeof(err));
	if (app->passwords == NULL)
		fatalx("password pool: %s", err);
	struct http_admin *adm = NULL;
	if (cfg->admin_listen[0] != '\0') {
		adm = http_admin_start(app, cfg->admin_listen, err, sizeof(err));
		if (adm == NULL)
			fatalx("admin listener ([server] admin_listen): %s", err);
		log_info("metrics on http://%s/metrics (port %u)", cfg->admin_listen, http_admin_port(adm));
	}
	int listen_fd = sdnotify_listen_fd();
	struct http_server *srv = http_server_start(app, listen_fd, err, sizeof(err));
	if (srv == NULL)
		fatalx("http: %s", err);
	log_info("keygate %s listening on %s (port %u), %u threads, database %s%s%s", KEYGATE_VERSION,
	    listen_fd >= 0 ? "a socket from systemd" : cfg->listen, http_server_port(srv), cfg->threads,
	    cfg->db_url[0] ? "postgresql" : cfg->data_dir, cfg->db_url[0] ? "" : "/",
	    cfg->db_url[0] ? "" : cfg->db_path);
	/* Listening, migrated, secrets loaded: ready for traffic. */
	sdnotify("READY=1");

	uint64_t watchdog = sdnotify_watchdog_usec();
	while ((sig = next_signal(app, &set, watchdog)) == SIGHUP) {
		sdnotify("RELOADING=1");
		reload_config(app, src);
		sdnotify("READY=1");
	}
	sdnotify("STOPPING=1");
	atomic_store(&app->draining, 1);
	log_info("%s: shutting down: no new connections, finishing requests in flight",
	    sig == SIGINT ? "SIGINT" : "SIGTERM");
	http_server_quiesce(srv);
	if (http_server_wait_idle(srv, cfg->shutdown_grace_ms) == -1)
		log_warnx("shutdown grace period over with requests still in flight; closing them");
	/* Resumes every suspended connection before MHD is stopped; a login
	 * arriving after it (on a kept-alive connection) gets 503. */
	password_pool_stop(app->passwords);
	/* The HTTP threads stop before anything they use is freed. */
	http_server_stop(srv);
	http_admin_stop(adm);
	password_pool_free(app->passwords);
	log_access_free();
}

/* What every command needs before it reads its configuration. */
static void process_init(void)
{
	if (sodium_init() < 0)
		fatalx("libsodium cannot start");
	json_object_seed(0);
	secret_wipe_json_frees(); /* passwords and tokens pass through jansson */
	if (validate_init() == -1)
		fatalx("the C.UTF-8 locale is missing");
}

/* No core dump, no ptrace by the same user, /proc/PID/environ and mem
 * root's alone: a core would hold the secrets and the passwords being
 * hashed. [server] core_dumps = yes when debugging a crash. */
static void harden(const struct config *cfg)
{
	if (!cfg->core_dumps && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		log_warn("prctl(PR_SET_DUMPABLE)");
}

static void app_close(struct app *app)
{
	throttle_close(app->throttle);
	store_close(app->store);
}

/* After the server stopped: nothing of the secrets stays in memory. */
static void app_shutdown(struct app *app)
{
	reload_free_retired();
	app_close(app);
	validate_shutdown();
	sodium_memzero(&app->tokens, sizeof(app->tokens));
	sodium_memzero(&app->keys, sizeof(app->keys));
	log_info("stopped");
}

int main(int argc, char **argv)
{
	struct cli cli = { 0 };
	struct config cfg;
	struct app app = { .cfg = &cfg };
	struct config_source src;
	char err[512];

	process_init();
	cli_parse(argc, argv, &cli);
	src = config_source_of(&cli);
	if (config_build(&cfg, &src, err, sizeof(err)) == -1)
		fatalx("config: %s", err);
	harden(&cfg);
	if (cli.check_config) {
		config_print(&cfg, stdout);
		return 0;
	}
	if (strcmp(cli.command, "routes") == 0)
		return print_routes();
	if (strcmp(cli.command, "healthcheck") == 0)
		return healthcheck_run(&cfg, cli.nargs > 1 ? cli.args[1] : NULL);
	log_set_level(cfg.log_level);
	umask(077); /* every file we create is ours alone */
	data_dir_ensure(&cfg);

	app.store = store_open(&cfg, err, sizeof(err));
	if (app.store == NULL)
		fatalx("database: %s", err);
	if (strcmp(cli.command, "migrate") == 0) {
		log_info("database: schema is up to date");
		store_close(app.store);
		return 0;
	}
	app.throttle = throttle_open(&cfg, err, sizeof(err));
	if (app.throttle == NULL)
		fatalx("throttle: %s", err);
	secrets_load(&app, &cfg);
	/* The signer and the store hold their secrets now: the configuration
	 * (and every one a reload retains) holds none. */
	config_drop_secrets(&cfg);
	keycache_init(cfg.key_cache);
	namecache_init(cfg.key_cache);
	list_cache_init(cfg.list_cache);
	if (admin_is_command(cli.command)) {
		int status = admin_run(&app, cli.nargs, cli.args);
		app_close(&app);
		return status;
	}
	if (password_hash_now("keygate-dummy-password", 22, app.dummy_hash) == -1)
		fatalx("cannot hash a password (out of memory?)");

	serve(&app, &cfg, &src);
	app_shutdown(&app);
	return 0;
}
