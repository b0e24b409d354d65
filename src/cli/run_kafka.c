/* `escudo run --kafka`: the Kafka client settings (docs/scale.md).
 *
 * Settings come, in this order (a later one wins in librdkafka), from --kafka-config-file (one
 * KEY=VALUE per line, # comments), the environment ($ESCUDO_KAFKA_SASL_PASSWORD sets
 * sasl.password, $ESCUDO_KAFKA_SSL_KEY_PASSWORD ssl.key.password) and --kafka-config KEY=VALUE.
 * Invariant: a secret never comes from the command line, where any user of the machine can
 * read it (ps, /proc/PID/cmdline): a --kafka-config whose key names a password, a secret or a
 * private key is refused with the way to give it. Settings are wiped from memory when freed.
 * Not done here: checking keys and values (librdkafka does, run.c reports its message). */
#include "cli/run_kafka.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "detect/lint.h"
#include "spl/spl.h"

/* librdkafka settings that carry a secret (CONFIGURATION.md of librdkafka). */
static bool secret_key(const char *kv) {
    static const char *const words[] = {"password", "secret", "ssl.key.pem",
                                        "sasl.oauthbearer.config", "ssl_key"};
    const char *eq = strchr(kv, '=');
    size_t n = eq ? (size_t)(eq - kv) : strlen(kv);
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t w = strlen(words[i]);
        for (size_t j = 0; j + w <= n; j++)
            if (!strncmp(kv + j, words[i], w))
                return true;
    }
    return false;
}

static bool own_push(esc_cli_kafka *kc, char *s) {
    if (!s)
        return false;
    char **p = esc_realloc(kc->own, (kc->nown + 1) * sizeof *p);
    if (!p) {
        esc_free(s);
        return false;
    }
    kc->own = p;
    kc->own[kc->nown++] = s;
    return true;
}

/* KEY=VALUE lines of the settings file into kc->own. */
static bool read_file(const char *path, esc_cli_kafka *kc) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "escudo run: --kafka-config-file %s: cannot open\n", path);
        return false;
    }
    char *data = esc_malloc(ESC_KAFKA_CONFIG_FILE_MAX + 1);
    size_t n = data ? fread(data, 1, ESC_KAFKA_CONFIG_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (!data || n > ESC_KAFKA_CONFIG_FILE_MAX) {
        fprintf(stderr, "escudo run: --kafka-config-file %s: larger than 1 MiB\n", path);
        esc_free(data);
        return false;
    }
    data[n] = 0;
    bool ok = true;
    size_t line = 0;
    for (char *s = data, *nl; ok && s && *s; s = nl ? nl + 1 : NULL) {
        nl = strchr(s, '\n');
        if (nl)
            *nl = 0;
        line++;
        size_t len = strlen(s);
        while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
            s[--len] = 0;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#')
            continue;
        if (!strchr(s, '=') || *s == '=') {
            fprintf(stderr, "escudo run: --kafka-config-file %s:%zu: not KEY=VALUE\n", path, line);
            ok = false;
        } else {
            ok = own_push(kc, esc_strdup(s));
        }
    }
    memset(data, 0, n);
    esc_free(data);
    return ok;
}

static bool from_env(esc_cli_kafka *kc, const char *var, const char *key) {
    const char *v = getenv(var);
    if (!v || !*v)
        return true;
    size_t n = strlen(key) + strlen(v) + 2;
    char *s = esc_malloc(n);
    if (s)
        snprintf(s, n, "%s=%s", key, v);
    return own_push(kc, s);
}

/* librdkafka receives each fetch response whole into one buffer of its size (up to
 * fetch.max.bytes, 4 MiB here) and frees it once its messages are destroyed. glibc serves a block
 * that large with mmap at first, then from the thread's arena, whose top it trims (gives back to
 * the kernel) past M_TRIM_THRESHOLD, twice the block: with a few responses in flight the arena
 * was trimmed and grown again, and the kernel's copy from the socket faulted in every page of
 * every response (a third of a worker's CPU over the replay of docs/scale.md, 15,000 page
 * faults). Blocks up to 32 MiB (glibc's own ceiling for its moving threshold) now come from
 * the arenas, and a top under 64 MiB stays: a worker keeps up to that much free heap, the price
 * of not faulting it in again. A process setting, so the CLI's (mallopt(3)). */
static void keep_fetch_buffers(void) {
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

bool esc_cli_kafka_options(const esc_args *a, esc_cli_kafka *kc, esc_runner_opts *ro) {
    static const char *const needs[] = {"topic",
                                        "group",
                                        "kafka-config",
                                        "kafka-config-file",
                                        "kafka-max-message",
                                        "kafka-output",
                                        "repartition-topic"};
    memset(kc, 0, sizeof *kc);
    if (!esc_args_has(a, "kafka")) {
        for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++)
            if (esc_args_has(a, needs[i])) {
                fprintf(stderr, "escudo run: --%s without --kafka\n", needs[i]);
                return false;
            }
        return true;
    }
    if (!esc_args_has(a, "topic")) {
        fprintf(stderr, "escudo run: --kafka needs --topic NAME\n");
        return false;
    }
    if (a->npos) {
        fprintf(stderr, "escudo run: --kafka reads the topic only; no file inputs with it\n");
        return false;
    }
    const char **cl = NULL;
    size_t ncl = esc_args_all(a, "kafka-config", &cl);
    for (size_t i = 0; i < ncl; i++)
        if (secret_key(cl[i])) {
            const char *eq = strchr(cl[i], '=');
            esc_say(stderr,
                    "escudo run: --kafka-config %.*s: a secret is never given on the command "
                    "line (other users can read it); put it in --kafka-config-file FILE or, for "
                    "sasl.password, $ESCUDO_KAFKA_SASL_PASSWORD",
                    (int)(eq ? eq - cl[i] : (long)strlen(cl[i])), cl[i]);
            return false;
        }
    const char *file = esc_args_get(a, "kafka-config-file");
    if ((file && !read_file(file, kc)) ||
        !from_env(kc, "ESCUDO_KAFKA_SASL_PASSWORD", "sasl.password") ||
        !from_env(kc, "ESCUDO_KAFKA_SSL_KEY_PASSWORD", "ssl.key.password"))
        return false;
    if (kc->nown + ncl > ESC_KAFKA_MAX_SETTINGS) {
        fprintf(stderr, "escudo run: more than %d Kafka settings\n", ESC_KAFKA_MAX_SETTINGS);
        return false;
    }
    if (!(kc->list = esc_calloc(kc->nown + ncl + 1, sizeof *kc->list)))
        return false;
    size_t n = 0;
    for (size_t i = 0; i < kc->nown; i++)
        kc->list[n++] = kc->own[i];
    for (size_t i = 0; i < ncl; i++)
        kc->list[n++] = cl[i];
    long max_message = ESC_RUN_KAFKA_MAX_MESSAGE;
    if (!esc_cli_number("run", a, "kafka-max-message", 1024, ESC_RUN_KAFKA_MAX_MESSAGE,
                        &max_message))
        return false;
    long repart_max = ESC_RUN_REPART_MAX_MESSAGE;
    if (!esc_cli_number("run", a, "repartition-max-message", 1024, ESC_RUN_KAFKA_MAX_MESSAGE,
                        &repart_max))
        return false;
    kc->k = (esc_run_kafka){.brokers = esc_args_get(a, "kafka"),
                            .topic = esc_args_get(a, "topic"),
                            .group = esc_args_get(a, "group"),
                            .config = kc->list,
                            .nconfig = n,
                            .max_message = (size_t)max_message,
                            .output = esc_args_get(a, "kafka-output"),
                            .repart_max = (size_t)repart_max};
    ro->kafka = &kc->k;
    keep_fetch_buffers();
    return true;
}

void esc_cli_kafka_fini(esc_cli_kafka *kc) {
    for (size_t i = 0; i < kc->nown; i++) {
        memset(kc->own[i], 0, strlen(kc->own[i]));
        esc_free(kc->own[i]);
    }
    esc_free(kc->own);
    esc_free(kc->list);
    memset(kc, 0, sizeof *kc);
}

bool esc_cli_kafka_local(const esc_content *c, const esc_detection *d, char **why) {
    char *text = NULL;
    bool local = false;
    *why = NULL;
    if (esc_spl_expand(d->search, &c->macros, &text, NULL) != ESC_OK ||
        esc_lint_partition_local(text, ESC_KAFKA_PARTITION_KEY, &local, why) != ESC_OK)
        local = false;
    esc_free(text);
    return local;
}
