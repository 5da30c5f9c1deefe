/* Unit tests of siproxd's registration_file, both ways
 * (daemon/proxy/registrations_siproxd.c): the file real siproxd wrote
 * (tests/data/siproxd_registrations) imported, expired and broken slots,
 * and the export read back by siproxd's rules and by sipmasq. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <osipparser2/osip_parser.h>

#include "daemon/base/addr.h"
#include "daemon/proxy/registrations.h"
#include "daemon/proxy/registrations_siproxd.h"
#include "tests/unit/unit.h"

static char path[64];

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

/* tests/data/siproxd_registrations with its active slots expiring in 600 s. */
static void write_real_siproxd_file(void)
{
	char src[512], line[512];
	const char *top = getenv("top_srcdir");
	FILE *in, *out;

	snprintf(src, sizeof(src), "%s/tests/data/siproxd_registrations", top ? top : ".");
	in = fopen(src, "r");
	if (!CHECK(in != NULL))
		return;
	out = fopen(path, "w");
	while (fgets(line, sizeof(line), in)) {
		if (!strncmp(line, "****:1:", 7))
			fprintf(out, "****:1:%lld\n", (long long)time(NULL) + 600);
		else
			fputs(line, out);
	}
	fclose(in);
	fclose(out);
}

static int load(void)
{
	int n = reg_init(path);

	return n == -EPROTO ? reg_siproxd_import(path) : n;
}

static void test_real_file(void)
{
	struct binding *b;
	char a[ADDR_STRLEN];

	write_real_siproxd_file();
	CHECK_INT(reg_init(path), -EPROTO);
	CHECK_INT(reg_siproxd_import(path), 2);
	b = reg_find_aor("sip:alice@198.51.100.2");
	if (CHECK(b != NULL)) {
		CHECK_STR(b->contact, "sip:alice@10.0.0.2:5060");
		CHECK_STR(b->user, "alice");
		CHECK_STR(addr_str(&b->src, a), "10.0.0.2:5060");
		CHECK(b->registered);
		CHECK_INT(strlen(b->token), REG_TOKEN_LEN);
	}
	CHECK(reg_find_aor("sip:carol@198.51.100.2") != NULL);
	CHECK_INT(reg_count(), 2);
	if (b)
		CHECK_STR(b->legacy, "sip:alice@198.51.100.1");

	/* Saved in sipmasq's format and read back: the legacy Contact stays
	 * until a REGISTER removes it at the registrar. */
	CHECK_INT(reg_save(), 0);
	reg_fini();
	CHECK_INT(reg_init(path), 2);
	b = reg_find_aor("sip:alice@198.51.100.2");
	if (CHECK(b != NULL)) {
		CHECK_STR(b->legacy, "sip:alice@198.51.100.1");
		reg_legacy_done(b);
		CHECK(b->legacy == NULL);
	}
	CHECK_INT(reg_save(), 0);
	reg_fini();
	CHECK_INT(reg_init(path), 2);
	b = reg_find_aor("sip:alice@198.51.100.2");
	CHECK(b && !b->legacy);
	reg_fini();
}

static void test_expired_and_broken(void)
{
	char text[1024];
	long long later = (long long)time(NULL) + 600;

	/* An expired slot, an inactive one, a live one, then garbage. */
	snprintf(text, sizeof(text),
		 "****:1:1000\nsip:old@10.0.0.9:5060\nsip:old@198.51.100.1\nsip:old@example.test\n"
		 "****:0:0\n"
		 "****:1:%lld\nsip:bob@10.0.0.4\nsip:bob@198.51.100.1\nsip:bob@example.test\n"
		 "garbage\n****:1:%lld\nsip:eve@10.0.0.5\nsip:eve@198.51.100.1\n"
		 "sip:eve@example.test\n", later, later);
	write_file(text);
	CHECK_INT(load(), 1);
	CHECK(reg_find_aor("sip:old@example.test") == NULL);
	CHECK(reg_find_aor("sip:eve@example.test") == NULL);
	CHECK(reg_find_aor("sip:bob@example.test") != NULL);
	reg_fini();

	/* Cut short inside a slot: what came before stays. */
	snprintf(text, sizeof(text),
		 "****:1:%lld\nsip:bob@10.0.0.4\nsip:bob@198.51.100.1\nsip:bob@example.test\n"
		 "****:1:%lld\nsip:eve@10.0.0.5\n", later, later);
	write_file(text);
	CHECK_INT(load(), 1);
	reg_fini();

	/* An empty URI line (siproxd writes one for a missing URI). */
	snprintf(text, sizeof(text), "****:1:%lld\n\nsip:x@198.51.100.1\nsip:x@example.test\n",
		 later);
	write_file(text);
	CHECK_INT(load(), 0);
	reg_fini();
}

/* The export as siproxd reads it: 512 slot lines, each active one followed
 * by three URLs no longer than 127 characters; and read back by sipmasq
 * with the same tokens. */
static void test_export_round_trip(void)
{
	struct sockaddr_in src = addr_make((struct in_addr){ htonl(0x0a000002) }, 5062);
	char token[REG_TOKEN_LEN + 1], line[512];
	unsigned skipped = 99;
	int slots = 0, active = 0;
	FILE *f;
	struct binding *b;

	write_file("");
	CHECK_INT(load(), 0);
	b = reg_bind("sip:alice@example.test", "sip:alice@10.0.0.2:5060;transport=tcp", "alice",
		     &src, 600, true);
	if (!CHECK(b != NULL))
		return;
	snprintf(token, sizeof(token), "%s", b->token);
	reg_bind("sip:gone@example.test", "sip:gone@10.0.0.3", "gone", &src, 0, true);
	CHECK_INT(reg_siproxd_export(path, "198.51.100.1", 5070, &skipped), 1);
	CHECK_INT(skipped, 0);
	reg_fini();

	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		CHECK(strlen(line) <= 128);
		if (!strncmp(line, "****:", 5)) {
			slots++;
			if (!strncmp(line, "****:1:", 7)) {
				active++;
				CHECK(fgets(line, sizeof(line), f) &&
				      !strcmp(line, "sip:alice@10.0.0.2:5060;transport=tcp\n"));
				CHECK(fgets(line, sizeof(line), f) && !strncmp(line,
				      "sip:alice@198.51.100.1:5070;smqid=", 34));
				CHECK(fgets(line, sizeof(line), f) &&
				      !strcmp(line, "sip:alice@example.test\n"));
			}
		}
	}
	if (f)
		fclose(f);
	CHECK_INT(slots, SIPROXD_SLOTS);
	CHECK_INT(active, 1);

	CHECK_INT(load(), 1);
	b = reg_find_token(token);
	if (CHECK(b != NULL)) {
		CHECK_STR(b->aor, "sip:alice@example.test");
		CHECK(b->legacy == NULL);   /* the registrar holds sipmasq's Contact */
	}
	reg_fini();
}

int main(void)
{
	int fd;

	parser_init();
	snprintf(path, sizeof(path), "/tmp/test_reg_siproxd.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return 99;
	close(fd);
	test_real_file();
	test_expired_and_broken();
	test_export_round_trip();
	unlink(path);
	return unit_summary();
}
