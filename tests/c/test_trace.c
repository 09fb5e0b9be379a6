/* Completion stores, metrics and trace context through the C ABI, on the embedded endpoint: text settings
 * are checked where they are given (a store URL's password never shown), a memory store (or Redis, when
 * MEGA_TEST_REDIS_URL names one) keeps a subscriber from running twice for a message delivered twice, the
 * metrics endpoint serves counters that grow, a callback sees the sender's trace as its parent, and what a
 * callback or a thread holding a pulled delivery publishes continues the trace; a business key
 * (MEGA_LISTENER_IDEMPOTENCY_KEY) runs a subscriber once for two messages of the same order. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define KNOWN "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define KNOWN_TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define KNOWN_SPAN "00f067aa0ba902b7"

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

struct runner {
    pthread_t thread;
    mega_listener *listener;
    mega_result result;
};

static void *run_listener(void *arg) {
    struct runner *r = arg;
    r->result = mega_listener_run(r->listener);
    if (r->result != MEGA_RESULT_OK) {
        fprintf(stderr, "mega_listener_run: %s\n", mega_last_error_message());
    }
    return NULL;
}

static void start(struct runner *r, mega_listener *l) {
    r->listener = l;
    r->result = MEGA_RESULT_PANIC;
    CHECK(pthread_create(&r->thread, NULL, run_listener, r) == 0);
}

static void stop_and_join(struct runner *r) {
    mega_listener_stop(r->listener);
    CHECK(pthread_join(r->thread, NULL) == 0);
    CHECK(r->result == MEGA_RESULT_OK);
}

/* ---- 1. text settings are checked where they are given ---- */

static void text_settings(const mega_settings *s) {
    mega_listener *l = NULL;
    OK(mega_listener_new(s, "http://127.0.0.1:1/000000000000/q", &l));
    OK(mega_listener_set_text(l, MEGA_LISTENER_COMPLETION_STORE, "memory"));
    OK(mega_listener_set_text(l, MEGA_LISTENER_COMPLETION_STORE, "memory://?capacity=10&lease=2s&ttl=1h"));
    OK(mega_listener_set_text(l, MEGA_LISTENER_COMPLETION_STORE, "redis://127.0.0.1:6379/0?lease=5s"));
    OK(mega_listener_set_text(l, MEGA_LISTENER_COMPLETION_STORE, "dynamodb://completions?region=us-east-1"));
    OK(mega_listener_set_text(l, MEGA_LISTENER_COMPLETION_STORE, NULL));

    FAILS(MEGA_RESULT_INVALID_ARGUMENT,
          mega_listener_set_text(l, MEGA_LISTENER_COMPLETION_STORE, "redis://user:hunter2@cache:6379/0?lease=soon"));
    CHECK(strstr(mega_last_error_message(), "MEGA_LISTENER_COMPLETION_STORE") != NULL);
    CHECK(strstr(mega_last_error_message(), "redis://") != NULL);
    CHECK(strstr(mega_last_error_message(), "hunter2") == NULL);
    FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_listener_set_text(l, MEGA_LISTENER_COMPLETION_STORE, "mongo://x"));
    CHECK(strstr(mega_last_error_message(), "mongo://x") != NULL);
    FAILS(MEGA_RESULT_INVALID_ARGUMENT,
          mega_listener_set_text(l, MEGA_LISTENER_COMPLETION_STORE, "memory://?lease=soon"));
    CHECK(strstr(mega_last_error_message(), "lease") != NULL);

    OK(mega_listener_set_text(l, MEGA_LISTENER_METRICS_ADDR, "0"));
    OK(mega_listener_set_text(l, MEGA_LISTENER_METRICS_ADDR, "127.0.0.1:9464"));
    FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_listener_set_text(l, MEGA_LISTENER_METRICS_ADDR, "everywhere"));
    CHECK(strstr(mega_last_error_message(), "everywhere") != NULL);
    OK(mega_listener_set_text(l, MEGA_LISTENER_IDEMPOTENCY_KEY, "data.order_id"));
    FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_listener_set_text(l, MEGA_LISTENER_IDEMPOTENCY_KEY, "data..order_id"));
    CHECK(strstr(mega_last_error_message(), "data..order_id") != NULL);
    OK(mega_listener_set_text(l, MEGA_LISTENER_IDEMPOTENCY_KEY, NULL));

    /* Text settings are not numbers and numbers are not text. */
    FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_listener_set(l, MEGA_LISTENER_COMPLETION_STORE, 1));
    FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_listener_set_text(l, MEGA_LISTENER_POLLERS, "2"));
    FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_listener_set_text(l, 999, "x"));
    FAILS(MEGA_RESULT_NULL_ARGUMENT, mega_listener_set_text(NULL, MEGA_LISTENER_METRICS_ADDR, "0"));

    {
        uint16_t port = 1;
        OK(mega_listener_metrics_port(l, &port));
        CHECK(port == 0); /* not running */
    }
    mega_listener_free(l);

    {
        mega_publish_options *o = NULL;
        OK(mega_publish_options_new(&o));
        OK(mega_publish_options_set_traceparent(o, KNOWN));
        FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_publish_options_set_traceparent(o, "00-xyz-01"));
        CHECK(strstr(mega_last_error_message(), "traceparent") != NULL);
        OK(mega_publish_options_set_traceparent(o, NULL));
        OK(mega_publish_options_set_no_trace(o, true));
        mega_publish_options_free(o);
    }
}

/* ---- 2. a store, metrics and traces on a running listener ---- */

struct seen {
    atomic_int once_calls, flaky_calls, bad;
    char handler_span[17];
    char handler_trace[33];
    mega_publisher *out;
};

/* Checks the callback's trace, and publishes one message (continuing it) the first time. */
static int once_handler(void *userdata, const mega_message *m) {
    struct seen *st = userdata;
    mega_str tp, trace, span, parent;
    if (mega_message_traceparent(m, &tp) != MEGA_RESULT_OK || mega_message_trace_id(m, &trace) != MEGA_RESULT_OK ||
        mega_message_span_id(m, &span) != MEGA_RESULT_OK ||
        mega_message_parent_traceparent(m, &parent) != MEGA_RESULT_OK || !str_is(trace, KNOWN_TRACE) ||
        str_is(span, KNOWN_SPAN) || span.len != 16 || !str_is(parent, KNOWN) || tp.len != 55 ||
        memcmp(tp.data + 3, KNOWN_TRACE, 32) != 0) {
        atomic_fetch_add(&st->bad, 1);
        return MEGA_STATUS_RETRIABLE_ERROR;
    }
    if (atomic_fetch_add(&st->once_calls, 1) == 0) {
        memcpy(st->handler_span, span.data, 16);
        st->handler_span[16] = '\0';
        memcpy(st->handler_trace, trace.data, 32);
        st->handler_trace[32] = '\0';
        if (mega_publisher_publish_json(st->out, "{\"step\": \"child\"}", NULL, NULL) != MEGA_RESULT_OK) {
            atomic_fetch_add(&st->bad, 1);
        }
    }
    return MEGA_STATUS_DONE;
}

/* Asks for a retry the first time: the message comes back, and `once` must be skipped then. */
static int flaky_handler(void *userdata, const mega_message *m) {
    struct seen *st = userdata;
    (void)m;
    return atomic_fetch_add(&st->flaky_calls, 1) == 0 ? MEGA_STATUS_RETRIABLE_ERROR : MEGA_STATUS_DONE;
}

/* GET /metrics on 127.0.0.1:port: the value of `metric` (its first sample), or -1. */
static long long scrape(uint16_t port, const char *metric) {
    char buf[16384];
    size_t got = 0;
    ssize_t n;
    long long value = -1;
    struct sockaddr_in a;
    const char *req = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    while (got < sizeof buf - 1 && (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0) {
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    if (strncmp(buf, "HTTP/1.1 200", 12) == 0) {
        char needle[128];
        const char *at;
        snprintf(needle, sizeof needle, "\n%s{", metric);
        at = strstr(buf, needle);
        if (at != NULL && (at = strchr(at, '}')) != NULL) {
            value = strtoll(at + 1, NULL, 10);
        }
    }
    return value;
}

static uint64_t stat_of(const mega_listener *l, mega_stat which) {
    uint64_t v = 0;
    OK(mega_listener_stat(l, which, &v));
    return v;
}

static void running(const mega_settings *s) {
    char *in_url = NULL, *out_url = NULL;
    mega_publisher *in = NULL;
    mega_publish_options *o = NULL;
    mega_listener *l = NULL, *l2 = NULL;
    struct runner r, r2;
    struct seen st;
    const char *redis = getenv("MEGA_TEST_REDIS_URL");
    uint16_t port = 0;
    long long before = -1, after = -1;
    char pulled_span[17] = {0};
    int i, pulled = 0;

    memset(&st, 0, sizeof st);
    OK(mega_queue_create(s, "c-trace-in", NULL, &in_url));
    OK(mega_queue_create(s, "c-trace-out", NULL, &out_url));
    OK(mega_sqs_publisher_new(s, in_url, &in));
    OK(mega_sqs_publisher_new(s, out_url, &st.out));

    OK(mega_listener_new(s, in_url, &l));
    OK(mega_listener_set(l, MEGA_LISTENER_WAIT_TIME_SECONDS, 1));
    OK(mega_listener_set(l, MEGA_LISTENER_RETRY_BASE_MS, 1000));
    OK(mega_listener_set(l, MEGA_LISTENER_RETRY_MAX_MS, 1000));
    OK(mega_listener_set_text(l, MEGA_LISTENER_COMPLETION_STORE, redis != NULL ? redis : "memory"));
    OK(mega_listener_set_text(l, MEGA_LISTENER_METRICS_ADDR, "127.0.0.1:0"));
    OK(mega_listener_subscribe(l, "once", MEGA_SUBSCRIBER_DATA, "{\"step\": \"parent\"}", MEGA_SYNTAX_MEGA,
                               once_handler, &st));
    OK(mega_listener_subscribe(l, "flaky", MEGA_SUBSCRIBER_DATA, "{\"step\": \"parent\"}", MEGA_SYNTAX_MEGA,
                               flaky_handler, &st));
    start(&r, l);
    for (i = 0; i < 500 && port == 0; i++) {
        OK(mega_listener_metrics_port(l, &port));
        sleep_ms(10);
    }
    CHECK(port != 0);

    OK(mega_publish_options_new(&o));
    OK(mega_publish_options_set_traceparent(o, KNOWN));
    OK(mega_publisher_publish_json(in, "{\"step\": \"parent\"}", o, NULL));
    mega_publish_options_free(o);

    for (i = 0; i < 3000 && atomic_load(&st.flaky_calls) < 1; i++) {
        sleep_ms(10);
    }
    for (i = 0; i < 300 && before < 1; i++) {
        before = scrape(port, "mega_listener_received_total");
        sleep_ms(10);
    }
    CHECK(before >= 1);
    for (i = 0; i < 3000 && atomic_load(&st.flaky_calls) < 2; i++) {
        sleep_ms(10);
    }
    for (i = 0; i < 300 && stat_of(l, MEGA_STAT_DELETED) < 1; i++) {
        sleep_ms(10);
    }
    after = scrape(port, "mega_listener_received_total");
    CHECK(after > before); /* received twice: the redelivery counted */
    CHECK(scrape(port, "mega_listener_store_calls_total") >= 3);
    stop_and_join(&r);
    OK(mega_listener_metrics_port(l, &port));
    CHECK(port == 0);
    CHECK(atomic_load(&st.flaky_calls) == 2);
    CHECK(atomic_load(&st.once_calls) == 1); /* the store skipped it on the redelivery */
    CHECK(atomic_load(&st.bad) == 0);
    CHECK(stat_of(l, MEGA_STAT_STORE_CALLS) >= 3);
    CHECK(stat_of(l, MEGA_STAT_STORE_ERRORS) == 0);
    {
        char *json = NULL;
        OK(mega_listener_stats_json(l, &json));
        CHECK(strstr(json, "\"store_busy\"") != NULL);
        mega_string_free(json);
    }

    /* What the callback published, pulled on this thread: its parent is the callback's span. Published
     * while holding it, a message continues this delivery's span. */
    OK(mega_listener_new(s, out_url, &l2));
    OK(mega_listener_set(l2, MEGA_LISTENER_WAIT_TIME_SECONDS, 1));
    OK(mega_listener_subscribe_queued(l2, "pulled", MEGA_SUBSCRIBER_DATA, NULL, MEGA_SYNTAX_MEGA));
    start(&r2, l2);
    for (i = 0; i < 60 && pulled < 2; i++) {
        mega_delivery *d = NULL;
        const mega_message *m = NULL;
        mega_str payload, parent, trace, span;
        OK(mega_listener_next_delivery(l2, 500, &d));
        if (d == NULL) {
            continue;
        }
        OK(mega_delivery_message(d, &m));
        OK(mega_message_payload_json(m, &payload));
        OK(mega_message_parent_traceparent(m, &parent));
        OK(mega_message_trace_id(m, &trace));
        OK(mega_message_span_id(m, &span));
        CHECK(str_is(trace, KNOWN_TRACE));
        CHECK(parent.len == 55 && memcmp(parent.data + 3, KNOWN_TRACE, 32) == 0);
        if (str_has(payload, "\"child\"")) {
            /* The sender's span is the publish's own: a child of the callback's span. */
            CHECK(memcmp(parent.data + 36, st.handler_span, 16) != 0);
            memcpy(pulled_span, span.data, 16);
            OK(mega_publisher_publish_json(st.out, "{\"step\": \"grandchild\"}", NULL, NULL));
        } else {
            CHECK(str_has(payload, "\"grandchild\""));
            CHECK(pulled_span[0] != 0 && memcmp(parent.data + 36, pulled_span, 16) != 0);
        }
        OK(mega_delivery_complete(d, MEGA_STATUS_DONE, NULL));
        mega_delivery_free(d);
        pulled++;
    }
    CHECK(pulled == 2);
    stop_and_join(&r2);

    /* Outside any handler, a publish starts a new trace; no_trace sends none. */
    OK(mega_publish_options_new(&o));
    OK(mega_publish_options_set_no_trace(o, true));
    OK(mega_publisher_publish_json(st.out, "{\"step\": \"untraced\"}", o, NULL));
    OK(mega_publisher_publish_json(st.out, "{\"step\": \"root\"}", NULL, NULL));
    mega_publish_options_free(o);
    start(&r2, l2);
    for (i = 0, pulled = 0; i < 60 && pulled < 2; i++) {
        mega_delivery *d = NULL;
        const mega_message *m = NULL;
        mega_str payload, parent, trace;
        OK(mega_listener_next_delivery(l2, 500, &d));
        if (d == NULL) {
            continue;
        }
        OK(mega_delivery_message(d, &m));
        OK(mega_message_payload_json(m, &payload));
        OK(mega_message_trace_id(m, &trace));
        CHECK(!str_is(trace, KNOWN_TRACE));
        if (str_has(payload, "untraced")) {
            FAILS(MEGA_RESULT_NOT_FOUND, mega_message_parent_traceparent(m, &parent));
        } else {
            OK(mega_message_parent_traceparent(m, &parent));
            CHECK(parent.len == 55 && memcmp(parent.data + 3, trace.data, 32) == 0);
        }
        OK(mega_delivery_complete(d, MEGA_STATUS_DONE, NULL));
        mega_delivery_free(d);
        pulled++;
    }
    CHECK(pulled == 2);
    stop_and_join(&r2);

    mega_listener_free(l2);
    mega_listener_free(l);
    mega_publisher_free(st.out);
    mega_publisher_free(in);
    mega_string_free(in_url);
    mega_string_free(out_url);
}

/* ---- 3. a business key: two messages for the same order run the subscriber once ---- */

static int count_handler(void *userdata, const mega_message *m) {
    (void)m;
    atomic_fetch_add((atomic_int *)userdata, 1);
    return MEGA_STATUS_DONE;
}

static void business_key(const mega_settings *s) {
    char *url = NULL;
    mega_publisher *pub = NULL;
    mega_listener *l = NULL;
    struct runner r;
    atomic_int calls;
    int i;
    atomic_init(&calls, 0);
    OK(mega_queue_create(s, "c-business-key", NULL, &url));
    OK(mega_sqs_publisher_new(s, url, &pub));
    OK(mega_publisher_publish_json(pub, "{\"order_id\": \"A-1\", \"n\": 1}", NULL, NULL));
    OK(mega_publisher_publish_json(pub, "{\"order_id\": \"A-1\", \"n\": 2}", NULL, NULL));
    OK(mega_listener_new(s, url, &l));
    OK(mega_listener_set(l, MEGA_LISTENER_WAIT_TIME_SECONDS, 1));
    OK(mega_listener_set(l, MEGA_LISTENER_RETRY_BASE_MS, 1000));
    OK(mega_listener_set(l, MEGA_LISTENER_RETRY_MAX_MS, 1000));
    OK(mega_listener_set_text(l, MEGA_LISTENER_COMPLETION_STORE, "memory"));
    OK(mega_listener_set_text(l, MEGA_LISTENER_IDEMPOTENCY_KEY, "order_id"));
    OK(mega_listener_subscribe(l, "orders", MEGA_SUBSCRIBER_DATA, NULL, MEGA_SYNTAX_MEGA, count_handler, &calls));
    start(&r, l);
    for (i = 0; i < 3000 && stat_of(l, MEGA_STAT_DELETED) < 2; i++) {
        sleep_ms(10);
    }
    stop_and_join(&r);
    CHECK(stat_of(l, MEGA_STAT_DELETED) == 2);
    CHECK(atomic_load(&calls) == 1);
    mega_listener_free(l);
    mega_publisher_free(pub);
    mega_string_free(url);
}

int main(void) {
    mega_local *local = NULL;
    mega_settings *s = NULL;
    OK(mega_local_start(NULL, 0, &local));
    OK(mega_settings_new_local(mega_local_url(local), &s));
    text_settings(s);
    running(s);
    business_key(s);
    mega_settings_free(s);
    mega_local_free(local);
    return finish("trace", getenv("MEGA_TEST_REDIS_URL") != NULL ? 4 : 3);
}
