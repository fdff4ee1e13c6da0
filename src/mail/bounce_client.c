/*
 * bounce_client.c - encode and decode bounce requests and replies (bounce_client.h).
 *
 * Only the wire vocabulary lives here; the bounce daemon and qmgr do the
 * connecting, waiting and deciding.
 */
#include <stdio.h>
#include <string.h>

#include "mail/bounce_client.h"
#include "mail/qfile.h"

int bounce_request_write(vstream *s, const char *kind, const char *queue_name,
                         const char *queue_id)
{
    return attr_print(s, ATTR_SEND_STR("request", "bounce"), ATTR_SEND_STR("kind", kind),
                      ATTR_SEND_STR("queue_name", queue_name),
                      ATTR_SEND_STR("queue_id", queue_id), ATTR_END);
}

int bounce_reply_read(vstream *s, sbuf *reason, sbuf *notice_id)
{
    attr_list l = ATTR_LIST_INIT;
    sbuf why = SBUF_INIT;
    int32_t status = -1;
    const char *text = "", *nid = "";
    int rc = attr_read(s, &l, 0, &why);
    if (rc != ATTR_OK) {
        sbuf_set(reason, rc == ATTR_CLOSED ? "bounce service closed the connection"
                                           : sbuf_str(&why));
        status = -1;
    } else if (attr_scan(&l, &why, ATTR_RECV_INT("status", &status), ATTR_END) < 0) {
        sbuf_set(reason, sbuf_str(&why));
        status = -1;
    } else {
        attr_get_str(&l, "reason", &text);
        attr_get_str(&l, "notice_id", &nid);
        sbuf_set(reason, text);
        if (notice_id)
            sbuf_set(notice_id, nid);
        if (status != BOUNCE_STAT_OK)
            status = BOUNCE_STAT_RETRY;
    }
    attr_list_free(&l);
    sbuf_free(&why);
    return status;
}

int bounce_request_read(vstream *s, struct bounce_req *req, sbuf *why)
{
    attr_list l = ATTR_LIST_INIT;
    const char *request = 0, *kind = 0, *qname = 0, *qid = 0;
    int result = -1;
    memset(req, 0, sizeof(*req));
    sbuf_reset(why);
    int rc = attr_read(s, &l, 0, why);
    if (rc == ATTR_CLOSED)
        sbuf_reset(why);        /* the normal end of a session */
    if (rc != ATTR_OK)
        goto out;
    if (attr_scan(&l, why, ATTR_RECV_STR("request", &request), ATTR_RECV_STR("kind", &kind),
                  ATTR_RECV_STR("queue_name", &qname), ATTR_RECV_STR("queue_id", &qid),
                  ATTR_END) < 0)
        goto out;
    if (strcmp(request, "bounce") != 0) {
        sbuf_printf(why, "unknown request \"%.50s\"", request);
        goto out;
    }
    if (strcmp(kind, BOUNCE_KIND_FAILURE) != 0 && strcmp(kind, BOUNCE_KIND_DELAY) != 0
        && strcmp(kind, BOUNCE_KIND_SUCCESS) != 0) {
        sbuf_printf(why, "unknown notification kind \"%.50s\"", kind);
        goto out;
    }
    if (!qfile_id_ok(qname) || strlen(qname) >= sizeof(req->queue_name)) {
        sbuf_printf(why, "bad queue name \"%.50s\"", qname);
        goto out;
    }
    if (!qfile_id_ok(qid) || strlen(qid) >= sizeof(req->queue_id)) {
        sbuf_printf(why, "bad queue id \"%.50s\"", qid);
        goto out;
    }
    snprintf(req->kind, sizeof(req->kind), "%s", kind);
    snprintf(req->queue_name, sizeof(req->queue_name), "%s", qname);
    snprintf(req->queue_id, sizeof(req->queue_id), "%s", qid);
    result = 0;
out:
    attr_list_free(&l);
    return result;
}

int bounce_reply_write(vstream *s, int status, const char *reason, const char *notice_id)
{
    return attr_print(s, ATTR_SEND_INT("status", status), ATTR_SEND_STR("reason", reason ? reason : ""),
                      ATTR_SEND_STR("notice_id", notice_id ? notice_id : ""), ATTR_END);
}
