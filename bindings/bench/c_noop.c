#define _POSIX_C_SOURCE 200809L
/* The C callback path, for the Ruby and JVM benchmarks: drains COUNT messages of QUEUE_URL (at ENDPOINT) with a
 * no-op C callback through mega_listener_subscribe, the same settings as the bindings' listeners, and prints
 * "SECONDS REQUESTS_PER_MESSAGE". Usage: c_noop QUEUE_URL ENDPOINT COUNT */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sqs_mega.h"

static atomic_long done;
static long target;
static mega_listener *listener;

static int noop(void *userdata, const mega_message *m) {
    (void)userdata;
    (void)m;
    if (atomic_fetch_add(&done, 1) + 1 == target) mega_listener_stop(listener);
    return MEGA_STATUS_DONE;
}

static void check(mega_result rc, const char *what) {
    if (rc != MEGA_RESULT_OK) {
        fprintf(stderr, "%s: %s\n", what, mega_last_error_message());
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    target = atol(argv[3]);
    mega_settings *s;
    check(mega_settings_new_local(argv[2], &s), "settings");
    check(mega_listener_new(s, argv[1], &listener), "listener");
    mega_settings_free(s);
    check(mega_listener_set(listener, MEGA_LISTENER_POLLERS, 2), "pollers");
    check(mega_listener_set(listener, MEGA_LISTENER_MAX_IN_FLIGHT, 100), "in flight");
    check(mega_listener_set(listener, MEGA_LISTENER_WAIT_TIME_SECONDS, 1), "wait");
    check(mega_listener_set(listener, MEGA_LISTENER_HANDLE_SIGNALS, 0), "signals");
    check(mega_listener_subscribe(listener, "noop", MEGA_SUBSCRIBER_DATA, NULL, MEGA_SYNTAX_MEGA, noop, NULL), "subscribe");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    check(mega_listener_run(listener), "run");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    char *json;
    check(mega_listener_stats_json(listener, &json), "stats");
    /* requests per message from the JSON counters */
    unsigned long long rc = 0, dc = 0, vc = 0, rv = 0;
    const char *p;
    if ((p = strstr(json, "\"receive_calls\":"))) rc = strtoull(p + 16, NULL, 10);
    if ((p = strstr(json, "\"delete_calls\":"))) dc = strtoull(p + 15, NULL, 10);
    if ((p = strstr(json, "\"visibility_calls\":"))) vc = strtoull(p + 19, NULL, 10);
    if ((p = strstr(json, "\"received\":"))) rv = strtoull(p + 11, NULL, 10);
    mega_string_free(json);
    double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%.6f %.4f\n", secs, rv ? (double)(rc + dc + vc) / (double)rv : 0.0);
    mega_listener_free(listener);
    return 0;
}
