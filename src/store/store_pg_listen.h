#ifndef KEYGATE_STORE_PG_LISTEN_H
#define KEYGATE_STORE_PG_LISTEN_H

struct pg_listener;
struct store_epoch;

/*
 * A thread of its own, on a connection of its own, that LISTENs on the
 * keygate_epoch channel (migrations/postgresql/0002_cache_epoch.sql) and
 * bumps the hints of e for each notification: how a change committed on
 * another host reaches this process's caches, in milliseconds. A lost
 * connection is reopened every second; meanwhile, and for anything a
 * notification misses, the truth rows (read each second) bound the delay.
 */
struct pg_listener *store_pg_listen_start(const char *url, struct store_epoch *e);
void store_pg_listen_stop(struct pg_listener *l);

#endif
