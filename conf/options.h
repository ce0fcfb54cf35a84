/*
 * options.h — private to conf/: the option table and the loader's helpers.
 *
 * Every key of the file is one struct conf_option in options.c (path, type,
 * field, default, range, reloadable). load.c walks the libconfig tree and
 * hands each setting to its type's parser (types.c); check.c runs the checks
 * that span several keys; query.c compares two configurations. Only the
 * master loads a configuration, single-threaded, so nothing here locks.
 */
#ifndef PINHOLE_CONF_OPTIONS_H
#define PINHOLE_CONF_OPTIONS_H

#include "conf.h"

#include <libconfig.h>

enum conf_type {
	CONF_T_UINT,      /* integer in [min, max] */
	CONF_T_BOOL,      /* true or false */
	CONF_T_STRING,    /* copied into a char[size], validated by check */
	CONF_T_ENUM,      /* one of names[], its index stored */
	CONF_T_SIZE,      /* bytes: an integer or "256M" (K, M, G suffix) */
	CONF_T_LISTEN,    /* list of groups, keys in conf_listen_options */
	CONF_T_DOMAINS,   /* array of strings */
	CONF_T_PORTS,     /* [first, last] into two uint16_t fields */
	CONF_T_COUNT
};

#define CONF_RELOAD   0x1u   /* a reload (SIGHUP) applies a new value */
#define CONF_REQUIRED 0x2u   /* no default: the key must be present */

/* A string check: NULL when value is fine, else the rest of the sentence
 * "\"value\" <reason>" (e.g. "is not an IPv4 or IPv6 address"). */
typedef const char *conf_check_fn(const char *value);

struct conf_option {
	const char *path;          /* "nat.keepalive.interval" */
	enum conf_type type;
	unsigned flags;            /* CONF_RELOAD, CONF_REQUIRED */
	size_t offset, size;       /* the field; lists: the array, one element */
	size_t offset2;            /* lists: the count field; ports: the last */
	uint64_t min, max;         /* integers, sizes, ports; lists: entries */
	uint64_t def;              /* integers, booleans, sizes, enum index;
	                            * lists: number of default entries */
	const char *def_str;       /* strings */
	const void *def_list;      /* lists and ports: the default entries */
	const char *const *names;  /* enums, NULL-terminated */
	conf_check_fn *check;      /* strings and domain names */
};

extern const struct conf_option conf_options[];
extern const size_t conf_noptions;
/* The keys of one listen entry; offsets into struct conf_listen. */
extern const struct conf_option conf_listen_options[];
extern const size_t conf_listen_noptions;
#define CONF_LISTEN_KEYS 3    /* rows of conf_listen_options (asserted) */
#define CONF_LISTEN_PORT 2    /* the row of "port" */

#define CONF_OPT_MAX 64       /* bound on conf_noptions (asserted) */
#define CONF_PATH_LEN 160     /* longest path shown in a message */
#define CONF_SOURCES 8        /* files read back for integer literals */

/* The state of one conf_load. */
struct conf_ctx {
	const char *file;                    /* as given to conf_load */
	struct pinhole_conf *conf;
	struct conf_errors *errs;
	/* Where each option / listen entry was set; NULL while defaulted. */
	const config_setting_t *seen[CONF_OPT_MAX];
	const config_setting_t *listen_seen[CONF_MAX_LISTEN];
	uint32_t listen_bad;                 /* entries with errors (bit i) */
	/* Texts of the files read, for conf_int_value. */
	struct { const char *name; char *text; } src[CONF_SOURCES];
	unsigned nsrc;
};

/* Appends "FILE:LINE: path: reason\n" (line and file of s; without s,
 * "FILE: path: reason") to ctx->errs. */
void conf_error(struct conf_ctx *ctx, const config_setting_t *s,
		const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Appends a whole line as given (syntax errors, unreadable file). */
void conf_error_line(struct conf_errors *errs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

const struct conf_option *conf_option_find(const char *path, size_t *idx);
/* The setting that gave path its value, or NULL (defaulted). */
const config_setting_t *conf_seen(const struct conf_ctx *ctx, const char *path);

/* The value of an integer setting as written: libconfig 1.5 wraps literals
 * beyond 32 bits that lack an L suffix, so the source line is read back.
 * 0, -EINVAL when s is not an integer, -ERANGE beyond 64 bits. */
int conf_int_value(struct conf_ctx *ctx, const config_setting_t *s, long long *out);
/* Hands a file's text (malloc'd; name NULL for the main file) to ctx for
 * conf_int_value; conf_sources_free releases them all. */
void conf_source_add(struct conf_ctx *ctx, const char *name, char *text);
void conf_sources_free(struct conf_ctx *ctx);

struct conf_type_ops {
	void (*set_default)(const struct conf_option *o, void *base);
	/* Parses s into base + o->offset; reports problems, stores nothing
	 * on error (the default stays; listen: see listen_parse). */
	void (*parse)(struct conf_ctx *ctx, const struct conf_option *o,
		      const config_setting_t *s, void *base, const char *path);
	bool (*equal)(const struct conf_option *o, const void *a, const void *b);
};

extern const struct conf_type_ops conf_types[CONF_T_COUNT];

/* Cross-field checks, run after every key was parsed. */
void conf_check_all(struct conf_ctx *ctx);

/* "[::1]:5060" or "127.0.0.1:5060" */
void conf_format_hostport(const char *addr, unsigned port, char *buf, size_t cap);
/* Parses an IPv4/IPv6 literal into 16 bytes (v4 mapped); false if none. */
bool conf_ip_parse(const char *s, uint8_t out[16]);
/* Stores the binary forms of the listen addresses, IP domains and
 * advertise (listen[].ip, domain_ips) once every key is set. */
void conf_ips_store(struct pinhole_conf *conf);

#endif
