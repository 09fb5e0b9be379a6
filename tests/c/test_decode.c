/* The payload conformance vectors (tests/vectors/payloads.json) through the C ABI: every body decodes to
 * the expected report, or fails with the expected reason code and message. */
#include "check.h"

static const char *vectors_path(int argc, char **argv) {
    return argc > 1 ? argv[1] : "tests/vectors/payloads.json";
}

/* The value's tagged JSON (free it). */
static char *tagged(const mega_value *v) {
    char *out = NULL;
    OK(mega_value_to_json(v, true, &out));
    return out;
}

/* A plain-JSON value re-read as tagged JSON (so `{"$bytes": …}` becomes bytes); free with mega_value_free. */
static mega_value *as_tagged(const mega_value *plain) {
    char *text = NULL;
    mega_value *out = NULL;
    OK(mega_value_to_json(plain, false, &text));
    OK(mega_value_parse_json(text, true, &out));
    mega_string_free(text);
    return out;
}

int main(int argc, char **argv) {
    char *file = read_file(vectors_path(argc, argv));
    mega_value *doc = NULL;
    const mega_value *vectors;
    size_t n = 0, i;
    int passed = 0;

    OK(mega_value_parse_json(file, false, &doc));
    free(file);
    vectors = get(doc, "vectors");
    CHECK(vectors != NULL);
    OK(mega_value_len(vectors, &n));
    CHECK(n >= 50);

    for (i = 0; i < n; i++) {
        const mega_value *v = NULL;
        char *name, *body, *encoding;
        const mega_value *expect, *error, *body_b64;
        mega_decoded *decoded = NULL;
        mega_result rc;

        OK(mega_value_at(vectors, i, &v));
        name = get_string(v, "name");
        body = get_string(v, "body");
        encoding = get_string(v, "encoding");
        expect = get(v, "expect");
        error = get(v, "error");
        body_b64 = get(v, "body_base64");

        if (body != NULL) {
            rc = mega_decode(body, encoding, &decoded);
        } else {
            /* Bytes that are not UTF-8: let the library's tagged JSON reader decode the Base64. */
            mega_str b64;
            char *text;
            size_t len;
            mega_value *bytes = NULL;
            const uint8_t *data = NULL;
            size_t data_len = 0;
            CHECK(body_b64 != NULL);
            OK(mega_value_string(body_b64, &b64));
            len = b64.len + 32;
            text = malloc(len);
            CHECK(text != NULL);
            snprintf(text, len, "{\"$bytes\": \"%.*s\"}", (int)b64.len, b64.data);
            OK(mega_value_parse_json(text, true, &bytes));
            OK(mega_value_bytes(bytes, &data, &data_len));
            rc = mega_decode_bytes(data, data_len, encoding, &decoded);
            mega_value_free(bytes);
            free(text);
        }

        if (expect != NULL) {
            if (rc != MEGA_RESULT_OK) {
                fprintf(stderr, "%s: decoding failed: %s\n", name, mega_last_error_message());
                check_failures++;
            } else {
                mega_str report;
                mega_value *want = as_tagged(expect);
                char *want_text = tagged(want);
                mega_kind kind;
                OK(mega_decoded_json(decoded, &report));
                if (!str_is(report, want_text)) {
                    fprintf(stderr, "%s:\n  got      %.*s\n  expected %s\n", name, (int)report.len, report.data,
                            want_text);
                    check_failures++;
                } else {
                    passed++;
                }
                /* The kind accessor agrees with the report. */
                OK(mega_decoded_kind(decoded, &kind));
                {
                    char *k = get_string(expect, "kind");
                    static const char *names[] = {"mega", "data", "plaintext", "binary", "none"};
                    CHECK(k != NULL && kind <= MEGA_KIND_EMPTY && strcmp(names[kind], k) == 0);
                    free(k);
                }
                mega_string_free(want_text);
                mega_value_free(want);
            }
        } else {
            char *code = get_string(error, "code");
            char *contains = get_string(error, "message_contains");
            CHECK(code != NULL && contains != NULL);
            if (rc != MEGA_RESULT_DECODE) {
                fprintf(stderr, "%s: returned %s, expected MEGA_RESULT_DECODE\n", name, mega_result_name(rc));
                check_failures++;
            } else if (strcmp(mega_last_error_detail(), code) != 0 ||
                       strstr(mega_last_error_message(), contains) == NULL) {
                fprintf(stderr, "%s: error %s / %s, expected %s / ...%s...\n", name, mega_last_error_detail(),
                        mega_last_error_message(), code, contains);
                check_failures++;
            } else {
                passed++;
            }
            CHECK(decoded == NULL); /* out-parameters are written only on success */
            free(code);
            free(contains);
        }
        mega_decoded_free(decoded);
        free(name);
        free(body);
        free(encoding);
    }
    CHECK((size_t)passed == n);
    mega_value_free(doc);
    return finish("decode vectors", passed);
}
