/* Small test helpers shared by the C tests: checks that report where they failed and the library's
 * last error, and a file reader. */
#ifndef MEGA_TEST_CHECK_H
#define MEGA_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqs_mega.h"

static int check_failures = 0;

/* A call that must succeed. */
#define OK(call)                                                                                      \
    do {                                                                                              \
        mega_result ok_rc_ = (call);                                                                  \
        if (ok_rc_ != MEGA_RESULT_OK) {                                                               \
            fprintf(stderr, "%s:%d: %s returned %s: %s\n", __FILE__, __LINE__, #call,                  \
                    mega_result_name(ok_rc_), mega_last_error_message());                             \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

/* A call that must fail with this code. */
#define FAILS(code, call)                                                                             \
    do {                                                                                              \
        mega_result fails_rc_ = (call);                                                               \
        if (fails_rc_ != (code)) {                                                                    \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s\n", __FILE__, __LINE__, #call,         \
                    mega_result_name(fails_rc_), mega_result_name(code));                             \
            check_failures++;                                                                         \
        }                                                                                             \
    } while (0)

/* A condition that must hold. */
#define CHECK(cond)                                                                                   \
    do {                                                                                              \
        if (!(cond)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                  \
            check_failures++;                                                                         \
        }                                                                                             \
    } while (0)

/* Whether a borrowed string equals a C string. */
static inline int str_is(mega_str s, const char *expected) {
    size_t n = strlen(expected);
    return s.len == n && (n == 0 || memcmp(s.data, expected, n) == 0);
}

/* Whether a borrowed string contains a C string. */
static inline int str_has(mega_str s, const char *needle) {
    size_t n = strlen(needle);
    size_t i;
    if (n == 0) {
        return 1;
    }
    for (i = 0; i + n <= s.len; i++) {
        if (memcmp(s.data + i, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* A NUL-terminated copy of a borrowed string (free it). */
static inline char *str_dup(mega_str s) {
    char *out = malloc(s.len + 1);
    if (out == NULL) {
        abort();
    }
    memcpy(out, s.data, s.len);
    out[s.len] = '\0';
    return out;
}

/* The whole file, NUL-terminated (free it); exits when it cannot be read. */
static inline char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    long size;
    char *buf;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    buf = malloc((size_t)size + 1);
    if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    buf[size] = '\0';
    fclose(f);
    return buf;
}

/* The value at `key` of a map, or NULL. */
static inline const mega_value *get(const mega_value *map, const char *key) {
    const mega_value *out = NULL;
    if (mega_value_get(map, key, &out) != MEGA_RESULT_OK) {
        return NULL;
    }
    return out;
}

/* The string at `key` of a map as a new C string (free it), or NULL. */
static inline char *get_string(const mega_value *map, const char *key) {
    const mega_value *v = get(map, key);
    mega_str s;
    if (v == NULL || mega_value_string(v, &s) != MEGA_RESULT_OK) {
        return NULL;
    }
    return str_dup(s);
}

static inline int finish(const char *name, int passed) {
    if (check_failures > 0) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
        return 1;
    }
    printf("%s: ok (%d cases)\n", name, passed);
    return 0;
}

#endif
