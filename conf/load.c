/*
 * load.c — conf_load: read a libconfig file into a struct pinhole_conf.
 *
 * Defaults first, then every setting of the file is matched against the
 * option table (options.c) and parsed by its type (types.c); keys the table
 * does not know are errors at every level, so typos never pass silently.
 * Cross-field checks (check.c) run last. Problems are collected, one
 * "FILE:LINE: path: reason" line each, never logged. This is the only code
 * that calls libconfig. Called by the master at start, on SIGHUP and for -c.
 */
#include "options.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define CONF_FILE_MAX (1 << 20)   /* bytes; a config is a few kilobytes */

static void errors_vappend(struct conf_errors *errs, const char *fmt, va_list ap)
{
	char line[1024];
	int n = vsnprintf(line, sizeof(line), fmt, ap);

	errs->count++;
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (errs->len + (size_t)n + 2 > sizeof(errs->text))
		return;
	memcpy(errs->text + errs->len, line, (size_t)n);
	errs->len += (size_t)n;
	errs->text[errs->len++] = '\n';
	errs->text[errs->len] = '\0';
}

void conf_error_line(struct conf_errors *errs, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errors_vappend(errs, fmt, ap);
	va_end(ap);
}

void conf_error(struct conf_ctx *ctx, const config_setting_t *s,
		const char *path, const char *fmt, ...)
{
	const char *file = s && config_setting_source_file(s) ?
			   config_setting_source_file(s) : ctx->file;
	char reason[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (s && config_setting_source_line(s))
		conf_error_line(ctx->errs, "%s:%u: %s: %s", file,
				config_setting_source_line(s), path, reason);
	else
		conf_error_line(ctx->errs, "%s: %s: %s", file, path, reason);
}

/* Whether some option lives below path ("nat" for "nat.detect"). */
static bool is_group_path(const char *path)
{
	size_t len = strlen(path);

	for (size_t i = 0; i < conf_noptions; i++)
		if (strncmp(conf_options[i].path, path, len) == 0 &&
		    conf_options[i].path[len] == '.')
			return true;
	return false;
}

static void walk_group(struct conf_ctx *ctx, const config_setting_t *group,
		       const char *prefix)
{
	char path[CONF_PATH_LEN];

	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const struct conf_option *o;
		size_t idx;

		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "",
			 config_setting_name(s));
		o = conf_option_find(path, &idx);
		if (o) {
			ctx->seen[idx] = s;
			conf_types[o->type].parse(ctx, o, s, ctx->conf, path);
		} else if (!is_group_path(path)) {
			conf_error(ctx, s, path, "unknown key");
		} else if (!config_setting_is_group(s)) {
			conf_error(ctx, s, path, "expected a group { ... }");
		} else {
			walk_group(ctx, s, path);
		}
	}
}

/* The whole file into a malloc'd string; -errno (reported) on failure. */
static int read_file(struct conf_ctx *ctx, char **out)
{
	FILE *f = fopen(ctx->file, "r");
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	*out = NULL;
	if (!f) {
		rc = -errno;
		conf_error_line(ctx->errs, "%s: cannot open: %s", ctx->file, strerror(-rc));
		return rc;
	}
	n = getdelim(out, &cap, '\0', f);
	if (n < 0 && ferror(f)) {
		rc = errno ? -errno : -EIO;
		conf_error_line(ctx->errs, "%s: cannot read: %s", ctx->file, strerror(-rc));
	} else if (n > CONF_FILE_MAX || (n >= 0 && !feof(f))) {
		rc = -EINVAL;
		conf_error_line(ctx->errs, "%s: not a configuration file (NUL bytes or "
				"over %d bytes)", ctx->file, CONF_FILE_MAX);
	} else if (n < 0) {
		free(*out);
		*out = strdup("");
		rc = *out ? 0 : -ENOMEM;
	}
	fclose(f);
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* Parses text with libconfig; a syntax error is reported. */
static int parse_text(struct conf_ctx *ctx, config_t *cfg, const char *text)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", ctx->file);
	config_set_include_dir(cfg, dirname(dir));
	if (config_read_string(cfg, text) == CONFIG_TRUE)
		return 0;
	conf_error_line(ctx->errs, "%s:%d: syntax error: %s",
			config_error_file(cfg) ? config_error_file(cfg) : ctx->file,
			config_error_line(cfg), config_error_text(cfg));
	return -EINVAL;
}

static void set_path(struct conf_ctx *ctx)
{
	char *abs = realpath(ctx->file, NULL);
	const char *p = abs ? abs : ctx->file;

	if (strlen(p) >= sizeof(ctx->conf->path))
		conf_error_line(ctx->errs, "%s: path too long", ctx->file);
	else
		memcpy(ctx->conf->path, p, strlen(p) + 1);
	free(abs);
}

int conf_load(const char *path, struct pinhole_conf *out, struct conf_errors *errs)
{
	struct conf_ctx ctx = { .file = path, .conf = out, .errs = errs };
	config_t cfg;
	char *text;
	int rc;

	errs->text[0] = '\0';
	errs->len = 0;
	errs->count = 0;
	conf_defaults(out);
	rc = read_file(&ctx, &text);
	if (rc < 0)
		return rc;
	conf_source_add(&ctx, NULL, text);
	config_init(&cfg);
	if (parse_text(&ctx, &cfg, text) == 0) {
		set_path(&ctx);
		walk_group(&ctx, config_root_setting(&cfg), "");
		conf_check_all(&ctx);
		conf_ips_store(out);
	}
	config_destroy(&cfg);
	conf_sources_free(&ctx);
	return errs->count ? -EINVAL : 0;
}
