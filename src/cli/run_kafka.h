/* `escudo run --kafka`: the Kafka client settings from the command line, a settings file and
 * the environment (run_kafka.c). Private to src/cli/. */
#ifndef ESC_CLI_RUN_KAFKA_H
#define ESC_CLI_RUN_KAFKA_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/cli.h"
#include "content/content.h"
#include "sched/run.h"

#define ESC_KAFKA_CONFIG_FILE_MAX ((size_t)1 << 20) /* bytes of a --kafka-config-file */
#define ESC_KAFKA_MAX_SETTINGS 1024                 /* KEY=VALUE settings in all */

typedef struct esc_cli_kafka {
    esc_run_kafka k;
    char **own; /* settings read from the file and the environment */
    size_t nown;
    const char **list;
} esc_cli_kafka;

/* ro->kafka from --kafka, --topic, --group, --kafka-config (secrets refused there),
 * --kafka-config-file and $ESCUDO_KAFKA_SASL_PASSWORD / $ESCUDO_KAFKA_SSL_KEY_PASSWORD. No
 * --kafka: ro->kafka stays NULL. False after the message on a usage error. */
bool esc_cli_kafka_options(const esc_args *a, esc_cli_kafka *kc, esc_runner_opts *ro);
/* The key producers partition the topic by (docs/scale.md). */
#define ESC_KAFKA_PARTITION_KEY "dest"

/* Whether a detection is exact per partition (every grouping includes the host key); when not,
 * *why says which command is not (owned by the caller). */
bool esc_cli_kafka_local(const esc_content *c, const esc_detection *d, char **why);
/* Wipes the settings (they may hold secrets) and frees them. */
void esc_cli_kafka_fini(esc_cli_kafka *kc);

#endif
