/* libFuzzer target for the JSON lines reader.
 *
 * The input is written to a memory file and read through esc_input like any file. The first
 * byte picks the read size (1..64 bytes, or the default block) so that block boundaries fall
 * everywhere, the second byte picks an interest set (everything / Windows with a literal
 * prefilter / CrowdStrike only) and a small record cap (so the over-long path runs too). Every
 * event's views are touched so that ASan sees any view pointing outside live memory. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "parse/json/json.h"

static const char *const fields[] = {"CommandLine", "Image", "User", "aid", "ComputerName", NULL};

static void init_interest(esc_interest *in, unsigned sel) {
    memset(in, 0, sizeof *in);
    switch (sel % 3) {
    case 0:
        in->everything = true;
        break;
    case 1:
        in->win[0] = (esc_win_source){"Microsoft-Windows-Sysmon", 1};
        in->win[1] = (esc_win_source){"Microsoft-Windows-Security-Auditing", 4688};
        in->nwin = 2;
        in->fields = fields;
        in->clause[0].lit[0] = "net.exe";
        in->clause[0].lit[1] = "net1.exe";
        in->clause[0].nlit = 2;
        in->clause[1].lit[0] = "share";
        in->clause[1].nlit = 1;
        in->nclauses = 2;
        break;
    default:
        in->crowdstrike = true;
        in->clause[0].lit[0] = "a";
        in->clause[0].nlit = 1;
        in->nclauses = 1;
        break;
    }
}

static unsigned touch(esc_str s) {
    unsigned h = 0;
    for (size_t i = 0; i < s.len; i++)
        h = h * 31 + (unsigned char)s.ptr[i];
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    size_t block = data[0] < 192 ? (size_t)(data[0] % 64) + 1 : 0;
    unsigned sel = data[1];
    data += 2;
    size -= 2;
    int fd = memfd_create("fuzz_json", 0);
    if (fd < 0)
        return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    esc_input *in = NULL;
    esc_error err;
    if (esc_input_open(path, &in, &err) != ESC_OK) {
        close(fd);
        return 0;
    }
    esc_interest interest;
    init_interest(&interest, sel);
    esc_reader_opts opts = {0};
    opts.max_record_bytes = (sel & 0x80) ? 256 : 0;
    esc_reader_stats stats = {0};
    void *impl = NULL;
    volatile unsigned sink = 0;
    if (esc_json_reader_open_ex(in, &interest, &opts, block, &stats, &impl, &err) == ESC_OK) {
        for (int guard = 0; guard < 1000000; guard++) {
            esc_event ev;
            esc_status st = esc_json_reader_ops.next(impl, &ev, &err);
            if (st == ESC_EOF || st == ESC_EIO || st == ESC_ENOMEM || st == ESC_EINTERNAL)
                break;
            if (st == ESC_EMALFORMED) {
                if (err.line == 0)
                    __builtin_trap(); /* every warning names its line */
                continue;
            }
            if (st != ESC_OK)
                __builtin_trap();
            sink += touch(ev.provider) + touch(ev.channel) + touch(ev.computer);
            for (size_t i = 0; i < ev.ndata; i++)
                sink += touch(ev.data[i].name) + touch(ev.data[i].value);
        }
        esc_json_reader_ops.free(impl);
    }
    (void)sink;
    esc_input_free(in);
    close(fd);
    return 0;
}
