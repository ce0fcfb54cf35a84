/*
 * ctl_user.c — pinholectl's subscriber commands: user add, user rm, user
 * list. add computes the HA1 digests (MD5 and SHA-256) for the configured
 * realm and stores only those; the password is never written anywhere.
 *
 * Runs in the ctl process with its own Berkeley DB handle; each command is
 * one transaction (add, rm) or one cursor walk (list). No shm access.
 */
#include "ctl_user.h"
#include "db.h"
#include "../conf/conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>

#define USER_CHARS_TEXT "letters, digits and -_.!~*'()&=+$,;?/"

/* RFC 3261 user: unreserved / user-unreserved (escapes are not accepted:
 * a digest username is compared unescaped). */
static bool user_char_ok(unsigned char c)
{
	return isalnum(c) || (c && strchr("-_.!~*'()&=+$,;?/", c));
}

/* A host name (letters, digits, '-', '.') or a bracketed IPv6 literal. */
static bool domain_ok(const char *d)
{
	size_t len = strlen(d);

	if (d[0] == '[')
		return len > 2 && d[len - 1] == ']' &&
		       strspn(d + 1, "0123456789abcdefABCDEF:.") == len - 2;
	return strspn(d, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789-.") == len && d[0] != '.' && d[0] != '-';
}

/* Splits "user@domain" into s->user and s->domain; err says what is wrong. */
static int aor_parse(const char *arg, struct pdb_subscriber *s, char *err, size_t errlen)
{
	const char *at = strchr(arg, '@');
	size_t ulen = at ? (size_t)(at - arg) : 0;

	if (!at || ulen == 0 || !at[1] || strchr(at + 1, '@')) {
		snprintf(err, errlen, "'%s' is not USER@DOMAIN", arg);
		return -EINVAL;
	}
	if (ulen >= sizeof(s->user) || strlen(at + 1) >= sizeof(s->domain)) {
		snprintf(err, errlen, "'%s': user and domain must each be shorter than %zu "
			 "characters", arg, sizeof(s->user));
		return -EINVAL;
	}
	for (size_t i = 0; i < ulen; i++) {
		if (!user_char_ok((unsigned char)arg[i])) {
			snprintf(err, errlen, "'%s': character %zu of the user is not allowed "
				 "in a SIP user (allowed: " USER_CHARS_TEXT ")", arg, i + 1);
			return -EINVAL;
		}
	}
	memset(s, 0, sizeof(*s));
	memcpy(s->user, arg, ulen);
	snprintf(s->domain, sizeof(s->domain), "%s", at + 1);
	if (!domain_ok(s->domain)) {
		snprintf(err, errlen, "'%s': the domain is not a host name or IP address", arg);
		return -EINVAL;
	}
	for (char *p = s->domain; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

static int db_ready(const struct ctl_ctx *ctx, char *err, size_t errlen)
{
	if (pdb_is_open())
		return 0;
	snprintf(err, errlen, "the subscriber database (%s) is not open in the ctl process",
		 ctx->conf->db.path);
	return -ENXIO;
}

/* Both HA1s of s for password; -EIO when a digest could not be computed. */
static int ha1_fill(struct pdb_subscriber *s, const char *password, char *err, size_t errlen)
{
	char md5[65], sha[65];

	sip_auth_ha1(SIP_AUTH_MD5, slice_cstr(s->user), slice_cstr(s->realm),
		     slice_cstr(password), md5);
	sip_auth_ha1(SIP_AUTH_SHA256, slice_cstr(s->user), slice_cstr(s->realm),
		     slice_cstr(password), sha);
	if (strlen(md5) != sizeof(s->ha1_md5) - 1 || strlen(sha) != sizeof(s->ha1_sha256) - 1) {
		snprintf(err, errlen, "cannot compute the HA1 digests (OpenSSL failed)");
		return -EIO;
	}
	memcpy(s->ha1_md5, md5, sizeof(s->ha1_md5));
	memcpy(s->ha1_sha256, sha, sizeof(s->ha1_sha256));
	return 0;
}

int pdb_cmd_user_add(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		     json_t **result, char *err, size_t errlen)
{
	struct pdb_subscriber s;
	int rc;

	if ((rc = aor_parse(argv[0], &s, err, errlen)) < 0 ||
	    (rc = db_ready(ctx, err, errlen)) < 0)
		return rc;
	if (!argv[1][0]) {
		snprintf(err, errlen, "the password must not be empty");
		return -EINVAL;
	}
	if (strlen(ctx->conf->auth.realm) >= sizeof(s.realm)) {
		snprintf(err, errlen, "auth.realm is longer than %zu characters",
			 sizeof(s.realm) - 1);
		return -EINVAL;
	}
	snprintf(s.realm, sizeof(s.realm), "%s", ctx->conf->auth.realm);
	if ((rc = ha1_fill(&s, argv[1], err, errlen)) < 0)
		return rc;
	rc = pdb_subscriber_put(&s);
	if (rc < 0) {
		snprintf(err, errlen, "cannot store %s@%s in %s: %s", s.user, s.domain,
			 ctx->conf->db.path, strerror(-rc));
		return rc;
	}
	*result = json_pack("{s:s, s:s, s:s}", "user", s.user, "domain", s.domain,
			    "realm", s.realm);
	return *result ? 0 : -ENOMEM;
}

int pdb_cmd_user_rm(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		    json_t **result, char *err, size_t errlen)
{
	struct pdb_subscriber s;
	int rc;

	if ((rc = aor_parse(argv[0], &s, err, errlen)) < 0 ||
	    (rc = db_ready(ctx, err, errlen)) < 0)
		return rc;
	rc = pdb_subscriber_del(slice_cstr(s.user), slice_cstr(s.domain));
	if (rc == -ENOENT) {
		snprintf(err, errlen, "no such user: %s@%s", s.user, s.domain);
		return rc;
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot remove %s@%s from %s: %s", s.user, s.domain,
			 ctx->conf->db.path, strerror(-rc));
		return rc;
	}
	*result = json_pack("{s:s, s:s}", "user", s.user, "domain", s.domain);
	return *result ? 0 : -ENOMEM;
}

static int list_row(const struct pdb_subscriber *s, void *arg)
{
	json_t *row = json_pack("{s:s, s:s, s:s}", "user", s->user, "domain", s->domain,
				"realm", s->realm);

	return row && json_array_append_new(arg, row) == 0 ? 0 : -ENOMEM;
}

int pdb_cmd_user_list(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		      json_t **result, char *err, size_t errlen)
{
	json_t *rows;
	int rc;

	if ((rc = db_ready(ctx, err, errlen)) < 0)
		return rc;
	rows = json_array();
	if (!rows)
		return -ENOMEM;
	rc = pdb_subscriber_list(list_row, rows);
	if (rc < 0) {
		json_decref(rows);
		snprintf(err, errlen, "cannot list the subscribers in %s: %s",
			 ctx->conf->db.path, strerror(-rc));
		return rc;
	}
	*result = rows;
	return 0;
}
