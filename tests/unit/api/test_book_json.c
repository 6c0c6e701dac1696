/* Unit tests: the one JSON text of a book, as jansson would write it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/book_json.h"

static json_t *as_jansson(const struct store_book *b)
{
	return json_pack("{s:I, s:s, s:I, s:s}", "id", (json_int_t)b->id, "title", b->title, "author",
	    (json_int_t)b->author, "publication_date", b->publication_date);
}

static void same_as_jansson(const char *title)
{
	struct store_book b = { .id = 12, .author = 3, .publication_date = "2026-02-03" };
	struct book_json j;

	strncpy(b.title, title, sizeof(b.title) - 1);
	book_json_init(&j);
	assert_int_equal(book_json_one(&j, &b), 0);
	json_t *one = json_pack("{s:s, s:o}", "message", "successful", "data", as_jansson(&b));
	char *want = json_dumps(one, JSON_COMPACT);
	json_decref(one);
	assert_string_equal(j.text, want);
	free(want);
	book_json_list_begin(&j);
	book_json_list_add(&j, &b);
	book_json_list_add(&j, &b);
	assert_int_equal(book_json_list_end(&j), 0);
	json_t *list = json_array();
	json_array_append_new(list, as_jansson(&b));
	json_array_append_new(list, as_jansson(&b));
	json_t *reply = json_pack("{s:s, s:o}", "message", "successful", "data", list);
	want = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	assert_string_equal(j.text, want);
	assert_int_equal(j.len, strlen(want));
	free(want);
	book_json_free(&j);
}

static void test_plain_and_escaped_titles(void **state)
{
	(void)state;
	same_as_jansson("Dune");
	same_as_jansson("q\"\\/\t\n\r\b\f\x01\x1f\x7f");
	same_as_jansson("caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x93\x9a"); /* é, U+2028, an astral one */
}

static void test_empty_list(void **state)
{
	struct book_json j;
	(void)state;
	book_json_init(&j);
	book_json_list_begin(&j);
	assert_int_equal(book_json_list_end(&j), 0);
	assert_string_equal(j.text, "{\"message\":\"successful\",\"data\":[]}");
	book_json_free(&j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_and_escaped_titles),
		cmocka_unit_test(test_empty_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
