/*
 * types.c — what each option type accepts, how it is stored and compared.
 *
 * One entry of conf_types[] per enum conf_type: set the default, parse a
 * libconfig setting into the field (reporting every problem with the
 * option's path and allowed values), compare two configurations' fields.
 * Fields are written through memcpy by their size, so one integer parser
 * serves uint8_t, uint16_t, unsigned, int and bool fields. Master only.
 */
#include "options.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <strings.h>

static void *field(const struct conf_option *o, void *base)
{
	return (char *)base + o->offset;
}

static const void *cfield(const struct conf_option *o, const void *base)
{
	return (const char *)base + o->offset;
}

static void put_uint(void *p, size_t size, uint64_t v)
{
	uint8_t v8 = (uint8_t)v;
	uint16_t v16 = (uint16_t)v;
	uint32_t v32 = (uint32_t)v;

	if (size == 1)
		memcpy(p, &v8, 1);
	else if (size == 2)
		memcpy(p, &v16, 2);
	else if (size == 4)
		memcpy(p, &v32, 4);
	else
		memcpy(p, &v, 8);
}

static uint64_t get_uint(const void *p, size_t size)
{
	uint8_t v8;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (size) {
	case 1:
		memcpy(&v8, p, 1);
		return v8;
	case 2:
		memcpy(&v16, p, 2);
		return v16;
	case 4:
		memcpy(&v32, p, 4);
		return v32;
	default:
		memcpy(&v64, p, 8);
		return v64;
	}
}

/* ---- integers, booleans, enums ---------------------------------------- */

static void scalar_default(const struct conf_option *o, void *base)
{
	put_uint(field(o, base), o->size, o->def);
}

static bool scalar_equal(const struct conf_option *o, const void *a, const void *b)
{
	return get_uint(cfield(o, a), o->size) == get_uint(cfield(o, b), o->size);
}

/* Reads an integer in [o->min, o->max]; reports and fails otherwise. */
static int read_ranged(struct conf_ctx *ctx, const struct conf_option *o,
		       const config_setting_t *s, const char *path, uint64_t *out)
{
	long long v;
	int rc = conf_int_value(ctx, s, &v);

	if (rc == -EINVAL) {
		conf_error(ctx, s, path, "expected an integer");
		return rc;
	}
	if (rc == -ERANGE || v < 0 || (uint64_t)v < o->min || (uint64_t)v > o->max) {
		if (rc == -ERANGE)
			conf_error(ctx, s, path, "too large, out of range (%" PRIu64 "..%" PRIu64 ")",
				   o->min, o->max);
		else
			conf_error(ctx, s, path, "%lld is out of range (%" PRIu64 "..%" PRIu64 ")",
				   v, o->min, o->max);
		return -ERANGE;
	}
	*out = (uint64_t)v;
	return 0;
}

static void uint_parse(struct conf_ctx *ctx, const struct conf_option *o,
		       const config_setting_t *s, void *base, const char *path)
{
	uint64_t v;

	if (read_ranged(ctx, o, s, path, &v) == 0)
		put_uint(field(o, base), o->size, v);
}

static void bool_parse(struct conf_ctx *ctx, const struct conf_option *o,
		       const config_setting_t *s, void *base, const char *path)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		conf_error(ctx, s, path, "expected true or false");
		return;
	}
	put_uint(field(o, base), o->size, config_setting_get_bool(s) ? 1 : 0);
}

/* "\"a\", \"b\" or \"c\"" */
static void enum_list(const char *const *names, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; names[i] && n < cap; i++) {
		const char *sep = i == 0 ? "" : names[i + 1] ? ", " : " or ";

		n += (size_t)snprintf(buf + n, cap - n, "%s\"%s\"", sep, names[i]);
	}
}

static void enum_parse(struct conf_ctx *ctx, const struct conf_option *o,
		       const config_setting_t *s, void *base, const char *path)
{
	char allowed[160];
	const char *v;

	enum_list(o->names, allowed, sizeof(allowed));
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_error(ctx, s, path, "expected a string: %s", allowed);
		return;
	}
	v = config_setting_get_string(s);
	for (size_t i = 0; o->names[i]; i++) {
		if (strcasecmp(v, o->names[i]) == 0) {
			put_uint(field(o, base), o->size, i);
			return;
		}
	}
	conf_error(ctx, s, path, "bad value \"%s\", expected %s", v, allowed);
}

/* ---- strings ------------------------------------------------------------ */

static void string_default(const struct conf_option *o, void *base)
{
	snprintf(field(o, base), o->size, "%s", o->def_str);
}

static bool string_equal(const struct conf_option *o, const void *a, const void *b)
{
	return strcmp(cfield(o, a), cfield(o, b)) == 0;
}

/* Validates a string setting for a char[cap] field: length and check. */
static const char *read_string(struct conf_ctx *ctx, const config_setting_t *s,
			       const char *path, size_t cap, conf_check_fn *check)
{
	const char *v, *why;
	size_t len;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_error(ctx, s, path, "expected a string");
		return NULL;
	}
	v = config_setting_get_string(s);
	len = strlen(v);
	if (len >= cap) {
		conf_error(ctx, s, path, "too long (%zu characters, at most %zu)", len, cap - 1);
		return NULL;
	}
	why = check ? check(v) : NULL;
	if (why) {
		conf_error(ctx, s, path, "\"%s\" %s", v, why);
		return NULL;
	}
	return v;
}

static void string_parse(struct conf_ctx *ctx, const struct conf_option *o,
			 const config_setting_t *s, void *base, const char *path)
{
	const char *v = read_string(ctx, s, path, o->size, o->check);

	if (v)
		memcpy(field(o, base), v, strlen(v) + 1);
}

/* ---- sizes ---------------------------------------------------------------- */

/* "64G", "4M", "1536K" or plain bytes, whichever is exact. */
static void format_size(uint64_t v, char *buf, size_t cap)
{
	static const char units[] = "GMK";

	for (int i = 0; i < 3; i++) {
		uint64_t unit = 1ull << (10 * (3 - i));

		if (v && v % unit == 0) {
			snprintf(buf, cap, "%" PRIu64 "%c", v / unit, units[i]);
			return;
		}
	}
	snprintf(buf, cap, "%" PRIu64, v);
}

/* Digits then an optional K, M or G (either case); 0 or -EINVAL/-ERANGE. */
static int size_from_string(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return -EINVAL;
	if (*p) {
		const char *u = strchr("KkMmGg", *p);

		if (!u || p[1])
			return -EINVAL;
		shift = 10u * (unsigned)((u - "KkMmGg") / 2 + 1);
	}
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

static void size_parse(struct conf_ctx *ctx, const struct conf_option *o,
		       const config_setting_t *s, void *base, const char *path)
{
	char lo[24], hi[24], shown[48];
	long long n;
	uint64_t v = 0;
	int rc;

	format_size(o->min, lo, sizeof(lo));
	format_size(o->max, hi, sizeof(hi));
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *str = config_setting_get_string(s);

		rc = size_from_string(str, &v);
		if (rc == -EINVAL) {
			conf_error(ctx, s, path, "\"%s\" is not a size (a number with an "
				   "optional K, M or G suffix)", str);
			return;
		}
		snprintf(shown, sizeof(shown), "\"%.40s\"", str);
	} else {
		rc = conf_int_value(ctx, s, &n);
		if (rc == -EINVAL) {
			conf_error(ctx, s, path, "expected a size: an integer or a string "
				   "such as \"256M\"");
			return;
		}
		v = (uint64_t)n;
		snprintf(shown, sizeof(shown), "%lld", n);
		if (n < 0)
			rc = -ERANGE;
	}
	if (rc == -ERANGE || v < o->min || v > o->max) {
		conf_error(ctx, s, path, "%s is out of range (%s..%s)", shown, lo, hi);
		return;
	}
	put_uint(field(o, base), o->size, v);
}

/* ---- relay port range ------------------------------------------------------ */

static void ports_default(const struct conf_option *o, void *base)
{
	const uint16_t *def = o->def_list;

	memcpy(field(o, base), &def[0], sizeof(uint16_t));
	memcpy((char *)base + o->offset2, &def[1], sizeof(uint16_t));
}

static bool ports_equal(const struct conf_option *o, const void *a, const void *b)
{
	return memcmp(cfield(o, a), cfield(o, b), sizeof(uint16_t)) == 0 &&
	       memcmp((const char *)a + o->offset2, (const char *)b + o->offset2,
		      sizeof(uint16_t)) == 0;
}

/* Both ends in range, the first even, the count even (RTP/RTCP pairs). */
static int ports_validate(struct conf_ctx *ctx, const config_setting_t *s,
			  const char *path, uint64_t first, uint64_t last)
{
	if (first % 2) {
		conf_error(ctx, s, path, "the first port (%" PRIu64 ") must be even", first);
		return -EINVAL;
	}
	if (first >= last) {
		conf_error(ctx, s, path, "the first port (%" PRIu64 ") must be lower than "
			   "the last (%" PRIu64 ")", first, last);
		return -EINVAL;
	}
	if ((last - first + 1) % 2) {
		conf_error(ctx, s, path, "%" PRIu64 "..%" PRIu64 " holds an odd number of ports "
			   "(%" PRIu64 "); end the range on an odd port", first, last,
			   last - first + 1);
		return -EINVAL;
	}
	return 0;
}

static void ports_parse(struct conf_ctx *ctx, const struct conf_option *o,
			const config_setting_t *s, void *base, const char *path)
{
	char elem_path[CONF_PATH_LEN];
	uint64_t v[2];
	int bad = 0;

	if ((!config_setting_is_array(s) && !config_setting_is_list(s)) ||
	    config_setting_length(s) != 2) {
		conf_error(ctx, s, path, "expected an array [first, last] of two ports");
		return;
	}
	for (int i = 0; i < 2; i++) {
		snprintf(elem_path, sizeof(elem_path), "%s[%d]", path, i);
		bad |= read_ranged(ctx, o, config_setting_get_elem(s, (unsigned)i),
				   elem_path, &v[i]);
	}
	if (bad || ports_validate(ctx, s, path, v[0], v[1]) < 0)
		return;
	put_uint(field(o, base), sizeof(uint16_t), v[0]);
	put_uint((char *)base + o->offset2, sizeof(uint16_t), v[1]);
}

/* ---- domains --------------------------------------------------------------- */

static void domains_default(const struct conf_option *o, void *base)
{
	const char *const *def = o->def_list;
	char *arr = field(o, base);

	for (size_t i = 0; i < o->def; i++)
		snprintf(arr + i * o->size, o->size, "%s", def[i]);
	put_uint((char *)base + o->offset2, sizeof(unsigned), o->def);
}

static bool domains_equal(const struct conf_option *o, const void *a, const void *b)
{
	unsigned n = (unsigned)get_uint((const char *)a + o->offset2, sizeof(unsigned));

	if (n != get_uint((const char *)b + o->offset2, sizeof(unsigned)))
		return false;
	for (unsigned i = 0; i < n; i++)
		if (strcmp((const char *)cfield(o, a) + i * o->size,
			   (const char *)cfield(o, b) + i * o->size) != 0)
			return false;
	return true;
}

static void domains_parse(struct conf_ctx *ctx, const struct conf_option *o,
			  const config_setting_t *s, void *base, const char *path)
{
	char tmp[CONF_MAX_DOMAINS][CONF_NAME_LEN], elem_path[CONF_PATH_LEN];
	unsigned n, bad = 0;

	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		conf_error(ctx, s, path, "expected an array of strings");
		return;
	}
	n = (unsigned)config_setting_length(s);
	if (n > o->max) {
		conf_error(ctx, s, path, "%u entries, at most %" PRIu64, n, o->max);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		const char *v;

		snprintf(elem_path, sizeof(elem_path), "%s[%u]", path, i);
		v = read_string(ctx, e, elem_path, o->size, o->check);
		if (v)
			memcpy(tmp[i], v, strlen(v) + 1);
		bad += !v;
	}
	if (bad)
		return;
	memcpy(field(o, base), tmp, n * o->size);
	put_uint((char *)base + o->offset2, sizeof(unsigned), n);
}

/* ---- listen entries ----------------------------------------------------------- */

static void listen_default(const struct conf_option *o, void *base)
{
	memcpy(field(o, base), o->def_list, o->def * o->size);
	put_uint((char *)base + o->offset2, sizeof(unsigned), o->def);
}

static bool listen_equal(const struct conf_option *o, const void *a, const void *b)
{
	const struct conf_listen *la = cfield(o, a), *lb = cfield(o, b);
	unsigned n = (unsigned)get_uint((const char *)a + o->offset2, sizeof(unsigned));

	if (n != get_uint((const char *)b + o->offset2, sizeof(unsigned)))
		return false;
	for (unsigned i = 0; i < n; i++)
		if (la[i].proto != lb[i].proto || la[i].port != lb[i].port ||
		    strcmp(la[i].address, lb[i].address) != 0)
			return false;
	return true;
}

/* One { proto; address; port; } group into *l; 0 if every key was fine. */
static int listen_entry_parse(struct conf_ctx *ctx, const config_setting_t *g,
			      const char *path, struct conf_listen *l)
{
	const config_setting_t *seen[CONF_LISTEN_KEYS] = { NULL };
	char key_path[CONF_PATH_LEN];
	unsigned before = ctx->errs->count;

	for (size_t k = 0; k < conf_listen_noptions; k++)
		conf_types[conf_listen_options[k].type].set_default(&conf_listen_options[k], l);
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		size_t k;

		snprintf(key_path, sizeof(key_path), "%s.%s", path, config_setting_name(s));
		for (k = 0; k < conf_listen_noptions; k++)
			if (strcmp(conf_listen_options[k].path, config_setting_name(s)) == 0)
				break;
		if (k == conf_listen_noptions) {
			conf_error(ctx, s, key_path, "unknown key");
			continue;
		}
		seen[k] = s;
		conf_types[conf_listen_options[k].type].parse(ctx, &conf_listen_options[k],
							     s, l, key_path);
	}
	for (size_t k = 0; k < conf_listen_noptions; k++) {
		if ((conf_listen_options[k].flags & CONF_REQUIRED) && !seen[k])
			conf_error(ctx, g, path, "missing key \"%s\"", conf_listen_options[k].path);
	}
	if (l->proto == CONF_PROTO_TLS && !seen[CONF_LISTEN_PORT])
		l->port = 5061;
	return ctx->errs->count == before ? 0 : -EINVAL;
}

_Static_assert(CONF_MAX_LISTEN <= 32, "listen_bad is a 32-bit mask");

/* Entries with errors are stored too, marked in ctx->listen_bad, so the
 * cross-field checks still look at the good ones. */
static void listen_parse(struct conf_ctx *ctx, const struct conf_option *o,
			 const config_setting_t *s, void *base, const char *path)
{
	struct conf_listen tmp[CONF_MAX_LISTEN];
	char elem_path[32];
	unsigned n;

	if (!config_setting_is_list(s)) {
		conf_error(ctx, s, path, "expected a list ( { proto = ...; address = ...; "
			   "port = ...; }, ... )");
		return;
	}
	n = (unsigned)config_setting_length(s);
	if (n < o->min || n > o->max) {
		conf_error(ctx, s, path, "%u entries, allowed %" PRIu64 "..%" PRIu64,
			   n, o->min, o->max);
		return;
	}
	memset(tmp, 0, sizeof(tmp));
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, i);

		snprintf(elem_path, sizeof(elem_path), "%s[%u]", path, i);
		ctx->listen_seen[i] = g;
		if (!config_setting_is_group(g)) {
			conf_error(ctx, g, elem_path, "expected a group { proto = ...; "
				   "address = ...; port = ...; }");
			ctx->listen_bad |= 1u << i;
		} else if (listen_entry_parse(ctx, g, elem_path, &tmp[i]) < 0) {
			ctx->listen_bad |= 1u << i;
		}
	}
	memcpy(field(o, base), tmp, n * o->size);
	put_uint((char *)base + o->offset2, sizeof(unsigned), n);
}

const struct conf_type_ops conf_types[CONF_T_COUNT] = {
	[CONF_T_UINT] = { scalar_default, uint_parse, scalar_equal },
	[CONF_T_BOOL] = { scalar_default, bool_parse, scalar_equal },
	[CONF_T_STRING] = { string_default, string_parse, string_equal },
	[CONF_T_ENUM] = { scalar_default, enum_parse, scalar_equal },
	[CONF_T_SIZE] = { scalar_default, size_parse, scalar_equal },
	[CONF_T_LISTEN] = { listen_default, listen_parse, listen_equal },
	[CONF_T_DOMAINS] = { domains_default, domains_parse, domains_equal },
	[CONF_T_PORTS] = { ports_default, ports_parse, ports_equal },
};
