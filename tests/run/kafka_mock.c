/* Test tool: a Kafka cluster on loopback for the `run --kafka` tests, librdkafka's own mock
 * cluster (rdkafka_mock.h), which speaks the Kafka protocol to any client. Nothing of escudo's.
 *
 * usage: esc_kafka_mock BROKERS TOPIC PARTITIONS
 * Prints "bootstrap HOST:PORT,..." then reads commands on standard input, answering each with
 * one line ("ok ..." or "error ..."):
 *   produce FILE   the messages of FILE: records of [u32 key length][key][u32 length][value]
 *                  (little endian), each produced with its key (librdkafka's default
 *                  partitioner: the same key, the same partition), then flushed
 *   down ID, up ID take broker ID (1..BROKERS) down or up
 *   topic NAME N   create topic NAME with N partitions (an output topic)
 *   quit           (or the end of standard input) stops the cluster
 * Deliberately not done: anything the tests do not use. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int produce(rd_kafka_t *p, const char *topic, const char *path, long *count) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint32_t kl, vl;
    *count = 0;
    while (fread(&kl, 4, 1, f) == 1) {
        char *key = malloc(kl + 1);
        if (!key || fread(key, 1, kl, f) != kl || fread(&vl, 4, 1, f) != 1)
            return -1;
        char *val = malloc(vl + 1);
        if (!val || fread(val, 1, vl, f) != vl)
            return -1;
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, kl), RD_KAFKA_V_VALUE(val, vl),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                if (e) {
                    fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
                    return -1;
                }
                break;
            }
            rd_kafka_poll(p, 50);
        }
        free(key);
        free(val);
        (*count)++;
    }
    fclose(f);
    return rd_kafka_flush(p, 60000) ? -1 : 0;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: esc_kafka_mock BROKERS TOPIC PARTITIONS\n");
        return 2;
    }
#ifdef __GLIBC__
    /* the cluster builds each fetch response in a fresh buffer: kept in the heap rather than
     * mmap'd and trimmed, the faults of its pages (5/6 of the cluster's CPU while a worker
     * reads, docs/scale.md) leave the CPU to the worker that shares the machine */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
    char why[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "log_level", "3", why, sizeof why); /* it connects to nothing itself */
    rd_kafka_t *owner = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof why);
    if (!owner) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(owner, atoi(argv[1]));
    if (!mc || rd_kafka_mock_topic_create(mc, argv[2], atoi(argv[3]), atoi(argv[1]) > 2 ? 3 : 1)) {
        fprintf(stderr, "cannot start the mock cluster\n");
        return 1;
    }
    const char *boot = rd_kafka_mock_cluster_bootstraps(mc);
    c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", boot, why, sizeof why) ||
        rd_kafka_conf_set(c, "linger.ms", "5", why, sizeof why) ||
        /* messages up to 32 MiB, for escudo's 16 MiB cap (t_run_kafka_limits.py) */
        rd_kafka_conf_set(c, "message.max.bytes", "33554432", why, sizeof why)) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof why);
    if (!p) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    printf("bootstrap %s\n", boot);
    fflush(stdout);
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        long n = 0;
        if (!strncmp(line, "produce ", 8)) {
            if (produce(p, argv[2], line + 8, &n))
                printf("error producing %s\n", line + 8);
            else
                printf("ok %ld\n", n);
        } else if (!strncmp(line, "down ", 5)) {
            printf(rd_kafka_mock_broker_set_down(mc, atoi(line + 5)) ? "error\n" : "ok\n");
        } else if (!strncmp(line, "up ", 3)) {
            printf(rd_kafka_mock_broker_set_up(mc, atoi(line + 3)) ? "error\n" : "ok\n");
        } else if (!strncmp(line, "topic ", 6)) {
            char name[256];
            int parts = 0;
            printf(sscanf(line + 6, "%255s %d", name, &parts) == 2 && parts > 0 &&
                           !rd_kafka_mock_topic_create(mc, name, parts, atoi(argv[1]) > 2 ? 3 : 1)
                       ? "ok\n"
                       : "error\n");
        } else if (!strcmp(line, "quit")) {
            break;
        } else {
            printf("error unknown command\n");
        }
        fflush(stdout);
    }
    rd_kafka_destroy(p);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(owner);
    return 0;
}
