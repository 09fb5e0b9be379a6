/* A listener on the embedded endpoint with C callbacks: every process status does what it says to the queue,
 * SNS envelopes are unwrapped, plaintext and binary arrive, a listener runs again after it stopped, and a
 * callback may publish. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include "check.h"

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static uint64_t stat_of(const mega_listener *l, mega_stat which) {
    uint64_t v = 0;
    OK(mega_listener_stat(l, which, &v));
    return v;
}

/* Waits until `stat` of the running listener reaches `want` (at most 30 s). */
static int wait_for(const mega_listener *l, mega_stat which, uint64_t want) {
    int i;
    for (i = 0; i < 3000; i++) {
        if (stat_of(l, which) >= want) {
            return 1;
        }
        sleep_ms(10);
    }
    fprintf(stderr, "timed out waiting for stat %u to reach %llu (it is %llu)\n", which,
            (unsigned long long)want, (unsigned long long)stat_of(l, which));
    return 0;
}

/* Runs a listener on its own thread. */
struct runner {
    pthread_t thread;
    mega_listener *listener;
    mega_result result;
    char error[512];
};

static void *run_listener(void *arg) {
    struct runner *r = arg;
    r->result = mega_listener_run(r->listener);
    snprintf(r->error, sizeof r->error, "%s", mega_last_error_message());
    return NULL;
}

static void start(struct runner *r, mega_listener *l) {
    r->listener = l;
    r->result = MEGA_RESULT_PANIC;
    CHECK(pthread_create(&r->thread, NULL, run_listener, r) == 0);
}

static void join(struct runner *r) {
    CHECK(pthread_join(r->thread, NULL) == 0);
    if (r->result != MEGA_RESULT_OK) {
        fprintf(stderr, "mega_listener_run returned %s: %s\n", mega_result_name(r->result), r->error);
        check_failures++;
    }
}

static void stop_and_join(struct runner *r) {
    mega_listener_stop(r->listener);
    mega_listener_stop(r->listener); /* twice: harmless */
    join(r);
}

/* A signal handler that stops the listener, as a C program would on SIGTERM. */
static mega_listener *volatile signal_target = NULL;
static void on_signal(int sig) {
    (void)sig;
    mega_listener_stop(signal_target);
}

static uint64_t queue_depth(const mega_settings *s, const char *url) {
    char *attrs = NULL;
    mega_value *v = NULL;
    uint64_t total = 0;
    const char *keys[] = {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                          "ApproximateNumberOfMessagesDelayed"};
    size_t i;
    OK(mega_queue_attributes(s, url, &attrs));
    OK(mega_value_parse_json(attrs, false, &v));
    for (i = 0; i < 3; i++) {
        char *n = get_string(v, keys[i]);
        CHECK(n != NULL);
        if (n != NULL) {
            total += strtoull(n, NULL, 10);
        }
        free(n);
    }
    mega_value_free(v);
    mega_string_free(attrs);
    return total;
}

/* ---- 1. every process status ---- */

struct statuses {
    atomic_int done, retry_later, fatal, retriable, bogus, bad_message;
};

static int status_handler(void *userdata, const mega_message *msg) {
    struct statuses *st = userdata;
    const mega_value *payload = NULL;
    mega_str id, origin, status;
    mega_kind kind;
    uint32_t count = 0;

    if (mega_message_payload(msg, &payload) != MEGA_RESULT_OK || mega_message_id(msg, &id) != MEGA_RESULT_OK ||
        mega_message_kind(msg, &kind) != MEGA_RESULT_OK || kind != MEGA_KIND_DATA || id.len == 0 ||
        mega_message_receive_count(msg, &count) != MEGA_RESULT_OK || count < 1 ||
        mega_message_attribute(msg, "origin", &origin) != MEGA_RESULT_OK || !str_is(origin, "c-test") ||
        mega_value_string(get(payload, "status"), &status) != MEGA_RESULT_OK) {
        atomic_fetch_add(&st->bad_message, 1);
        return MEGA_STATUS_RETRIABLE_ERROR;
    }
    if (str_is(status, "done")) {
        atomic_fetch_add(&st->done, 1);
        return MEGA_STATUS_DONE;
    }
    if (str_is(status, "retry_later")) {
        atomic_fetch_add(&st->retry_later, 1);
        return MEGA_STATUS_RETRY_LATER;
    }
    if (str_is(status, "fatal")) {
        atomic_fetch_add(&st->fatal, 1);
        return MEGA_STATUS_FATAL_ERROR;
    }
    if (str_is(status, "retriable")) {
        atomic_fetch_add(&st->retriable, 1);
        return MEGA_STATUS_RETRIABLE_ERROR;
    }
    atomic_fetch_add(&st->bogus, 1);
    return 0; /* what a failed JNA or ruby-ffi callback hands C: not a status, so a retriable error (kept) */
}

static void every_status(const mega_settings *s) {
    char *url = NULL;
    mega_publisher *pub = NULL;
    mega_publish_options *opts = NULL;
    mega_batch *batch = NULL;
    mega_batch_result *sent = NULL;
    mega_listener *l = NULL;
    struct statuses st = {0, 0, 0, 0, 0, 0};
    struct runner r;
    const char *statuses[] = {"done", "retry_later", "fatal", "retriable", "bogus"};
    size_t i, n = 0;

    OK(mega_queue_create(s, "c-statuses", "{\"VisibilityTimeout\": 30}", &url));
    OK(mega_sqs_publisher_new(s, url, &pub));
    OK(mega_publish_options_new(&opts));
    OK(mega_publish_options_add_attribute(opts, "origin", "String", "c-test"));
    OK(mega_batch_new(&batch));
    for (i = 0; i < 5; i++) {
        char json[64];
        snprintf(json, sizeof json, "{\"status\": \"%s\", \"n\": %d}", statuses[i], (int)i);
        OK(mega_batch_add_json(batch, json, opts));
    }
    OK(mega_publisher_publish_batch(pub, batch, &sent));
    OK(mega_batch_result_len(sent, &n));
    CHECK(n == 5);
    for (i = 0; i < n; i++) {
        mega_str id;
        OK(mega_batch_result_entry(sent, i, &id));
        CHECK(id.len > 0);
    }
    CHECK(queue_depth(s, url) == 5);

    OK(mega_listener_new(s, url, &l));
    OK(mega_listener_set(l, MEGA_LISTENER_WAIT_TIME_SECONDS, 1));
    OK(mega_listener_set(l, MEGA_LISTENER_RETRY_BASE_MS, 60000)); /* retried messages stay away */
    OK(mega_listener_set(l, MEGA_LISTENER_DELETE_LINGER_MS, 1));
    OK(mega_listener_subscribe(l, "statuses", MEGA_SUBSCRIBER_DATA, "{\"status\": [{\"exists\": true}]}",
                               MEGA_SYNTAX_EVENTBRIDGE, status_handler, &st));
    start(&r, l);
    CHECK(wait_for(l, MEGA_STAT_DISPATCHED, 5));
    CHECK(wait_for(l, MEGA_STAT_DELETED, 2));
    CHECK(wait_for(l, MEGA_STAT_RETRIED, 3));
    stop_and_join(&r);

    CHECK(atomic_load(&st.done) == 1 && atomic_load(&st.retry_later) == 1 && atomic_load(&st.fatal) == 1);
    CHECK(atomic_load(&st.retriable) == 1 && atomic_load(&st.bogus) == 1);
    CHECK(atomic_load(&st.bad_message) == 0);
    /* DONE and FATAL_ERROR deleted their messages; the three others are still in the queue. */
    CHECK(queue_depth(s, url) == 3);
    CHECK(stat_of(l, MEGA_STAT_DONE) == 1);
    CHECK(stat_of(l, MEGA_STAT_RETRY_LATER) == 1);
    CHECK(stat_of(l, MEGA_STAT_FATAL_ERROR) == 1);
    CHECK(stat_of(l, MEGA_STAT_RETRIABLE_ERROR) == 2);
    CHECK(stat_of(l, MEGA_STAT_DELETED) == 2);
    {
        char *json = NULL;
        OK(mega_listener_stats_json(l, &json));
        CHECK(strstr(json, "\"done\":1") != NULL);
        mega_string_free(json);
    }

    mega_listener_free(l);
    mega_batch_result_free(sent);
    mega_batch_free(batch);
    mega_publish_options_free(opts);
    mega_publisher_free(pub);
    mega_string_free(url);
}

/* ---- 2. SNS, plaintext, binary, a second run, a callback that publishes ---- */

struct seen {
    atomic_int events, via_sns, bson_ok, plaintext, binary, replies_sent, replies_got;
    mega_publisher *reply_to;
};

static int event_handler(void *userdata, const mega_message *msg) {
    struct seen *seen = userdata;
    mega_str sns, payload_json;
    const uint8_t *bson = NULL;
    size_t bson_len = 0;
    atomic_fetch_add(&seen->events, 1);
    if (mega_message_sns_json(msg, &sns) == MEGA_RESULT_OK && str_has(sns, "arn:aws:sns:")) {
        atomic_fetch_add(&seen->via_sns, 1);
    }
    if (mega_message_payload_bson(msg, &bson, &bson_len) == MEGA_RESULT_OK && bson_len > 5) {
        atomic_fetch_add(&seen->bson_ok, 1);
    }
    /* Request / reply: publish from inside the callback. */
    if (mega_message_payload_json(msg, &payload_json) == MEGA_RESULT_OK && str_has(payload_json, "reply") &&
        mega_publisher_publish_json(seen->reply_to, "{\"reply\": \"pong\"}", NULL, NULL) == MEGA_RESULT_OK) {
        atomic_fetch_add(&seen->replies_sent, 1);
    }
    return MEGA_STATUS_DONE;
}

static int any_handler(void *userdata, const mega_message *msg) {
    struct seen *seen = userdata;
    mega_kind kind;
    const mega_value *payload = NULL;
    if (mega_message_kind(msg, &kind) != MEGA_RESULT_OK || mega_message_payload(msg, &payload) != MEGA_RESULT_OK) {
        return MEGA_STATUS_RETRIABLE_ERROR;
    }
    if (kind == MEGA_KIND_PLAINTEXT) {
        mega_str text;
        if (mega_value_string(payload, &text) == MEGA_RESULT_OK && str_is(text, "hello from C")) {
            atomic_fetch_add(&seen->plaintext, 1);
        }
    } else if (kind == MEGA_KIND_BINARY) {
        const uint8_t *data = NULL;
        size_t len = 0;
        if (mega_value_bytes(payload, &data, &len) == MEGA_RESULT_OK && len == 4 && data[0] == 0 && data[3] == 0xff) {
            atomic_fetch_add(&seen->binary, 1);
        }
    } else if (kind == MEGA_KIND_DATA) {
        mega_str body;
        if (mega_message_body(msg, &body) == MEGA_RESULT_OK && str_has(body, "pong")) {
            atomic_fetch_add(&seen->replies_got, 1);
        }
    }
    return MEGA_STATUS_DONE;
}

static const char *EVENT = "{\"protocol\": \"mega\", \"version\": 1, \"event\": {\"domain\": \"user\", "
                           "\"name\": \"user_login\", \"version\": 1, \"timestamp\": "
                           "{\"$datetime\": \"2020-05-04T15:53:23.123Z\"}, \"attributes\": {\"reply\": true}}}";

static void sns_and_kinds(const mega_settings *s) {
    char *url = NULL, *topic = NULL;
    mega_publisher *sqs = NULL, *sns = NULL;
    mega_publish_options *bson = NULL;
    mega_listener *l = NULL;
    struct seen seen = {0, 0, 0, 0, 0, 0, 0, NULL};
    struct runner r;
    const uint8_t bytes[4] = {0, 1, 2, 0xff};
    char *id = NULL;

    OK(mega_queue_create(s, "c-sns", NULL, &url));
    OK(mega_topic_create(s, "c-topic", &topic));
    OK(mega_topic_subscribe_queue(s, topic, url, false));
    OK(mega_sqs_publisher_new(s, url, &sqs));
    OK(mega_sns_publisher_new(s, topic, &sns));
    seen.reply_to = sqs;
    OK(mega_publish_options_new(&bson));
    OK(mega_publish_options_set_binary_encoding(bson, true));
    OK(mega_publish_options_set_subject(bson, "a login"));

    OK(mega_publisher_publish_json(sns, EVENT, bson, &id));
    CHECK(id != NULL && strlen(id) > 0);
    mega_string_free(id);
    OK(mega_publisher_publish_plaintext(sqs, "hello from C", NULL, NULL));
    OK(mega_publisher_publish_binary(sqs, bytes, sizeof bytes, NULL, NULL));

    OK(mega_listener_new(s, url, &l));
    OK(mega_listener_set(l, MEGA_LISTENER_WAIT_TIME_SECONDS, 1));
    OK(mega_listener_subscribe(l, "logins", MEGA_SUBSCRIBER_EVENT, "{\"$event\": {\"name\": \"user_login\"}}",
                               MEGA_SYNTAX_MEGA, event_handler, &seen));
    /* No pattern: every payload, plaintext and binary included (the event too: both subscribers get it). */
    OK(mega_listener_subscribe(l, "everything", MEGA_SUBSCRIBER_MESSAGE, NULL, MEGA_SYNTAX_MEGA, any_handler,
                               &seen));
    start(&r, l);
    /* The event, the plaintext, the binary, and the reply the event's callback published. */
    CHECK(wait_for(l, MEGA_STAT_DELETED, 4));
    stop_and_join(&r);
    CHECK(stat_of(l, MEGA_STAT_DONE) == 5); /* the event was done by both subscribers */

    /* Run again after a stop: a listener is reusable (its counters start again). */
    OK(mega_publisher_publish_plaintext(sqs, "hello from C", NULL, NULL));
    start(&r, l);
    {
        int i;
        for (i = 0; i < 3000 && atomic_load(&seen.plaintext) < 2; i++) {
            sleep_ms(10);
        }
    }
    CHECK(atomic_load(&seen.plaintext) == 2);
    /* This time stopped from a signal handler. */
    signal_target = l;
    CHECK(signal(SIGUSR1, on_signal) != SIG_ERR);
    CHECK(raise(SIGUSR1) == 0);
    join(&r);
    signal(SIGUSR1, SIG_DFL);
    CHECK(stat_of(l, MEGA_STAT_DONE) == 1);

    CHECK(atomic_load(&seen.events) == 1);
    CHECK(atomic_load(&seen.via_sns) == 1);
    CHECK(atomic_load(&seen.bson_ok) == 1);
    CHECK(atomic_load(&seen.replies_sent) == 1);
    CHECK(atomic_load(&seen.replies_got) == 1);
    CHECK(atomic_load(&seen.plaintext) == 2);
    CHECK(atomic_load(&seen.binary) == 1);
    CHECK(queue_depth(s, url) == 0);

    mega_listener_free(l);
    mega_publish_options_free(bson);
    mega_publisher_free(sns);
    mega_publisher_free(sqs);
    mega_string_free(topic);
    mega_string_free(url);
}

/* ---- 3. the pull API: deliveries taken by the program's own thread, no callback ---- */

static void pulled(const mega_settings *s) {
    char *url = NULL;
    mega_publisher *pub = NULL;
    mega_listener *l = NULL;
    struct runner r;
    int got = 0, i;

    OK(mega_queue_create(s, "c-pull", NULL, &url));
    OK(mega_sqs_publisher_new(s, url, &pub));
    OK(mega_publisher_publish_json(pub, "{\"n\": 0}", NULL, NULL));
    OK(mega_publisher_publish_json(pub, "{\"n\": 1}", NULL, NULL));
    OK(mega_listener_new(s, url, &l));
    OK(mega_listener_set(l, MEGA_LISTENER_WAIT_TIME_SECONDS, 1));
    OK(mega_listener_set(l, MEGA_LISTENER_RETRY_BASE_MS, 60000));
    OK(mega_listener_subscribe_queued(l, "pulled", MEGA_SUBSCRIBER_DATA, "{\"n\": {\"$any\": true}}",
                                      MEGA_SYNTAX_MEGA));
    start(&r, l);
    for (i = 0; i < 60 && got < 2; i++) {
        mega_delivery *d = NULL;
        const mega_message *m = NULL;
        mega_str json, name;
        bool accepted = false;
        OK(mega_listener_next_delivery(l, 500, &d));
        if (d == NULL) {
            continue;
        }
        OK(mega_delivery_subscriber(d, &name));
        CHECK(name.len == 6 && memcmp(name.data, "pulled", 6) == 0);
        OK(mega_delivery_message(d, &m));
        OK(mega_message_payload_json(m, &json));
        FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_delivery_complete(d, 0, NULL)); /* 0 is no status */
        if (memchr(json.data, '0', json.len) != NULL) {
            OK(mega_delivery_complete(d, MEGA_STATUS_DONE, &accepted));
            CHECK(accepted);
        } /* the other is freed without a status: a retriable error, kept */
        mega_delivery_free(d);
        got++;
    }
    CHECK(got == 2);
    CHECK(wait_for(l, MEGA_STAT_DELETED, 1));
    stop_and_join(&r);
    CHECK(stat_of(l, MEGA_STAT_DONE) == 1);
    CHECK(stat_of(l, MEGA_STAT_RETRIABLE_ERROR) == 1);
    mega_listener_free(l);
    mega_publisher_free(pub);
    mega_string_free(url);
}

int main(void) {
    mega_local *local = NULL;
    mega_settings *s = NULL;
    OK(mega_local_start(NULL, 0, &local));
    CHECK(strncmp(mega_local_url(local), "http://127.0.0.1:", 17) == 0);
    OK(mega_settings_new_local(mega_local_url(local), &s));
    every_status(s);
    sns_and_kinds(s);
    pulled(s);
    mega_settings_free(s);
    mega_local_free(local);
    return finish("listener", 3);
}
