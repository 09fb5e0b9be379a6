/* The pattern conformance vectors (tests/vectors/patterns.json) through the C ABI, in both syntaxes, with
 * the vectors' user functions written in C. */
#include "check.h"

/* `is_even`: true when the value is an integer (not a string) and even. */
static bool is_even(void *userdata, const mega_value *value) {
    int64_t i = 0;
    (*(int *)userdata)++;
    return mega_value_int(value, &i) == MEGA_RESULT_OK && i % 2 == 0;
}

/* `fails`: a function that cannot decide; in C it says no, which must be a non-match. */
static bool fails(void *userdata, const mega_value *value) {
    (void)userdata;
    (void)value;
    return false;
}

static char *plain_json(const mega_value *v) {
    char *out = NULL;
    OK(mega_value_to_json(v, false, &out));
    return out;
}

int main(int argc, char **argv) {
    char *file = read_file(argc > 1 ? argv[1] : "tests/vectors/patterns.json");
    mega_value *doc = NULL;
    const mega_value *vectors;
    mega_callbacks *callbacks = NULL;
    int is_even_calls = 0;
    size_t n = 0, i;
    int passed = 0;

    OK(mega_value_parse_json(file, false, &doc));
    free(file);
    vectors = get(doc, "vectors");
    OK(mega_value_len(vectors, &n));
    CHECK(n > 200);
    OK(mega_callbacks_new(&callbacks));
    OK(mega_callbacks_add(callbacks, "is_even", is_even, &is_even_calls));
    OK(mega_callbacks_add(callbacks, "fails", fails, NULL));

    for (i = 0; i < n; i++) {
        const mega_value *v = NULL;
        char *name, *syntax_name, *pattern_text, *error_path, *explain_path;
        mega_syntax syntax;
        mega_pattern *pattern = NULL;
        mega_result rc;

        OK(mega_value_at(vectors, i, &v));
        name = get_string(v, "name");
        syntax_name = get_string(v, "syntax");
        error_path = get_string(v, "error_path");
        explain_path = get_string(v, "explain_path");
        syntax = (syntax_name != NULL && strcmp(syntax_name, "eventbridge") == 0) ? MEGA_SYNTAX_EVENTBRIDGE
                                                                                   : MEGA_SYNTAX_MEGA;
        pattern_text = plain_json(get(v, "pattern"));
        rc = mega_pattern_compile(pattern_text, syntax, callbacks, &pattern);

        if (error_path != NULL) {
            if (rc != MEGA_RESULT_PATTERN || strcmp(mega_last_error_detail(), error_path) != 0) {
                fprintf(stderr, "%s: %s at %s (%s), expected an error at %s\n", name, mega_result_name(rc),
                        mega_last_error_detail(), mega_last_error_message(), error_path);
                check_failures++;
            } else {
                passed++;
            }
            CHECK(pattern == NULL);
        } else if (rc != MEGA_RESULT_OK) {
            fprintf(stderr, "%s: does not compile: %s\n", name, mega_last_error_message());
            check_failures++;
        } else {
            char *payload_text = plain_json(get(v, "payload"));
            mega_value *payload = NULL;
            bool expected = false, got = !expected;
            char *why = NULL, *where = NULL;
            OK(mega_value_parse_json(payload_text, true, &payload));
            OK(mega_value_bool(get(v, "match"), &expected));
            OK(mega_pattern_matches(pattern, payload, &got));
            OK(mega_pattern_explain(pattern, payload, &why, &where));
            if (got != expected) {
                fprintf(stderr, "%s: matched %d, expected %d\n", name, got, expected);
                check_failures++;
            } else if ((why == NULL) != expected) {
                fprintf(stderr, "%s: explain disagrees with matches: %s\n", name, why ? why : "(none)");
                check_failures++;
            } else if (explain_path != NULL && (where == NULL || strcmp(where, explain_path) != 0)) {
                fprintf(stderr, "%s: explained at %s (%s), expected %s\n", name, where ? where : "(none)",
                        why ? why : "", explain_path);
                check_failures++;
            } else {
                passed++;
            }
            mega_string_free(why);
            mega_string_free(where);
            mega_value_free(payload);
            free(payload_text);
        }
        mega_pattern_free(pattern);
        mega_string_free(pattern_text);
        free(name);
        free(syntax_name);
        free(error_path);
        free(explain_path);
    }
    CHECK(is_even_calls > 0); /* the C function was really called */
    CHECK((size_t)passed == n);
    mega_callbacks_free(callbacks);
    mega_value_free(doc);
    return finish("pattern vectors", passed);
}
