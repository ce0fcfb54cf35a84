/*
 * literal.c — integer settings read with the precision the file wrote.
 *
 * libconfig 1.5 stores an integer literal without an L suffix as a C int,
 * silently wrapping anything beyond 32 bits (shm_size = 5000000000 would
 * become 705032704). So for an int setting the loader reads the source line
 * back: a literal there that does not fit in an int and wraps to exactly the
 * stored value is the one the user wrote, and its full value is used.
 * Master only, during conf_load.
 */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

void conf_source_add(struct conf_ctx *ctx, const char *name, char *text)
{
	if (ctx->nsrc == CONF_SOURCES) {
		free(text);
		return;
	}
	ctx->src[ctx->nsrc].name = name;
	ctx->src[ctx->nsrc].text = text;
	ctx->nsrc++;
}

void conf_sources_free(struct conf_ctx *ctx)
{
	for (unsigned i = 0; i < ctx->nsrc; i++)
		free(ctx->src[i].text);
	ctx->nsrc = 0;
}

/* Whole file, NUL-terminated, or NULL. */
static char *read_text(const char *name)
{
	FILE *f = fopen(name, "r");
	char *text = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&text, &len, '\0', f) < 0) {
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

/* The text of the file a setting came from (NULL name: the main file). */
static const char *source_text(struct conf_ctx *ctx, const char *name)
{
	for (unsigned i = 0; i < ctx->nsrc; i++) {
		const char *n = ctx->src[i].name;

		if (n == name || (n && name && strcmp(n, name) == 0))
			return ctx->src[i].text;
	}
	if (!name || ctx->nsrc == CONF_SOURCES)
		return NULL;
	conf_source_add(ctx, name, read_text(name));
	return ctx->src[ctx->nsrc - 1].text;
}

static const char *line_start(const char *text, unsigned line)
{
	for (unsigned l = 1; l < line && text; l++) {
		text = strchr(text, '\n');
		text = text ? text + 1 : NULL;
	}
	return text;
}

/* Skips a string, comment or blank at p; returns p when there is none. */
static const char *skip_noise(const char *p)
{
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++)
			if (*p == '\\' && p[1])
				p++;
		return *p ? p + 1 : p;
	}
	if (*p == '#' || (p[0] == '/' && p[1] == '/'))
		return p + strcspn(p, "\n");
	if (p[0] == '/' && p[1] == '*') {
		const char *end = strstr(p + 2, "*/");

		return end ? end + 2 : p + strlen(p);
	}
	if (*p == ' ' || *p == '\t' || *p == '\r')
		return p + 1;
	return p;
}

static bool word_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c == '_' || c == '-' || c == '+' || c == '.';
}

/* A decimal or hex literal without suffix in [p, end) that libconfig would
 * have wrapped to stored: 0 with its value, -ERANGE beyond 64 bits, or
 * -ENOENT when the word is something else. */
static int wrapped_literal(const char *p, const char *end, int stored, long long *out)
{
	char word[32], *rest;
	bool hex, too_big;
	unsigned long long u;
	long long v;

	if ((size_t)(end - p) >= sizeof(word))
		return -ENOENT;
	memcpy(word, p, (size_t)(end - p));
	word[end - p] = '\0';
	hex = word[0] == '0' && (word[1] == 'x' || word[1] == 'X');
	errno = 0;
	if (hex) {
		u = strtoull(word, &rest, 16);
		too_big = errno == ERANGE || u > LLONG_MAX;
		v = (long long)u;
	} else {
		v = strtoll(word, &rest, 10);
		too_big = errno == ERANGE;
		u = (unsigned long long)v;
	}
	if (rest == word || *rest || (int)(uint32_t)u != stored)
		return -ENOENT;
	if (too_big)
		return -ERANGE;
	if (v >= INT_MIN && v <= INT_MAX)
		return -ENOENT;
	*out = v;
	return 0;
}

/* Scans the setting's line (and the next ones until a number appears,
 * for "key =" followed by the value on a later line). */
static int scan_value(const char *p, int stored, long long *out)
{
	bool number_seen = false;
	unsigned lines = 0;

	while (p && *p) {
		const char *q = skip_noise(p), *end;
		int rc;

		if (q != p) {
			p = q;
			continue;
		}
		if (*p == '\n') {
			if (number_seen || ++lines == 8)
				return -ENOENT;
			p++;
			continue;
		}
		for (end = p; word_char(*end); end++)
			;
		if (end == p) {
			p++;
			continue;
		}
		number_seen |= (*p >= '0' && *p <= '9') || *p == '-' || *p == '+';
		rc = wrapped_literal(p, end, stored, out);
		if (rc != -ENOENT)
			return rc;
		p = end;
	}
	return -ENOENT;
}

int conf_int_value(struct conf_ctx *ctx, const config_setting_t *s, long long *out)
{
	const char *text;
	int rc;

	if (config_setting_type(s) == CONFIG_TYPE_INT64) {
		*out = config_setting_get_int64(s);
		return 0;
	}
	if (config_setting_type(s) != CONFIG_TYPE_INT)
		return -EINVAL;
	*out = config_setting_get_int(s);
	text = source_text(ctx, config_setting_source_file(s));
	rc = scan_value(line_start(text, config_setting_source_line(s)),
			config_setting_get_int(s), out);
	return rc == -ERANGE ? rc : 0;
}
