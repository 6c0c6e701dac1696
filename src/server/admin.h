#ifndef KEYGATE_ADMIN_H
#define KEYGATE_ADMIN_H

struct app;

/*
 * The operator's commands, on the same database and shared-memory segment
 * as a running server:
 *   user list | user disable NAME | user enable NAME
 *   key regenerate NAME
 *   quota show NAME | quota reset NAME
 * argv[0] is the command word. Prints to stdout; returns the exit status
 * (0 done, 1 failed, 2 usage).
 */
int admin_run(struct app *app, int argc, char **argv);

/* Whether word names an admin command. */
int admin_is_command(const char *word);

#endif
