#ifndef KEYGATE_REQUEST_RC_H
#define KEYGATE_REQUEST_RC_H

/*
 * What the code that serves a request returns, in a leaf of its own so
 * that stages (auth/) and handlers (api/) both name them without
 * including the pipeline or the route table that call them.
 */

/* A pipeline stage passes the request on, has queued its reply, or has
 * suspended the connection for a decision made off the thread, whose
 * continuation goes on with the stages after it (http/offload.h). */
enum stage_rc { STAGE_NEXT, STAGE_DONE, STAGE_SUSPENDED };

/* A handler has queued its reply, or has suspended the connection for
 * off-thread work (http/offload.h), whose continuation replies on resume.
 * The pipeline holds handlers to it (a 500 otherwise). */
enum handler_rc {
	HANDLER_DONE,
	HANDLER_SUSPENDED,
};

#endif
