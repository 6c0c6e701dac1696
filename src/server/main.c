/*
 * main.c: the table of commands, start-up and shutdown, one call per step;
 * teardown in reverse.
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
#include "http/http_method.h"
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

/* What a command needs before it runs: main opens each step in this order
 * and, once the command returns, closes them in reverse. */
enum needs {
	NEEDS_CONFIG, /* the configuration alone */
	NEEDS_STORE, /* and the database, migrated */
	NEEDS_APP, /* and the throttle, the secrets and the caches */
	NEEDS_SERVE, /* and the decoy password hash; the secrets wiped at the end */
};

/* One command. Parsing (cli_parse), dispatch (main) and --help (usage) read
 * this table; its first row is the default. */
struct command {
	const char *name; /* its words: "routes", "user disable" */
	const char *arg; /* its arguments as --help shows them: "NAME" (one,
			  * required), "NAME TIER" (two, required), "[URL]"
			  * (one, optional), or NULL (none) */
	enum needs needs;
	int (*run)(struct app *app, const char *arg); /* returns the exit status */
	int (*run2)(struct app *app, const char *arg, const char *arg2); /* instead, for two */
	const char *help; /* its line in --help; NULL: told in another's */
};

static int cmd_serve(struct app *app, const char *arg);
static int cmd_migrate(struct app *app, const char *arg);
static int cmd_healthcheck(struct app *app, const char *url);
static int cmd_routes(struct app *app, const char *arg);

static const struct command commands[] = {
	{ .name = "serve", .needs = NEEDS_SERVE, .run = cmd_serve, .help = "run the HTTP API server" },
	{ .name = "migrate",
	    .needs = NEEDS_STORE,
	    .run = cmd_migrate,
	    .help = "bring the database schema up to date and exit" },
	{ .name = "user list", .needs = NEEDS_APP, .run = admin_user_list, .help = "list users" },
	{ .name = "user disable",
	    .arg = "NAME",
	    .needs = NEEDS_APP,
	    .run = admin_user_disable,
	    .help = "refuse a user's tokens and key from now on (user enable NAME undoes it)" },
	{ .name = "user enable", .arg = "NAME", .needs = NEEDS_APP, .run = admin_user_enable },
	{ .name = "user tier",
	    .arg = "NAME TIER",
	    .needs = NEEDS_APP,
	    .run2 = admin_user_tier,
	    .help = "put a user in a [tier] of the configuration (default: none)" },
	{ .name = "key regenerate",
	    .arg = "NAME",
	    .needs = NEEDS_APP,
	    .run = admin_key_regenerate,
	    .help = "give a user a new API key, printed once" },
	{ .name = "quota show",
	    .arg = "NAME",
	    .needs = NEEDS_APP,
	    .run = admin_quota_show,
	    .help = "a user's api_key window, without spending any" },
	{ .name = "quota reset",
	    .arg = "NAME",
	    .needs = NEEDS_APP,
	    .run = admin_quota_reset,
	    .help = "forget a user's api_key window" },
	{ .name = "healthcheck",
	    .arg = "[URL]",
	    .needs = NEEDS_CONFIG,
	    .run = cmd_healthcheck,
	    .help = "exit 0 if GET /healthz on the listen address (or URL) answers 200" },
	{ .name = "routes",
	    .needs = NEEDS_CONFIG,
	    .run = cmd_routes,
	    .help = "print the route table (method, path, authentication, throttle scope)" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

struct cli {
	const char *config_file;
	const struct command *cmd;
	const char *arg; /* the command's argument, or NULL */
	const char *arg2; /* its second (run2), or NULL */
	int check_config;
	int noverrides;
	struct config_override overrides[MAX_OVERRIDES]; /* point into argv */
};

/* "user disable NAME"; the default's "serve (default)". */
static void command_synopsis(const struct command *cmd, char *out, size_t outlen)
{
	if (cmd->arg != NULL)
		snprintf(out, outlen, "%s %s", cmd->name, cmd->arg);
	else
		snprintf(out, outlen, "%s%s", cmd->name, cmd == &commands[0] ? " (default)" : "");
}

static void usage(FILE *out)
{
	fprintf(out, "usage: keygate [options] [COMMAND]\n\n");
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char synopsis[64];
		if (commands[i].help == NULL)
			continue;
		command_synopsis(&commands[i], synopsis, sizeof(synopsis));
		fprintf(out, "  %-21s %s\n", synopsis, commands[i].help);
	}
	fprintf(out, "\n"
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

/* The operator's commands (those of two words), in lines of at most 100
 * columns. */
static void usage_operator(FILE *out)
{
	int col = fprintf(out, "usage: keygate");

	for (size_t i = 0, n = 0; i < NCOMMANDS; i++) {
		char synopsis[64];
		if (strchr(commands[i].name, ' ') == NULL)
			continue;
		command_synopsis(&commands[i], synopsis, sizeof(synopsis));
		if (n++ > 0)
			col += fprintf(out, " |");
		if (col + 1 + (int)strlen(synopsis) > 100)
			col = fprintf(out, "\n      ");
		col += fprintf(out, " %s", synopsis);
	}
	fprintf(out, "\n");
}

/* How many of argv's words name cmd: all of its name's, or 0. */
static int command_words(const struct command *cmd, int argc, char **argv)
{
	const char *p = cmd->name;
	int i = 0;

	while (*p != '\0') {
		size_t n = strcspn(p, " ");
		if (i == argc || strlen(argv[i]) != n || strncmp(argv[i], p, n) != 0)
			return 0;
		i++;
		p += n + (p[n] == ' ');
	}
	return i;
}

/* Whether cmd takes nargs arguments: "NAME" one, "NAME TIER" two, "[URL]"
 * none or one. */
static int command_takes(const struct command *cmd, int nargs)
{
	if (cmd->arg == NULL)
		return nargs == 0;
	if (cmd->run2 != NULL)
		return nargs == 2;
	return nargs == 1 || (nargs == 0 && cmd->arg[0] == '[');
}

/* Whether word is the first of an operator's command ("user"). */
static int operator_word(const char *word)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		size_t len = strcspn(commands[i].name, " ");
		if (commands[i].name[len] == ' ' && strlen(word) == len && strncmp(word, commands[i].name, len) == 0)
			return 1;
	}
	return 0;
}

/* The command argv names, with its argument; else a usage error (exit 2),
 * with the operator's usage for a word that opens one of theirs. */
static void command_parse(int argc, char **argv, struct cli *cli)
{
	cli->cmd = &commands[0];
	if (argc == 0)
		return;
	for (size_t i = 0; i < NCOMMANDS; i++) {
		int words = command_words(&commands[i], argc, argv);
		if (words == 0 || !command_takes(&commands[i], argc - words))
			continue;
		cli->cmd = &commands[i];
		cli->arg = argc > words ? argv[words] : NULL;
		cli->arg2 = argc > words + 1 ? argv[words + 1] : NULL;
		return;
	}
	if (operator_word(argv[0]))
		usage_operator(stderr);
	else
		usage(stderr);
	exit(2);
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
	command_parse(argc - optind, argv + optind, cli);
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
static int cmd_routes(struct app *app, const char *arg)
{
	(void)app;
	(void)arg;
	for (unsigned i = 0; i < router_nroutes; i++) {
		const struct route *rt = &router_routes[i];
		for (unsigned m = 0; m < http_nmethods; m++) {
			if (!(rt->method & http_methods[m].bit))
				continue;
			printf("%-7s %-24s %-7s %s\n", http_methods[m].name, rt->path,
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

static void serve(struct app *app, const struct config *cfg)
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
		reload_config(app, app->src);
		sdnotify("READY=1");
	}
	sdnotify("STOPPING=1");
	atomic_store(&app->draining, 1);
	log_info("%s: shutting down: no new connections, finishing requests in flight",
	    sig == SIGINT ? "SIGINT" : "SIGTERM");
	http_server_quiesce(srv);
	if (http_server_wait_idle(srv, cfg->shutdown_grace_ms) == -1)
		log_warnx("shutdown grace period over with requests still in flight; closing them");
	/* Resume every suspended connection before MHD is stopped: throttle
	 * decisions out are answered (later ones answer on_error at once), and
	 * a login arriving after the pool stops (on a kept-alive connection)
	 * gets 503. */
	throttle_async_stop(app->throttle);
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

static int cmd_serve(struct app *app, const char *arg)
{
	(void)arg;
	serve(app, app_config(app));
	return 0;
}

static int cmd_migrate(struct app *app, const char *arg)
{
	(void)app;
	(void)arg;
	log_info("database: schema is up to date");
	return 0;
}

static int cmd_healthcheck(struct app *app, const char *url)
{
	return healthcheck_run(app_config(app), url);
}

/* Open what cmd needs, in order (the configuration is built already). */
static void app_open(struct app *app, struct config *cfg, enum needs needs)
{
	char err[512];

	if (needs < NEEDS_STORE)
		return;
	log_set_level(cfg->log_level);
	umask(077); /* every file we create is ours alone */
	data_dir_ensure(cfg);
	app->store = store_open(cfg, err, sizeof(err));
	if (app->store == NULL)
		fatalx("database: %s", err);
	if (needs < NEEDS_APP)
		return;
	app->throttle = throttle_open(cfg, err, sizeof(err));
	if (app->throttle == NULL)
		fatalx("throttle: %s", err);
	secrets_load(app, cfg);
	/* The signer and the store hold their secrets now: the configuration
	 * (and every one a reload retains) holds none. */
	config_drop_secrets(cfg);
	keycache_init(cfg->key_cache);
	namecache_init(cfg->key_cache);
	list_cache_init(cfg->list_cache);
	if (needs < NEEDS_SERVE)
		return;
	if (password_hash_now("keygate-dummy-password", 22, app->dummy_hash) == -1)
		fatalx("cannot hash a password (out of memory?)");
}

/* Close what app_open opened, in reverse. After the server stopped,
 * nothing of the secrets stays in memory. */
static void app_close(struct app *app, enum needs needs)
{
	if (needs == NEEDS_SERVE)
		reload_free_retired();
	if (needs >= NEEDS_APP)
		throttle_close(app->throttle);
	if (needs >= NEEDS_STORE)
		store_close(app->store);
	if (needs < NEEDS_SERVE)
		return;
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
	app.src = &src;
	if (config_build(&cfg, &src, err, sizeof(err)) == -1)
		fatalx("config: %s", err);
	harden(&cfg);
	if (cli.check_config) {
		config_print(&cfg, stdout);
		return 0;
	}
	app_open(&app, &cfg, cli.cmd->needs);
	int status = cli.cmd->run2 != NULL ? cli.cmd->run2(&app, cli.arg, cli.arg2) : cli.cmd->run(&app, cli.arg);
	app_close(&app, cli.cmd->needs);
	return status;
}
