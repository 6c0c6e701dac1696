/* Unit tests: Django's field rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/validate.h"

static int setup(void **state)
{
	(void)state;
	return validate_init();
}

static int teardown(void **state)
{
	(void)state;
	validate_shutdown();
	return 0;
}

static int username_ok(const char *s)
{
	json_t *e = json_object();
	int rc = validate_username(s, strlen(s), e);
	assert_int_equal(rc == 0, json_object_size(e) == 0);
	json_decref(e);
	return rc == 0;
}

static void test_username(void **state)
{
	(void)state;
	assert_true(username_ok("alice"));
	assert_true(username_ok("a.b@c+d-e_f"));
	assert_true(username_ok("Jos\xc3\xa9")); /* é is a letter */
	assert_true(username_ok("\xe5\xbc\xa0\xe4\xb8\x89")); /* CJK letters */
	assert_false(username_ok("has space"));
	assert_false(username_ok("semi;colon"));
	assert_false(username_ok("quote'"));
	assert_false(username_ok("\xe2\x82\xac")); /* the euro sign is not a letter */
	char longname[152];
	memset(longname, 'a', 151);
	longname[151] = '\0';
	assert_false(username_ok(longname));
	longname[150] = '\0';
	assert_true(username_ok(longname));
}

static json_t *password_errors(const char *pw, const char *user)
{
	json_t *e = json_object();
	validate_password(pw, strlen(pw), user, e);
	return e;
}

static void test_password(void **state)
{
	json_t *e;
	(void)state;

	e = password_errors("correct horse", "alice");
	assert_int_equal(json_object_size(e), 0);
	json_decref(e);
	e = password_errors("short", "alice");
	assert_string_equal(json_string_value(json_array_get(json_object_get(e, "password"), 0)),
	    "This password is too short. It must contain at least 8 characters.");
	json_decref(e);
	e = password_errors("12345678901", "alice");
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(e, "password"), 0)), "This password is entirely numeric.");
	json_decref(e);
	e = password_errors("AliceSmith", "alicesmith");
	assert_string_equal(json_string_value(json_array_get(json_object_get(e, "password"), 0)),
	    "The password is too similar to the username.");
	json_decref(e);
	e = password_errors("1234", "alice"); /* both messages, in Django's order */
	assert_int_equal(json_array_size(json_object_get(e, "password")), 2);
	json_decref(e);
	/* Length counts characters, not bytes: 8 two-byte letters pass. */
	e = password_errors("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "x");
	assert_int_equal(json_object_size(e), 0);
	json_decref(e);
}

static int email_ok(const char *s)
{
	json_t *e = json_object();
	int rc = validate_email(s, strlen(s), e);
	json_decref(e);
	return rc == 0;
}

static void test_email(void **state)
{
	(void)state;
	assert_true(email_ok("a@example.com"));
	assert_true(email_ok("first.last+tag@sub.example.co.uk"));
	assert_false(email_ok("plain"));
	assert_false(email_ok("@example.com"));
	assert_false(email_ok("a@"));
	assert_false(email_ok("a@b@example.com"));
	assert_false(email_ok("a@localhost"));
	assert_false(email_ok("a..b@example.com"));
	assert_false(email_ok(".a@example.com"));
	assert_false(email_ok("a@-example.com"));
	assert_false(email_ok("a@example.123"));
	assert_false(email_ok("a b@example.com"));
}

static void test_string_field(void **state)
{
	json_t *obj =
	    json_pack("{s:s, s:i, s:n, s:s, s:s#}", "ok", "x", "num", 5, "nul", "blank", "", "zero", "a\0b", 3);
	json_t *e = json_object();
	size_t len;
	(void)state;

	assert_string_equal(validate_string(obj, "ok", VALIDATE_REQUIRED, e, &len), "x");
	assert_null(validate_string(obj, "missing", VALIDATE_OPTIONAL, e, &len));
	assert_int_equal(json_object_size(e), 0);
	assert_null(validate_string(obj, "missing", VALIDATE_REQUIRED, e, &len));
	assert_null(validate_string(obj, "num", VALIDATE_REQUIRED, e, &len));
	assert_null(validate_string(obj, "nul", VALIDATE_REQUIRED, e, &len));
	assert_null(validate_string(obj, "blank", VALIDATE_REQUIRED, e, &len));
	assert_null(validate_string(obj, "zero", VALIDATE_REQUIRED, e, &len));
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(e, "missing"), 0)), "This field is required.");
	assert_string_equal(json_string_value(json_array_get(json_object_get(e, "num"), 0)), "Not a valid string.");
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(e, "nul"), 0)), "This field may not be null.");
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(e, "blank"), 0)), "This field may not be blank.");
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(e, "zero"), 0)), "Null characters are not allowed.");
	json_decref(e);
	json_decref(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_username),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_string_field),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
