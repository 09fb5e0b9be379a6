/* Misuse: NULL arguments, invalid JSON, invalid UTF-8, unknown enum values, wrong kinds, a queue that does not
 * exist, an address in use, stopping twice or before running. Every case returns its code, writes no
 * out-parameter, and leaves the library usable; nothing crashes. */
#include "check.h"

static int never_called(void *userdata, const mega_message *msg) {
    (void)userdata;
    (void)msg;
    return MEGA_STATUS_DONE;
}

static void null_arguments(void) {
    mega_decoded *d = (mega_decoded *)0x1;
    mega_pattern *p = NULL;
    mega_value *v = NULL;
    mega_settings *s = NULL;
    bool b = false;

    FAILS(MEGA_RESULT_NULL_ARGUMENT, mega_decode(NULL, NULL, &d));
    CHECK(d == (mega_decoded *)0x1); /* out-parameters are written only on success */
    CHECK(strstr(mega_last_error_message(), "`body`") != NULL);
    CHECK(mega_last_error_code() == MEGA_RESULT_NULL_ARGUMENT);
    FAILS(MEGA_RESULT_NULL_ARGUMENT, mega_decode("{}", NULL, NULL));
    FAILS(MEGA_RESULT_NULL_ARGUMENT, mega_decode_bytes(NULL, 3, NULL, &d));
    FAILS(MEGA_RESULT_NULL_ARGUMENT, mega_pattern_compile(NULL, MEGA_SYNTAX_MEGA, NULL, &p));
    FAILS(MEGA_RESULT_NULL_ARGUMENT, mega_pattern_matches(NULL, NULL, &b));
    FAILS(MEGA_RESULT_NULL_ARGUMENT, mega_value_parse_json("{}", false, NULL));
    FAILS(MEGA_RESULT_NULL_ARGUMENT, mega_value_len(NULL, NULL));
    FAILS(MEGA_RESULT_NULL_ARGUMENT, mega_settings_new_local(NULL, &s));
    FAILS(MEGA_RESULT_NULL_ARGUMENT, mega_sqs_publisher_new(NULL, "http://x", NULL));
    FAILS(MEGA_RESULT_NULL_ARGUMENT, mega_publisher_publish_json(NULL, "{}", NULL, NULL));
    FAILS(MEGA_RESULT_NULL_ARGUMENT, mega_listener_new(NULL, "http://x", NULL));
    FAILS(MEGA_RESULT_NULL_ARGUMENT, mega_listener_run(NULL));
    FAILS(MEGA_RESULT_NULL_ARGUMENT, mega_message_id(NULL, NULL));
    FAILS(MEGA_RESULT_NULL_ARGUMENT, mega_local_start(NULL, 0, NULL));
    CHECK(mega_local_url(NULL) == NULL);
    (void)v;

    /* Every _free and _stop takes NULL. */
    mega_decoded_free(NULL);
    mega_pattern_free(NULL);
    mega_callbacks_free(NULL);
    mega_value_free(NULL);
    mega_settings_free(NULL);
    mega_publisher_free(NULL);
    mega_publish_options_free(NULL);
    mega_batch_free(NULL);
    mega_batch_result_free(NULL);
    mega_listener_free(NULL);
    mega_listener_stop(NULL);
    mega_local_free(NULL);
    mega_string_free(NULL);
}

static void bad_text(void) {
    mega_decoded *d = NULL;
    mega_pattern *p = NULL;
    mega_value *v = NULL;
    const char bad_utf8[] = {'{', '"', 'a', '"', ':', '"', (char)0xff, '"', '}', 0};

    FAILS(MEGA_RESULT_INVALID_UTF8, mega_decode(bad_utf8, NULL, &d));
    CHECK(strstr(mega_last_error_message(), "offset 6") != NULL);
    FAILS(MEGA_RESULT_INVALID_UTF8, mega_pattern_compile(bad_utf8, MEGA_SYNTAX_MEGA, NULL, &p));
    FAILS(MEGA_RESULT_INVALID_UTF8, mega_value_parse_json(bad_utf8, false, &v));
    FAILS(MEGA_RESULT_INVALID_UTF8, mega_decode("x", bad_utf8, &d));

    FAILS(MEGA_RESULT_PATTERN, mega_pattern_compile("{\"a\": ", MEGA_SYNTAX_MEGA, NULL, &p));
    CHECK(strcmp(mega_last_error_detail(), "/") == 0);
    FAILS(MEGA_RESULT_PATTERN, mega_pattern_compile("{\"a\": {\"$gt\": {}}}", MEGA_SYNTAX_MEGA, NULL, &p));
    CHECK(strcmp(mega_last_error_detail(), "/a/$gt") == 0);
    FAILS(MEGA_RESULT_PATTERN, mega_pattern_compile("{\"a\": {\"$fn\": \"nobody\"}}", MEGA_SYNTAX_MEGA, NULL, &p));
    FAILS(MEGA_RESULT_PATTERN, mega_pattern_compile("{\"a\": {\"$match\": \"(\"}}", MEGA_SYNTAX_MEGA, NULL, &p));
    FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_pattern_compile("{}", 7, NULL, &p));
    CHECK(p == NULL);

    FAILS(MEGA_RESULT_JSON, mega_value_parse_json("[1, 2", false, &v));
    CHECK(strstr(mega_last_error_message(), "line 1") != NULL);
    FAILS(MEGA_RESULT_JSON, mega_value_parse_json("{\"$bytes\": \"not base64!\"}", true, &v));
    CHECK(v == NULL);
    FAILS(MEGA_RESULT_DECODE, mega_decode("x", "yaml", &d));
    CHECK(strcmp(mega_last_error_detail(), "unknown_encoding") == 0);
    CHECK(d == NULL);
}

static void wrong_kinds(void) {
    mega_value *v = NULL;
    const mega_value *e = NULL;
    int64_t i = 5;
    mega_str s;
    double x = 0;
    OK(mega_value_parse_json("{\"s\": \"text\", \"f\": 1.5}", false, &v));
    FAILS(MEGA_RESULT_WRONG_TYPE, mega_value_int(get(v, "s"), &i));
    CHECK(i == 5);
    FAILS(MEGA_RESULT_WRONG_TYPE, mega_value_get(get(v, "s"), "x", &e));
    FAILS(MEGA_RESULT_NOT_FOUND, mega_value_get(v, "missing", &e));
    FAILS(MEGA_RESULT_NOT_FOUND, mega_value_at(v, 2, &e));
    FAILS(MEGA_RESULT_WRONG_TYPE, mega_value_key_at(get(v, "s"), 0, &s));
    OK(mega_value_double(get(v, "f"), &x));
    CHECK(x == 1.5);
    OK(mega_value_string(get(v, "s"), &s));
    CHECK(str_is(s, "text"));
    mega_value_free(v);
}

static void names_and_version(void) {
    CHECK(strcmp(mega_result_name(MEGA_RESULT_NOT_FOUND), "MEGA_RESULT_NOT_FOUND") == 0);
    CHECK(strcmp(mega_result_name(12345), "MEGA_RESULT_UNKNOWN") == 0);
    CHECK(strcmp(mega_version(), MEGA_VERSION_STRING) == 0);
    {
        char expected[32];
        snprintf(expected, sizeof expected, "%d.%d.%d", MEGA_VERSION_MAJOR, MEGA_VERSION_MINOR, MEGA_VERSION_PATCH);
        CHECK(strcmp(expected, MEGA_VERSION_STRING) == 0);
    }
    mega_last_error_clear();
    CHECK(mega_last_error_code() == MEGA_RESULT_OK);
    CHECK(strcmp(mega_last_error_message(), "") == 0);
}

static void service_misuse(void) {
    mega_local *local = NULL, *second = NULL;
    mega_settings *s = NULL;
    mega_listener *l = NULL;
    mega_publisher *pub = NULL;
    mega_publish_options *opts = NULL;
    char *url = NULL;
    const char *port;

    OK(mega_local_start("127.0.0.1", 0, &local));
    /* The same port twice: the second cannot bind. */
    port = strrchr(mega_local_url(local), ':') + 1;
    FAILS(MEGA_RESULT_ENDPOINT, mega_local_start("127.0.0.1", (uint16_t)atoi(port), &second));
    CHECK(second == NULL);
    OK(mega_settings_new_local(mega_local_url(local), &s));

    /* A queue that does not exist: the listener says so, with the service's code. */
    OK(mega_listener_new(s, "http://127.0.0.1:1/000000000000/nope", &l));
    OK(mega_listener_set(l, MEGA_LISTENER_WAIT_TIME_SECONDS, 0));
    mega_listener_free(l);
    OK(mega_queue_create(s, "misuse", NULL, &url));
    {
        char missing[256];
        snprintf(missing, sizeof missing, "%s-missing", url);
        OK(mega_listener_new(s, missing, &l));
        FAILS(MEGA_RESULT_LISTENER, mega_listener_run(l));
        CHECK(strstr(mega_last_error_detail(), "NonExistentQueue") != NULL);
        CHECK(strcmp(mega_last_error_code_name(), "listener.queue") == 0);
        mega_listener_free(l);
    }

    OK(mega_listener_new(s, url, &l));
    FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_listener_set(l, 999, 1));
    FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_listener_set(l, MEGA_LISTENER_POLLERS, 0));
    FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_listener_subscribe(l, "x", 9, NULL, 0, never_called, NULL));
    FAILS(MEGA_RESULT_NULL_ARGUMENT, mega_listener_subscribe(l, "x", MEGA_SUBSCRIBER_DATA, NULL, 0, NULL, NULL));
    FAILS(MEGA_RESULT_PATTERN, mega_listener_subscribe(l, "x", MEGA_SUBSCRIBER_DATA, "{\"a\": {\"$nope\": 1}}",
                                                       MEGA_SYNTAX_MEGA, never_called, NULL));
    OK(mega_listener_subscribe(l, "x", MEGA_SUBSCRIBER_DATA, NULL, MEGA_SYNTAX_MEGA, never_called, NULL));
    FAILS(MEGA_RESULT_LISTENER, mega_listener_subscribe(l, "x", MEGA_SUBSCRIBER_DATA, NULL, MEGA_SYNTAX_MEGA,
                                                        never_called, NULL));
    /* An invalid setting is refused where it is given, naming it; the listener keeps its old value. */
    FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_listener_set(l, MEGA_LISTENER_MAX_MESSAGES, 11));
    CHECK(strstr(mega_last_error_message(), "MEGA_LISTENER_MAX_MESSAGES") != NULL);
    FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_listener_set(l, MEGA_LISTENER_MAX_IN_FLIGHT, INT64_MAX));
    CHECK(strstr(mega_last_error_message(), "9223372036854775807") != NULL);
    FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_listener_set(l, MEGA_LISTENER_POLLERS, INT64_MAX));
    OK(mega_listener_set(l, MEGA_LISTENER_MAX_MESSAGES, 10));
    {
        bool running = true;
        OK(mega_listener_is_running(l, &running));
        CHECK(!running);
    }
    /* Stopped (twice) before it runs: the run returns at once. */
    mega_listener_stop(l);
    mega_listener_stop(l);
    OK(mega_listener_run(l));
    mega_listener_free(l);

    /* Publishing what cannot be published. */
    OK(mega_sqs_publisher_new(s, url, &pub));
    FAILS(MEGA_RESULT_ENCODE, mega_publisher_publish_json(pub, "[1, 2]", NULL, NULL));
    FAILS(MEGA_RESULT_JSON, mega_publisher_publish_json(pub, "{", NULL, NULL));
    CHECK(strcmp(mega_last_error_code_name(), "json.syntax") == 0);
    FAILS(MEGA_RESULT_ENCODE,
          mega_publisher_publish_json(pub, "{\"protocol\": \"mega\", \"version\": 1, \"event\": {}}", NULL, NULL));
    CHECK(strstr(mega_last_error_message(), "event.name is missing") != NULL);
    OK(mega_publish_options_new(&opts));
    FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_publish_options_set_delay_seconds(opts, 901));
    /* Attributes are checked where they are added. */
    FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_publish_options_add_attribute(opts, "mega.mine", "String", "x"));
    FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_publish_options_add_attribute(opts, "count", "Number", "abc"));
    CHECK(strstr(mega_last_error_message(), "`count`") != NULL);
    CHECK(strstr(mega_last_error_message(), "not a Number") != NULL);
    FAILS(MEGA_RESULT_INVALID_ARGUMENT, mega_publish_options_add_attribute(opts, "n", "Binary", "x"));
    mega_publish_options_free(opts);
    OK(mega_publish_options_new(&opts));
    OK(mega_publish_options_set_binary_encoding(opts, true));
    FAILS(MEGA_RESULT_ENCODE, mega_publisher_publish_plaintext(pub, "text", opts, NULL));
    mega_publish_options_free(opts);
    mega_publisher_free(pub);

    /* A queue URL on the endpoint that does not exist: a service error with its code. */
    {
        char missing[256];
        snprintf(missing, sizeof missing, "%s-missing", url);
        OK(mega_sqs_publisher_new(s, missing, &pub));
        FAILS(MEGA_RESULT_SERVICE, mega_publisher_publish_json(pub, "{\"a\": 1}", NULL, NULL));
        CHECK(strstr(mega_last_error_detail(), "NonExistentQueue") != NULL);
        mega_publisher_free(pub);
    }

    mega_string_free(url);
    mega_settings_free(s);
    mega_local_free(local);
}

int main(void) {
    null_arguments();
    bad_text();
    wrong_kinds();
    names_and_version();
    service_misuse();
    return finish("misuse", 5);
}
