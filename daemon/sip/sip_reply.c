/* Responses sipmasq generates itself (errors, 483, 503 ...). */
#include "autoconfig.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>

#include "daemon/sip/sip_msg.h"

int sipmsg_make_response(const osip_message_t *req, int code, unsigned retry_after_s,
                         osip_message_t **out)
{
	osip_message_t *resp;
	const char *reason = osip_message_get_reason(code);
	char buf[32];

	if (osip_message_init(&resp) != 0)
		return -ENOMEM;
	osip_message_set_version(resp, osip_strdup("SIP/2.0"));
	osip_message_set_status_code(resp, code);
	osip_message_set_reason_phrase(resp, osip_strdup(reason ? reason : "Unknown"));
	/* Copy what the request has: a 400 may answer one that lacks some. */
	if (osip_list_clone(&req->vias, &resp->vias, (int (*)(void *, void **))osip_via_clone) != 0 ||
	    (req->from && osip_from_clone(req->from, &resp->from) != 0) ||
	    (req->to && osip_to_clone(req->to, &resp->to) != 0) ||
	    (req->call_id && osip_call_id_clone(req->call_id, &resp->call_id) != 0) ||
	    (req->cseq && osip_cseq_clone(req->cseq, &resp->cseq) != 0)) {
		osip_message_free(resp);
		return -ENOMEM;
	}
	if (code >= 200 && resp->to) {
		osip_generic_param_t *tag = NULL;

		if (osip_to_get_tag(resp->to, &tag) != 0 || !tag) {
			unsigned long long r = 0;

			if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
				r = (unsigned long long)(uintptr_t)resp;
			snprintf(buf, sizeof(buf), SIPMSG_OWN_TAG_PREFIX "%llx", r);
			osip_to_set_tag(resp->to, osip_strdup(buf));
		}
	}
	if (retry_after_s) {
		snprintf(buf, sizeof(buf), "%u", retry_after_s);
		osip_message_set_header(resp, "Retry-After", buf);
	}
	osip_message_set_content_length(resp, "0");
	*out = resp;
	return 0;
}
