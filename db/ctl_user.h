/*
 * ctl_user.h — the "user add|rm|list" commands of pinholectl, rows of the
 * ctl command table (ctl/commands.c). They run in the ctl process, which
 * has its own handle on the environment (pdb_open(conf->db.path, 0)).
 */
#ifndef PINHOLE_DB_CTL_USER_H
#define PINHOLE_DB_CTL_USER_H

#include "../ctl/ctl.h"

/* user add USER@DOMAIN PASSWORD: HA1s for conf->auth.realm, stored;
 * {"user", "domain", "realm"}. */
int pdb_cmd_user_add(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		     json_t **result, char *err, size_t errlen);
/* user rm USER@DOMAIN: {"user", "domain"}; "no such user" when absent. */
int pdb_cmd_user_rm(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		    json_t **result, char *err, size_t errlen);
/* user list: [{"user", "domain", "realm"}, ...], never the HA1s. */
int pdb_cmd_user_list(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		      json_t **result, char *err, size_t errlen);

#endif
