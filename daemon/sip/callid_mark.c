/* Call-ID marking for obscure_loops, see callid_mark.h. */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/sip/callid_mark.h"

static const char *from_tag(const osip_message_t *msg)
{
	osip_generic_param_t *tag = NULL;

	if (!msg->from || osip_from_get_tag(msg->from, &tag) != 0 || !tag || !tag->gvalue ||
	    !*tag->gvalue)
		return NULL;
	return tag->gvalue;
}

/* The last mark in the Call-ID number, or NULL. */
static char *last_mark(const osip_message_t *msg)
{
	char *p, *last = NULL;

	if (!msg->call_id || !msg->call_id->number)
		return NULL;
	for (p = msg->call_id->number; (p = strstr(p, CALLID_MARK)) != NULL; p++)
		last = p;
	return last;
}

int callid_mark_with(osip_message_t *msg, const char *tag)
{
	char *old, *number;
	size_t len;

	if (!tag || !msg->call_id || !msg->call_id->number || last_mark(msg))
		return 0;
	old = msg->call_id->number;
	len = strlen(old) + strlen(CALLID_MARK) + strlen(tag) + 1;
	number = osip_malloc(len);
	if (!number)
		return -ENOMEM;
	snprintf(number, len, "%s%s%s", old, CALLID_MARK, tag);
	osip_free(old);
	msg->call_id->number = number;
	return 0;
}

int callid_mark(osip_message_t *msg)
{
	return callid_mark_with(msg, from_tag(msg));
}

bool callid_unmark_own(osip_message_t *msg)
{
	char *mark = last_mark(msg);
	const char *tag = from_tag(msg);

	if (!mark || !tag || strcmp(mark + strlen(CALLID_MARK), tag))
		return false;
	*mark = '\0';
	return true;
}

bool callid_unmark_foreign(osip_message_t *msg, char *tag, size_t n)
{
	char *mark = last_mark(msg);
	const char *own = from_tag(msg);

	if (!mark || (own && !strcmp(mark + strlen(CALLID_MARK), own)) ||
	    strlen(mark + strlen(CALLID_MARK)) >= n)
		return false;
	snprintf(tag, n, "%s", mark + strlen(CALLID_MARK));
	*mark = '\0';
	return true;
}
