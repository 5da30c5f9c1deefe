/* Unit tests of the obscure_loops Call-ID marks (daemon/sip/callid_mark.c):
 * the legs of a hair-pinned call, a plain outgoing call and its far-end
 * BYE, and what must be left alone. */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include <osipparser2/osip_parser.h>

#include "daemon/sip/callid_mark.h"
#include "daemon/sip/sip_msg.h"
#include "tests/unit/unit.h"

/* A request (its method starts `start`) with this Call-ID and From-tag. */
static osip_message_t *msg_with(const char *start, const char *callid, const char *ftag)
{
	char buf[1024], method[16];
	osip_message_t *msg = NULL;
	int len;

	sscanf(start, "%15s", method);
	len = snprintf(buf, sizeof(buf),
		       "%s\r\nVia: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1\r\n"
		       "From: <sip:a@example.test>;tag=%s\r\nTo: <sip:b@example.test>\r\n"
		       "Call-ID: %s\r\nCSeq: 1 %s\r\nContent-Length: 0\r\n\r\n",
		       start, ftag, callid, method);

	if (sipmsg_parse(buf, (size_t)len, &msg) != 0 && msg) {
		osip_message_free(msg);
		msg = NULL;
	}
	return msg;
}

static const char *cid(const osip_message_t *msg)
{
	static char buf[256];

	return sipmsg_call_id(msg, buf, sizeof(buf));
}

static void test_outgoing_leg(void)
{
	osip_message_t *m = msg_with("INVITE sip:b@example.test SIP/2.0", "x1@h", "T");
	char tag[CALLID_TAG_MAX];

	if (!CHECK(m != NULL))
		return;
	CHECK_INT(callid_mark(m), 0);
	CHECK_STR(cid(m), "x1" CALLID_MARK "T@h");
	CHECK_INT(callid_mark(m), 0);                     /* marked once only */
	CHECK_STR(cid(m), "x1" CALLID_MARK "T@h");
	/* Coming back in (the hair-pinned leg): From-tag is the mark's: kept. */
	CHECK(!callid_unmark_foreign(m, tag, sizeof(tag)));
	CHECK_STR(cid(m), "x1" CALLID_MARK "T@h");
	/* A response to our own request: the mark goes. */
	CHECK(callid_unmark_own(m));
	CHECK_STR(cid(m), "x1@h");
	CHECK(!callid_unmark_own(m));
	osip_message_free(m);
}

static void test_far_party_request(void)
{
	/* The far party's BYE in alice's dialog: From-tag is its own. */
	osip_message_t *m = msg_with("BYE sip:a@example.test SIP/2.0",
				     "x1" CALLID_MARK "T@h", "C");
	char tag[CALLID_TAG_MAX];

	if (!CHECK(m != NULL))
		return;
	CHECK(!callid_unmark_own(m));                      /* not our request */
	CHECK(callid_unmark_foreign(m, tag, sizeof(tag)));
	CHECK_STR(tag, "T");
	CHECK_STR(cid(m), "x1@h");
	CHECK_INT(callid_mark_with(m, tag), 0);            /* the answer gets it back */
	CHECK_STR(cid(m), "x1" CALLID_MARK "T@h");
	/* A tag longer than the caller's buffer: left alone. */
	CHECK(!callid_unmark_foreign(m, tag, 1));
	CHECK_STR(cid(m), "x1" CALLID_MARK "T@h");
	osip_message_free(m);
}

static void test_left_alone(void)
{
	osip_message_t *m = msg_with("BYE sip:a@example.test SIP/2.0", "plain", "C");
	char tag[CALLID_TAG_MAX];

	if (!CHECK(m != NULL))
		return;
	CHECK(!callid_unmark_foreign(m, tag, sizeof(tag)));
	CHECK(!callid_unmark_own(m));
	CHECK_STR(cid(m), "plain");
	CHECK_INT(callid_mark_with(m, NULL), 0);
	CHECK_STR(cid(m), "plain");
	osip_message_free(m);
}

int main(void)
{
	parser_init();
	test_outgoing_leg();
	test_far_party_request();
	test_left_alone();
	return unit_summary();
}
