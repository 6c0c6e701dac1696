/* Unit tests: the route table, 404 against 405, {id} matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "api/router.h"

static void test_match(void **state)
{
	const struct route *rt;
	int64_t id;
	unsigned allow;
	char s[64];
	(void)state;

	assert_int_equal(router_match("/users/signup/", HTTP_POST, &rt, &id, &allow), ROUTER_FOUND);
	assert_string_equal(rt->path, "/users/signup/");
	assert_int_equal(router_match("/users/login/refresh", HTTP_POST, &rt, &id, &allow), ROUTER_FOUND);
	assert_int_equal(router_match("/users/login/refresh/", HTTP_POST, &rt, &id, &allow), ROUTER_FOUND);
	assert_int_equal(router_match("/users/signup", HTTP_POST, &rt, &id, &allow), ROUTER_NO_PATH);
	assert_int_equal(router_match("/users/signup/x", HTTP_POST, &rt, &id, &allow), ROUTER_NO_PATH);
	assert_int_equal(router_match("/", HTTP_GET, &rt, &id, &allow), ROUTER_NO_PATH);
	assert_int_equal(router_match("/healthz", HTTP_HEAD, &rt, &id, &allow), ROUTER_FOUND);

	assert_int_equal(router_match("/users/api_key/get/", HTTP_DELETE, &rt, &id, &allow), ROUTER_NO_METHOD);
	assert_true(rt->flags & ROUTE_F_JWT);
	router_allow_string(allow, s, sizeof(s));
	assert_string_equal(s, "GET, HEAD, PUT");
	assert_int_equal(router_match("/users/signup/", HTTP_GET, &rt, &id, &allow), ROUTER_NO_METHOD);
	router_allow_string(allow, s, sizeof(s));
	assert_string_equal(s, "POST");
}

/* /verify takes any method, known or not, and is never a 405. */
static void test_any_method(void **state)
{
	static const enum http_method all[] = { HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE,
		HTTP_OPTIONS, HTTP_OTHER };
	const struct route *rt;
	int64_t id;
	unsigned allow;
	char s[64];
	(void)state;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_int_equal(router_match("/verify", all[i], &rt, &id, &allow), ROUTER_FOUND);
		assert_string_equal(rt->path, "/verify");
		assert_true(rt->flags & ROUTE_F_APIKEY);
		assert_true(rt->flags & ROUTE_F_FORWARD);
		assert_int_equal(rt->scope, SCOPE_API_KEY); /* the books' window */
	}
	assert_int_equal(router_match("/verify/", HTTP_GET, &rt, &id, &allow), ROUTER_NO_PATH);
	router_allow_string(HTTP_ANY, s, sizeof(s));
	assert_string_equal(s, "*");
	/* A one-method route still matches only its method. */
	assert_int_equal(router_match("/books/", HTTP_OPTIONS, &rt, &id, &allow), ROUTER_NO_METHOD);
}

static void test_flags(void **state)
{
	(void)state;
	for (unsigned i = 0; i < router_nroutes; i++) {
		const struct route *rt = &router_routes[i];
		assert_non_null(rt->handler);
		assert_true(rt->path[0] == '/');
		/* A route with a body takes it by POST, PUT or PATCH. */
		if (rt->flags & ROUTE_F_BODY)
			assert_true(rt->method & (HTTP_POST | HTTP_PUT | HTTP_PATCH));
	}
}

/* Each matched route names its own counter: its place in the table. */
static void test_index(void **state)
{
	const struct route *rt;
	int64_t id;
	unsigned allow;
	(void)state;

	for (unsigned i = 0; i < router_nroutes; i++)
		assert_int_equal(router_index(&router_routes[i]), i);
	assert_int_equal(router_match("/books/7/", HTTP_GET, &rt, &id, &allow), ROUTER_FOUND);
	assert_true(router_index(rt) < router_nroutes);
	assert_ptr_equal(&router_routes[router_index(rt)], rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_any_method),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_index),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
