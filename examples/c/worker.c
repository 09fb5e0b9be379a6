/*
 * A worker in C: subscribes to MEGA events and data objects on an SQS queue and processes them, until
 * SIGINT / SIGTERM. Copy it and change the handlers.
 *
 *   worker QUEUE_URL   listen on a queue (AWS credentials, region and endpoint from the standard chain, as
 *                      every AWS SDK: AWS_ENDPOINT_URL=http://127.0.0.1:4566 for `mega local` or another
 *                      SQS-compatible endpoint)
 *   worker --demo      start the embedded endpoint, publish three messages, handle them, exit
 *
 * It prints one line per handled message, the message id first: `ID event NAME attempt N`, `ID data JSON`.
 * SIGTERM or SIGINT stop it gracefully (callbacks in flight finish) with exit status 0.
 *
 * Environment:
 *   MEGA_COMPLETION_STORE  where subscribers' completions are kept, so that a message delivered twice is
 *                          handled once: `memory`, `redis://HOST:6379/0`, `dynamodb://TABLE` (unset: no
 *                          store). An invalid URL exits with status 1 and says why.
 *   MEGA_METRICS_ADDR      serve Prometheus metrics (GET /metrics) there: `9464`, `0.0.0.0:9464` (unset: none)
 *
 * Build (see the README, "C"):
 *   cargo build --release -p sqs-mega-ffi
 *   cc -std=c11 -Wall -Iinclude examples/c/worker.c -Ltarget/release -lsqs_mega -Wl,-rpath,target/release \
 *      -o worker
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqs_mega.h"

/* The listener, for the signal handler: mega_listener_stop is safe to call from one. */
static mega_listener *volatile running_listener = NULL;
static int demo_remaining = -1; /* demo mode: messages left to handle (callbacks run one at a time here) */

static void on_signal(int sig) {
    (void)sig;
    mega_listener_stop(running_listener);
}

/* Prints why a call failed and exits. */
static void check(mega_result rc, const char *what) {
    if (rc != MEGA_RESULT_OK) {
        fprintf(stderr, "%s failed: %s (%s)\n", what, mega_last_error_message(), mega_result_name(rc));
        exit(1);
    }
}

static void done_one(void) {
    if (demo_remaining > 0 && --demo_remaining == 0) {
        mega_listener_stop(running_listener); /* from a callback: fine, it only sets a flag */
    }
}

/* A MEGA event `user:*`. Everything read from `msg` is borrowed until this function returns. */
static int on_user_event(void *userdata, const mega_message *msg) {
    const mega_value *payload = NULL, *event = NULL, *name = NULL;
    mega_str id, name_text;
    uint32_t attempt = 0;
    (void)userdata;
    if (mega_message_payload(msg, &payload) != MEGA_RESULT_OK || mega_value_get(payload, "event", &event) != MEGA_RESULT_OK ||
        mega_value_get(event, "name", &name) != MEGA_RESULT_OK || mega_value_string(name, &name_text) != MEGA_RESULT_OK) {
        fprintf(stderr, "unexpected payload: %s\n", mega_last_error_message());
        return MEGA_STATUS_FATAL_ERROR; /* it will never be readable: drop it */
    }
    mega_message_id(msg, &id);
    mega_message_receive_count(msg, &attempt);
    printf("%.*s event %.*s attempt %u\n", (int)id.len, id.data, (int)name_text.len, name_text.data, attempt);
    fflush(stdout);
    done_one();
    return MEGA_STATUS_DONE;
}

/* Any data object: printed as JSON. Return MEGA_STATUS_RETRY_LATER to see it again later. */
static int on_data(void *userdata, const mega_message *msg) {
    mega_str json, id;
    (void)userdata;
    if (mega_message_payload_json(msg, &json) != MEGA_RESULT_OK || mega_message_id(msg, &id) != MEGA_RESULT_OK) {
        return MEGA_STATUS_RETRIABLE_ERROR;
    }
    printf("%.*s data %.*s\n", (int)id.len, id.data, (int)json.len, json.data);
    fflush(stdout);
    done_one();
    return MEGA_STATUS_DONE;
}

/* Demo mode: publish an event, a data object and a BSON-encoded event to the queue. */
static void publish_demo_messages(const mega_settings *settings, const char *queue_url) {
    mega_publisher *publisher = NULL;
    mega_publish_options *bson = NULL;
    char *id = NULL;
    check(mega_sqs_publisher_new(settings, queue_url, &publisher), "mega_sqs_publisher_new");
    check(mega_publisher_publish_json(publisher,
                                      "{\"protocol\": \"mega\", \"version\": 1, \"event\": {\"domain\": \"user\", "
                                      "\"name\": \"user:login\", \"timestamp\": \"2026-11-22T10:00:00Z\"}}",
                                      NULL, &id),
          "publish an event");
    printf("published an event as message %s\n", id);
    mega_string_free(id);
    check(mega_publisher_publish_json(publisher, "{\"type\": \"invoice\", \"total\": 12.5}",
                                      NULL, NULL),
          "publish a data object");
    check(mega_publish_options_new(&bson), "mega_publish_options_new");
    check(mega_publish_options_set_binary_encoding(bson, true), "binary encoding");
    check(mega_publisher_publish_json(publisher,
                                      "{\"protocol\": \"mega\", \"version\": 1, \"event\": {\"domain\": \"user\", "
                                      "\"name\": \"user:logout\", \"timestamp\": \"2026-11-22T10:05:00Z\"}}",
                                      bson, NULL),
          "publish a BSON event");
    mega_publish_options_free(bson);
    mega_publisher_free(publisher);
}

int main(int argc, char **argv) {
    mega_local *local = NULL;
    mega_settings *settings = NULL;
    mega_listener *listener = NULL;
    char *demo_queue = NULL;
    const char *queue_url;
    mega_result rc;
    uint64_t done = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s QUEUE_URL | --demo\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "--demo") == 0) {
        check(mega_local_start(NULL, 0, &local), "mega_local_start");
        check(mega_settings_new_local(mega_local_url(local), &settings), "mega_settings_new_local");
        check(mega_queue_create(settings, "worker-demo", NULL, &demo_queue), "mega_queue_create");
        publish_demo_messages(settings, demo_queue);
        queue_url = demo_queue;
        demo_remaining = 3;
    } else {
        /* The standard chain: AWS_ENDPOINT_URL, AWS_REGION, credentials… as the AWS SDKs read them. */
        check(mega_settings_new(&settings), "mega_settings_new");
        queue_url = argv[1];
    }

    check(mega_listener_new(settings, queue_url, &listener), "mega_listener_new");
    if (local != NULL) {
        check(mega_listener_set(listener, MEGA_LISTENER_WAIT_TIME_SECONDS, 1), "wait time");
        check(mega_listener_set(listener, MEGA_LISTENER_MAX_IN_FLIGHT, 1), "max in flight");
    }
    /* A bad value is refused here, naming the setting and the problem (a URL's password never shown). */
    if (getenv("MEGA_COMPLETION_STORE") != NULL && getenv("MEGA_COMPLETION_STORE")[0] != '\0') {
        check(mega_listener_set_text(listener, MEGA_LISTENER_COMPLETION_STORE, getenv("MEGA_COMPLETION_STORE")),
              "MEGA_COMPLETION_STORE");
    }
    if (getenv("MEGA_METRICS_ADDR") != NULL && getenv("MEGA_METRICS_ADDR")[0] != '\0') {
        check(mega_listener_set_text(listener, MEGA_LISTENER_METRICS_ADDR, getenv("MEGA_METRICS_ADDR")),
              "MEGA_METRICS_ADDR");
    }
    check(mega_listener_subscribe(listener, "user-events", MEGA_SUBSCRIBER_EVENT,
                                  "{\"$event\": {\"domain\": \"user\", \"name\": {\"$match\": \"user:\"}}}",
                                  MEGA_SYNTAX_MEGA, on_user_event, NULL),
          "subscribe user-events");
    check(mega_listener_subscribe(listener, "data", MEGA_SUBSCRIBER_DATA, NULL, MEGA_SYNTAX_MEGA, on_data, NULL),
          "subscribe data");

    running_listener = listener;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("listening on %s (Ctrl-C stops)\n", queue_url);
    fflush(stdout);
    rc = mega_listener_run(listener); /* blocks until stopped; in-flight callbacks finish first */
    running_listener = NULL;
    check(rc, "mega_listener_run");
    mega_listener_stat(listener, MEGA_STAT_DONE, &done);
    printf("stopped: %llu message(s) done\n", (unsigned long long)done);

    mega_listener_free(listener);
    mega_string_free(demo_queue);
    mega_settings_free(settings);
    mega_local_free(local);
    return 0;
}
