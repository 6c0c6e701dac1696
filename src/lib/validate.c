/* validate.c: Django's field rules for users and books. */
#include "lib/validate.h"

#include <locale.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

static locale_t utf8_locale = (locale_t)0;

int validate_init(void)
{
	utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	return utf8_locale == (locale_t)0 ? -1 : 0;
}

void validate_shutdown(void)
{
	if (utf8_locale != (locale_t)0)
		freelocale(utf8_locale);
	utf8_locale = (locale_t)0;
}

void validate_fail(json_t *errors, const char *field, const char *msg)
{
	json_t *list = json_object_get(errors, field);
	if (list == NULL) {
		list = json_array();
		json_object_set_new(errors, field, list);
	}
	json_array_append_new(list, json_string(msg));
}

/* Decode one code point of valid UTF-8 (jansson has checked it). */
static uint32_t utf8_next(const unsigned char **p)
{
	const unsigned char *s = *p;
	uint32_t c;

	if (s[0] < 0x80) {
		c = s[0];
		*p += 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		c = ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
		*p += 2;
	} else if ((s[0] & 0xf0) == 0xe0) {
		c = ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
		*p += 3;
	} else {
		c = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) | ((uint32_t)(s[2] & 0x3f) << 6) |
		    (s[3] & 0x3f);
		*p += 4;
	}
	return c;
}

size_t validate_utf8_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

const char *validate_string(const json_t *obj, const char *name, int required, json_t *errors, size_t *len)
{
	const json_t *v = json_object_get(obj, name);

	if (v == NULL) {
		if (required)
			validate_fail(errors, name, "This field is required.");
		return NULL;
	}
	if (json_is_null(v)) {
		validate_fail(errors, name, "This field may not be null.");
		return NULL;
	}
	if (!json_is_string(v)) {
		validate_fail(errors, name, "Not a valid string.");
		return NULL;
	}
	*len = json_string_length(v);
	const char *s = json_string_value(v);
	if (memchr(s, '\0', *len) != NULL) {
		validate_fail(errors, name, "Null characters are not allowed.");
		return NULL;
	}
	if (*len == 0) {
		if (required)
			validate_fail(errors, name, "This field may not be blank.");
		return required ? NULL : s;
	}
	return s;
}

int validate_username(const char *s, size_t len, json_t *errors)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	int rc = 0;

	if (validate_utf8_chars(s, len) > 150) {
		validate_fail(errors, "username", "Ensure this field has no more than 150 characters.");
		rc = -1;
	}
	/* Django's UnicodeUsernameValidator: ^[\w.@+-]+\Z */
	while (p < end) {
		uint32_t c = utf8_next(&p);
		if (c == '.' || c == '@' || c == '+' || c == '-' || c == '_' || iswalnum_l((wint_t)c, utf8_locale))
			continue;
		validate_fail(errors, "username",
		    "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.");
		return -1;
	}
	return rc;
}

int validate_password(const char *pw, size_t len, const char *username, json_t *errors)
{
	int rc = 0;
	size_t i;

	if (validate_utf8_chars(pw, len) < 8) {
		validate_fail(errors, "password", "This password is too short. It must contain at least 8 characters.");
		rc = -1;
	}
	for (i = 0; i < len && pw[i] >= '0' && pw[i] <= '9'; i++)
		;
	if (len > 0 && i == len) {
		validate_fail(errors, "password", "This password is entirely numeric.");
		rc = -1;
	}
	if (username != NULL && strlen(username) == len && strncasecmp(username, pw, len) == 0) {
		validate_fail(errors, "password", "The password is too similar to the username.");
		rc = -1;
	}
	return rc;
}

static int email_atom_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL || c >= 0x80;
}

/* A dot-atom local part and a domain of dotted labels with a letter TLD:
 * what Django's EmailValidator accepts, less quoted local parts and IP
 * literals. */
int validate_email(const char *s, size_t len, json_t *errors)
{
	const char *at = memchr(s, '@', len);
	size_t i;

	if (len > 254 || at == NULL || at == s || memchr(at + 1, '@', len - (size_t)(at - s) - 1) != NULL)
		goto bad;
	for (i = 0; s + i < at; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.' && (i == 0 || s[i - 1] == '.' || s + i + 1 == at))
			goto bad;
		if (c != '.' && !email_atom_char(c))
			goto bad;
	}
	const char *d = at + 1, *end = s + len, *label = d, *last = d;
	if (d == end)
		goto bad;
	for (const char *p = d; p <= end; p++) {
		if (p == end || *p == '.') {
			size_t ll = (size_t)(p - label);
			if (ll == 0 || ll > 63 || label[0] == '-' || p[-1] == '-')
				goto bad;
			last = label;
			label = p + 1;
			continue;
		}
		unsigned char c = (unsigned char)*p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			c >= 0x80))
			goto bad;
	}
	if (last == d) /* no dot: Django wants a TLD */
		goto bad;
	for (const char *p = last; p < end; p++)
		if (*p >= '0' && *p <= '9')
			goto bad;
	return 0;
bad:
	validate_fail(errors, "email", "Enter a valid email address.");
	return -1;
}

int validate_title(const char *s, size_t len, json_t *errors)
{
	if (validate_utf8_chars(s, len) > 100) {
		validate_fail(errors, "title", "Ensure this field has no more than 100 characters.");
		return -1;
	}
	return 0;
}
