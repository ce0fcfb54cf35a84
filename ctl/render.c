/*
 * render.c — a reply's result as text for people (pinholectl without
 * --json). Generic over the JSON shape, so a command needs no printing
 * code: an object becomes aligned "key: value" lines, an array of objects
 * a table under an upper-case header row (numeric columns right-aligned),
 * any other array one item per line. Client side only.
 */
#include "ctl.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define CELL_MAX 512
#define TABLE_MAX_COLS 32
#define NEST_MAX 8               /* deeper values print as compact JSON */

struct table {
	const char *cols[TABLE_MAX_COLS];
	size_t width[TABLE_MAX_COLS];
	bool numeric[TABLE_MAX_COLS];
	size_t ncols;
	int indent;
};

static bool is_scalar(const json_t *v)
{
	return !json_is_object(v) && !json_is_array(v);
}

static bool is_table(json_t *v)
{
	size_t i;
	json_t *row;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return false;
	json_array_foreach(v, i, row)
		if (!json_is_object(row))
			return false;
	return true;
}

/* Whether v prints as lines of its own below its key. */
static bool is_block(json_t *v, int indent)
{
	size_t i;
	json_t *item;

	if (indent >= 2 * NEST_MAX)
		return false;
	if (json_is_object(v))
		return json_object_size(v) > 0;
	json_array_foreach(v, i, item)
		if (!is_scalar(item))
			return true;
	return false;
}

/* One line's worth of v: scalars plainly, a flat array joined by ", ",
 * anything else as compact JSON. A missing value is "". */
static void value_text(json_t *v, char *buf, size_t cap)
{
	size_t i, len = 0, n;
	json_t *item;

	buf[0] = '\0';
	if (!v)
		return;
	switch (json_typeof(v)) {
	case JSON_STRING:
		snprintf(buf, cap, "%s", json_string_value(v));
		return;
	case JSON_INTEGER:
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	case JSON_REAL:
		snprintf(buf, cap, "%g", json_real_value(v));
		return;
	case JSON_TRUE:
	case JSON_FALSE:
		snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false");
		return;
	case JSON_NULL:
		snprintf(buf, cap, "-");
		return;
	default:
		break;
	}
	if (json_is_array(v) && !is_block(v, 0)) {
		json_array_foreach(v, i, item) {
			char one[CELL_MAX];

			value_text(item, one, sizeof(one));
			len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", one);
			if (len >= cap)
				return;
		}
		if (i == 0)
			snprintf(buf, cap, "(none)");
		return;
	}
	if (json_is_object(v) && json_object_size(v) == 0) {
		snprintf(buf, cap, "(none)");
		return;
	}
	n = json_dumpb(v, buf, cap - 1, JSON_COMPACT);
	buf[n < cap - 1 ? n : cap - 1] = '\0';
}

static void render_value(json_t *v, int indent, FILE *out);

static void render_object(json_t *o, int indent, FILE *out)
{
	char text[CELL_MAX];
	size_t width = 0;
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v)
		if (strlen(key) > width)
			width = strlen(key);
	json_object_foreach(o, key, v) {
		if (is_block(v, indent)) {
			fprintf(out, "%*s%s:\n", indent, "", key);
			render_value(v, indent + 2, out);
			continue;
		}
		value_text(v, text, sizeof(text));
		fprintf(out, "%*s%s:%*s %s\n", indent, "", key,
			(int)(width - strlen(key)), "", text);
	}
}

static void table_measure(struct table *t, json_t *rows)
{
	char text[CELL_MAX];
	const char *key;
	json_t *row, *v;
	size_t i, c;

	json_array_foreach(rows, i, row) {
		json_object_foreach(row, key, v) {
			for (c = 0; c < t->ncols && strcmp(t->cols[c], key) != 0; c++)
				;
			if (c == t->ncols) {
				if (t->ncols == TABLE_MAX_COLS)
					continue;
				t->cols[t->ncols] = key;
				t->width[t->ncols] = strlen(key);
				t->numeric[t->ncols++] = true;
			}
			value_text(v, text, sizeof(text));
			if (strlen(text) > t->width[c])
				t->width[c] = strlen(text);
			if (!json_is_number(v))
				t->numeric[c] = false;
		}
	}
}

static void table_cell(const struct table *t, size_t c, const char *text, FILE *out)
{
	const char *sep = c ? "  " : "";

	if (t->numeric[c])
		fprintf(out, "%s%*s", sep, (int)t->width[c], text);
	else if (c + 1 == t->ncols)
		fprintf(out, "%s%s", sep, text);
	else
		fprintf(out, "%s%-*s", sep, (int)t->width[c], text);
}

/* One table line: the header when row is NULL. */
static void table_line(const struct table *t, json_t *row, FILE *out)
{
	char text[CELL_MAX];

	fprintf(out, "%*s", t->indent, "");
	for (size_t c = 0; c < t->ncols; c++) {
		if (row) {
			value_text(json_object_get(row, t->cols[c]), text, sizeof(text));
		} else {
			size_t k;

			for (k = 0; t->cols[c][k] && k < sizeof(text) - 1; k++)
				text[k] = (char)toupper((unsigned char)t->cols[c][k]);
			text[k] = '\0';
		}
		table_cell(t, c, text, out);
	}
	fputc('\n', out);
}

static void render_table(json_t *rows, int indent, FILE *out)
{
	struct table t = { .indent = indent };
	json_t *row;
	size_t i;

	table_measure(&t, rows);
	table_line(&t, NULL, out);
	json_array_foreach(rows, i, row)
		table_line(&t, row, out);
}

static void render_value(json_t *v, int indent, FILE *out)
{
	char text[CELL_MAX];
	json_t *item;
	size_t i;

	if (is_block(v, indent) && json_is_object(v)) {
		render_object(v, indent, out);
	} else if (is_block(v, indent) && is_table(v)) {
		render_table(v, indent, out);
	} else if (json_is_array(v) && json_array_size(v) > 0) {
		json_array_foreach(v, i, item)
			render_value(item, is_scalar(item) ? indent : indent + 2, out);
	} else {
		value_text(v, text, sizeof(text));
		fprintf(out, "%*s%s\n", indent, "", text);
	}
}

int ctl_render_text(json_t *result, FILE *out)
{
	render_value(result, 0, out);
	return ferror(out) ? -EIO : 0;
}
