/*
 * query.c — questions asked of a loaded configuration.
 *
 * The defaults, the reload comparison (which changed keys need a restart,
 * from the table's reloadable flag) and the local-domain test the SIP
 * workers run on each request URI, against the configured addresses parsed
 * once at load (conf_ips_store). A struct pinhole_conf is read-only once
 * loaded, so any process may call these without locking.
 */
#include "options.h"

#include <stdio.h>
#include <strings.h>

void conf_defaults(struct pinhole_conf *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < conf_noptions; i++)
		conf_types[conf_options[i].type].set_default(&conf_options[i], out);
	conf_ips_store(out);
}

/* A listen address that does not parse (only in a configuration conf_load
 * refuses) stays all zero. */
void conf_ips_store(struct pinhole_conf *conf)
{
	for (unsigned i = 0; i < conf->nlisten; i++)
		if (!conf_ip_parse(conf->listen[i].address, conf->listen[i].ip))
			memset(conf->listen[i].ip, 0, sizeof(conf->listen[i].ip));
	conf->ndomain_ips = 0;
	for (unsigned i = 0; i <= conf->ndomains; i++) {
		const char *s = i < conf->ndomains ? conf->domains[i] : conf->advertise;

		if (*s && conf_ip_parse(s, conf->domain_ips[conf->ndomain_ips]))
			conf->ndomain_ips++;
	}
}

unsigned conf_restart_only_changes(const struct pinhole_conf *old_conf,
				   const struct pinhole_conf *new_conf,
				   char *buf, size_t cap)
{
	unsigned n = 0;
	size_t len = 0;

	if (cap)
		buf[0] = '\0';
	for (size_t i = 0; i < conf_noptions; i++) {
		const struct conf_option *o = &conf_options[i];

		if ((o->flags & CONF_RELOAD) || conf_types[o->type].equal(o, old_conf, new_conf))
			continue;
		if (len < cap)
			len += (size_t)snprintf(buf + len, cap - len, "%s%s",
						n ? ", " : "", o->path);
		n++;
	}
	return n;
}

/* host without the brackets of an IPv6 reference, as a C string. */
static bool host_cstr(slice host, char *buf, size_t cap)
{
	if (host.len >= 2 && host.p[0] == '[' && host.p[host.len - 1] == ']')
		host = slice_make(host.p + 1, host.len - 2);
	if (host.len == 0 || host.len >= cap || memchr(host.p, '\0', host.len))
		return false;
	slice_copy_cstr(host, buf, cap);
	return true;
}

/* A domain, or a listen address or advertise spelled as configured: how
 * pinhole's own Via and Record-Route name it, so the usual match needs no
 * parse of host. h is not empty. */
static bool named_as_configured(const struct pinhole_conf *conf, const char *h)
{
	for (unsigned i = 0; i < conf->ndomains; i++)
		if (strcasecmp(h, conf->domains[i]) == 0)
			return true;
	for (unsigned i = 0; i < conf->nlisten; i++)
		if (strcasecmp(h, conf->listen[i].address) == 0)
			return true;
	return strcasecmp(h, conf->advertise) == 0;
}

bool conf_is_local_domain(const struct pinhole_conf *conf, slice host)
{
	char h[CONF_NAME_LEN];
	uint8_t ip[16];

	if (!host_cstr(host, h, sizeof(h)))
		return false;
	if (named_as_configured(conf, h))
		return true;
	if (!conf_ip_parse(h, ip))
		return false;
	for (unsigned i = 0; i < conf->ndomain_ips; i++)
		if (memcmp(ip, conf->domain_ips[i], 16) == 0)
			return true;
	for (unsigned i = 0; i < conf->nlisten; i++)
		if (memcmp(ip, conf->listen[i].ip, 16) == 0)
			return true;
	return false;
}

const char *conf_proto_name(enum conf_proto p)
{
	static const char *const names[] = { "udp", "tcp", "tls" };

	return (unsigned)p < ARRAY_LEN(names) ? names[p] : "?";
}
