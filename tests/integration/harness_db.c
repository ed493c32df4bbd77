/*
 * harness_db.c: the integration tests' window on mqttd's database (see
 * harness.h, "The database, read from outside").
 *
 * A test opens the file the way an operator's sqlite3 CLI does: read-only
 * while the broker runs (WAL mode lets a reader see the last commit
 * without disturbing the writer), read-write only while it is stopped.
 * Only the tests that need it link this file and SQLite; the rest of the
 * harness stays free of both.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "harness.h"

struct harness_db {
	sqlite3		*db;
	char		 path[PATH_MAX];
};

struct harness_db *
harness_db_open(const char *path, bool rw)
{
	struct harness_db *hd;
	int rc;

	if ((hd = calloc(1, sizeof(*hd))) == NULL)
		fail_msg("out of memory");
	snprintf(hd->path, sizeof(hd->path), "%s", path);
	rc = sqlite3_open_v2(path, &hd->db, rw ? SQLITE_OPEN_READWRITE :
	    SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK)
		fail_msg("sqlite3 open %s: %s", path, hd->db != NULL ?
		    sqlite3_errmsg(hd->db) : sqlite3_errstr(rc));
	sqlite3_busy_timeout(hd->db, 5000);
	return hd;
}

void
harness_db_close(struct harness_db *hd)
{
	if (hd == NULL)
		return;
	sqlite3_close(hd->db);
	free(hd);
}

long long
harness_db_long(struct harness_db *hd, const char *sql)
{
	sqlite3_stmt *stmt = NULL;
	long long v;
	int rc;

	rc = sqlite3_prepare_v2(hd->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		fail_msg("%s: %s: %s", hd->path, sql, sqlite3_errmsg(hd->db));
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(stmt);
		fail_msg("%s: %s: %s", hd->path, sql, rc == SQLITE_DONE ?
		    "no row" : sqlite3_errmsg(hd->db));
	}
	v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}

void
harness_db_exec(struct harness_db *hd, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(hd->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fail_msg("%s: %s: %s", hd->path, sql, msg ? msg :
		    sqlite3_errmsg(hd->db));
	}
}

long long
harness_db_query(const char *path, const char *sql)
{
	struct harness_db *hd = harness_db_open(path, false);
	long long v = harness_db_long(hd, sql);

	harness_db_close(hd);
	return v;
}
