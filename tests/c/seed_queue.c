/* For the worker test of run.sh: with settings from the standard chain only (AWS_ENDPOINT_URL naming a
 * `mega local`), creates the queue argv[1], publishes an event and a data object, and prints the queue URL
 * and the two message ids, one a line. */
#include <stdio.h>

#include "sqs_mega.h"

static int fail(const char *what) {
    fprintf(stderr, "%s failed: %s\n", what, mega_last_error_message());
    return 1;
}

int main(int argc, char **argv) {
    mega_settings *s = NULL;
    mega_publisher *p = NULL;
    char *url = NULL, *id1 = NULL, *id2 = NULL;
    int rc = 0;
    if (argc != 2) {
        return 2;
    }
    if (mega_settings_new(&s) != MEGA_RESULT_OK) return fail("mega_settings_new");
    if (mega_queue_create(s, argv[1], NULL, &url) != MEGA_RESULT_OK) return fail("mega_queue_create");
    if (mega_sqs_publisher_new(s, url, &p) != MEGA_RESULT_OK) return fail("mega_sqs_publisher_new");
    if (mega_publisher_publish_json(p,
                                    "{\"protocol\": \"mega\", \"version\": 1, \"event\": {\"domain\": \"user\", "
                                    "\"name\": \"user:login\", \"timestamp\": \"2026-11-22T10:00:00Z\"}}",
                                    NULL, &id1) != MEGA_RESULT_OK ||
        mega_publisher_publish_json(p, "{\"type\": \"invoice\", \"total\": 12.5}", NULL, &id2) != MEGA_RESULT_OK) {
        rc = fail("publish");
    } else {
        printf("%s\n%s\n%s\n", url, id1, id2);
    }
    mega_string_free(id1);
    mega_string_free(id2);
    mega_string_free(url);
    mega_publisher_free(p);
    mega_settings_free(s);
    return rc;
}
