/* obscure_loops (siproxd): Call-ID marking, so that a call from one private
 * UA to another that goes out to the provider and comes back in through
 * sipmasq ("hair-pinned") is two calls for sipmasq and for the UAs, not one
 * call seen twice with the same Call-ID.
 *
 * Requests sent to the public side get ".smqloop.<From-tag>" appended to
 * their Call-ID (number part); the public side, the provider, and the
 * hair-pinned leg coming back in see the marked Call-ID, the private UA
 * that started the dialog sees its own. The mark's tag tells which leg a
 * message belongs to: the UA that started the dialog is the From side of
 * its own requests (tag equal: its leg) and the To side of the other
 * party's requests (tag different). Like siproxd, only dialogs started on
 * the private side are marked; REGISTER never is. */
#ifndef SIPMASQ_CALLID_MARK_H
#define SIPMASQ_CALLID_MARK_H

#include <stdbool.h>
#include <stddef.h>

#include <osipparser2/osip_parser.h>

#define CALLID_MARK ".smqloop."
#define CALLID_TAG_MAX 128

/* callid_mark: append the mark with msg's From-tag to its Call-ID, unless
 * the Call-ID is marked already or msg has no From-tag (RFC 3261 makes it
 * mandatory; then nothing is done). Returns 0, or -ENOMEM. */
int callid_mark(osip_message_t *msg);

/* callid_mark_with: append the mark with `tag` (a response going back to
 * the public side for a request whose mark callid_unmark_foreign took off).
 * Returns 0, or -ENOMEM. */
int callid_mark_with(osip_message_t *msg, const char *tag);

/* callid_unmark_own: a response going to the private side: take off the
 * last mark when its tag is the From-tag (the request was marked here).
 * Returns true when a mark was taken off. */
bool callid_unmark_own(osip_message_t *msg);

/* callid_unmark_foreign: a request from the public side: take off the last
 * mark when its tag is not the From-tag (the far party's request in a
 * dialog a private UA started) and copy the tag into tag[n] (NUL-
 * terminated) for the answer. Returns true when a mark was taken off. */
bool callid_unmark_foreign(osip_message_t *msg, char *tag, size_t n);

#endif
