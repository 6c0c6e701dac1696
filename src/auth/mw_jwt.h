#ifndef KEYGATE_MW_JWT_H
#define KEYGATE_MW_JWT_H

#include "http/http_request.h"
#include "http/request_rc.h"

/* For ROUTE_F_JWT routes: "Authorization: Bearer <access token>" of an
 * active user; sets req->user_id, or replies 401. */
enum stage_rc mw_jwt(struct request *req);

#endif
