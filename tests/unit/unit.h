/* Minimal header-only unit test helper.
 *
 *	CHECK(cond)          count a pass, or print "file:line: CHECK(cond) failed"
 *	CHECK_INT(a, b)      like CHECK(a == b), printing both values (as long long)
 *	CHECK_STR(a, b)      like CHECK(strcmp(a, b) == 0), printing both strings
 *	return unit_summary();   at the end of main(): prints "N passed, N failed"
 *	                         alone on a line; returns 0 only if nothing failed
 *	                         and at least one check ran
 *
 * Failures are printed to stderr and the test goes on, so one run lists every
 * failing check. The counters are per translation unit: one test program is
 * one .c file. */
#ifndef SIPMASQ_TESTS_UNIT_H
#define SIPMASQ_TESTS_UNIT_H

#include <stdio.h>
#include <string.h>

static unsigned unit_passed, unit_failed;

/* unit_check: record the result of one check; msg describes it on failure.
 * Returns ok, so that a test can stop early after a failed precondition. */
static inline int unit_check(int ok, const char *file, int line, const char *msg)
{
	if (ok) {
		unit_passed++;
	} else {
		unit_failed++;
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n", file, line, msg);
	}
	return ok;
}

static inline int unit_check_int(long long a, long long b, const char *file,
				 int line, const char *msg)
{
	if (a != b)
		fprintf(stderr, "%s:%d: %lld != %lld\n", file, line, a, b);
	return unit_check(a == b, file, line, msg);
}

static inline int unit_check_str(const char *a, const char *b, const char *file,
				 int line, const char *msg)
{
	int ok = a && b && !strcmp(a, b);

	if (!ok)
		fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", file, line,
			a ? a : "(null)", b ? b : "(null)");
	return unit_check(ok, file, line, msg);
}

#define CHECK(cond) unit_check(!!(cond), __FILE__, __LINE__, #cond)
#define CHECK_INT(a, b) \
	unit_check_int((long long)(a), (long long)(b), __FILE__, __LINE__, #a " == " #b)
#define CHECK_STR(a, b) unit_check_str((a), (b), __FILE__, __LINE__, #a " == " #b)

/* unit_summary: print the totals; the exit status for main(): 1 when a
 * check failed or when none ran (a program whose checks were all skipped
 * by a wrong #if or an early return proves nothing). */
static inline int unit_summary(void)
{
	printf("%u passed, %u failed\n", unit_passed, unit_failed);
	if (!unit_passed && !unit_failed)
		fprintf(stderr, "no check ran: a unit test program must check something\n");
	fflush(stdout);
	return unit_failed || !unit_passed ? 1 : 0;
}

#endif
