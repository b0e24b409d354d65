/* Search-time field extraction: esc_event -> esc_fields (SPEC section 8, docs/fields.md).
 *
 * The field-set container, then the extraction Splunk's Windows add-ons do, in Splunk's order:
 * metadata (source, sourcetype, host), the System elements and attributes
 * ([XmlWinEventLog] REPORT-0xml_kv_extract), every EventData/Data by Name and UserData leaf,
 * then the rule tables of rules.c: REPORT/EXTRACT, FIELDALIAS, EVAL (every EVAL reads the
 * fields as they were before any EVAL), and last eventtype and tag. The tables are read once
 * (init_tables) into what each stanza and EventCode applies (fplan) and into hashed names, so
 * an event tests no row's codes and hashes no rule's name. Invariants: no allocation outside
 * the caller's arena (the once-computed tables are static and read-only afterwards); a value
 * extraction does not produce is absent, never empty; a set's index names each entry's hash
 * (esc_fields_name_hash). Not here: LOOKUP-* settings (their CSV files are not part of
 * escudo), _raw rendering (readers), data models (cim). */
#include "fields/fields.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/fmt.h"
#include "fields/rules.h"

/* The name index of an extracted set: open addressing from a name's hash to its first and
 * last entries (1 + index; 0: empty slot), and per entry its name's hash and the next entry of
 * the same name, so a lookup visits only the entries of its name and compares a name only when
 * the hashes agree. Sized for fs->cap; rebuilt when the set grows, drops entries or is
 * rewritten (eval_apply), from the hashes it keeps (a name is hashed once per set). */
struct esc_fields_ix {
    uint32_t (*slot)[2];
    uint32_t *next;
    uint32_t *hash;   /* per entry: esc_fields_name_hash of its name */
    size_t mask, cap; /* the slots less one; the entries next and hash hold */
};

/* The slot of name (hash h): its own, or the empty one where it goes. */
static inline size_t ix_slot(const esc_fields *fs, esc_str name, uint32_t h) {
    const esc_fields_ix *x = fs->ix;
    size_t s = h & x->mask;
    for (uint32_t e; (e = x->slot[s][0]) != 0; s = (s + 1) & x->mask)
        if (x->hash[e - 1] == h && esc_str_eq(fs->f[e - 1].name, name))
            break;
    return s;
}

static inline void ix_put(esc_fields *fs, size_t i, uint32_t h) {
    esc_fields_ix *x = fs->ix;
    size_t s = ix_slot(fs, fs->f[i].name, h);
    x->hash[i] = h;
    x->next[i] = 0;
    if (x->slot[s][0])
        x->next[x->slot[s][1] - 1] = (uint32_t)i + 1;
    else
        x->slot[s][0] = (uint32_t)i + 1;
    x->slot[s][1] = (uint32_t)i + 1;
}

/* Index fs's entries afresh (arrays for fs->cap entries); hash: their names' hashes when the
 * caller has them (may be the index's own), else NULL. Without room, fs loses its index. */
static void ix_build(esc_fields *fs, esc_arena *a, const uint32_t *hash) {
    esc_fields_ix *x = fs->ix;
    if (!x)
        return;
    if (x->cap < fs->cap || !x->slot) {
        size_t slots = 128, c = fs->cap ? fs->cap : 1;
        while (slots < 2 * fs->cap)
            slots *= 2;
        x->slot = esc_arena_alloc(a, slots * sizeof *x->slot);
        x->next = esc_arena_alloc(a, c * sizeof *x->next);
        uint32_t *nh = esc_arena_alloc(a, c * sizeof *nh);
        if (!x->slot || !x->next || !nh || fs->cap > UINT32_MAX - 1) {
            fs->ix = NULL;
            return;
        }
        x->hash = nh;
        x->mask = slots - 1;
        x->cap = fs->cap;
    }
    memset(x->slot, 0, (x->mask + 1) * sizeof *x->slot);
    for (size_t i = 0; i < fs->n; i++)
        ix_put(fs, i, hash ? hash[i] : esc_fields_name_hash(fs->f[i].name));
}

/* Double fs's room (out of line: add_h's rare path). */
__attribute__((noinline)) static esc_status grow(esc_fields *fs, esc_arena *a) {
    size_t cap = fs->cap ? fs->cap * 2 : 64;
    esc_field *nf = esc_arena_alloc(a, cap * sizeof *nf);
    if (!nf)
        return a->failed ? ESC_ENOMEM : ESC_ELIMIT;
    if (fs->n)
        memcpy(nf, fs->f, fs->n * sizeof *nf);
    fs->f = nf;
    fs->cap = cap;
    ix_build(fs, a, fs->ix ? fs->ix->hash : NULL);
    return ESC_OK;
}

/* esc_fields_add of a name whose hash h the caller knows. */
static inline esc_status add_h(esc_fields *fs, esc_arena *a, esc_str name, uint32_t h,
                               esc_str value, bool copy) {
    esc_status st;
    if (fs->n == fs->cap && (st = grow(fs, a)) != ESC_OK)
        return st;
    if (copy && value.ptr) {
        value = esc_arena_dup(a, value);
        if (!value.ptr)
            return a->failed ? ESC_ENOMEM : ESC_ELIMIT;
    }
    fs->f[fs->n++] = (esc_field){name, value};
    if (fs->ix)
        ix_put(fs, fs->n - 1, h);
    return ESC_OK;
}

esc_status esc_fields_add(esc_fields *fs, esc_arena *a, esc_str name, esc_str value, bool copy) {
    return add_h(fs, a, name, fs->ix ? esc_fields_name_hash(name) : 0, value, copy);
}

/* The first entry of name (hash h) plus one, or 0; fs has an index. */
static inline uint32_t ix_first(const esc_fields *fs, esc_str name, uint32_t h) {
    return fs->ix->slot[ix_slot(fs, name, h)][0];
}

/* Drop every pair of field name (hash h). */
static void fields_remove(esc_fields *fs, esc_arena *a, esc_str name, uint32_t h) {
    if (fs->ix && !ix_first(fs, name, h))
        return;
    uint32_t *hash = fs->ix ? fs->ix->hash : NULL;
    size_t k = 0;
    for (size_t i = 0; i < fs->n; i++)
        if (!esc_str_eq(fs->f[i].name, name)) {
            if (hash)
                hash[k] = hash[i];
            fs->f[k++] = fs->f[i];
        }
    if (k == fs->n)
        return;
    fs->n = k;
    ix_build(fs, a, hash);
}

/* esc_fields_get of a name whose hash h the caller knows. */
static esc_str get_h(const esc_fields *fs, esc_str name, uint32_t h) {
    if (fs->ix) {
        uint32_t e = ix_first(fs, name, h);
        return e ? fs->f[e - 1].value : ESC_STR_NULL;
    }
    for (size_t i = 0; i < fs->n; i++)
        if (esc_str_eq(fs->f[i].name, name))
            return fs->f[i].value;
    return ESC_STR_NULL;
}

esc_str esc_fields_get(const esc_fields *fs, esc_str name) {
    return get_h(fs, name, fs->ix ? esc_fields_name_hash(name) : 0);
}

/* esc_fields_values of a name whose hash h the caller knows. */
static size_t values_h(const esc_fields *fs, esc_str name, uint32_t h, esc_str *out, size_t max) {
    size_t k = 0;
    if (fs->ix) {
        for (uint32_t i = ix_first(fs, name, h); i; i = fs->ix->next[i - 1]) {
            if (k < max)
                out[k] = fs->f[i - 1].value;
            k++;
        }
        return k;
    }
    for (size_t i = 0; i < fs->n; i++)
        if (esc_str_eq(fs->f[i].name, name)) {
            if (k < max)
                out[k] = fs->f[i].value;
            k++;
        }
    return k;
}

size_t esc_fields_values(const esc_fields *fs, esc_str name, esc_str *out, size_t max) {
    return values_h(fs, name, fs->ix ? esc_fields_name_hash(name) : 0, out, max);
}

/* A constant name and its hash (the rule tables' names, hashed once). */
typedef struct hname {
    esc_str s;
    uint32_t h;
} hname;

static hname hname_c(const char *s) {
    esc_str n = esc_str_c(s);
    return (hname){n, esc_fields_name_hash(n)};
}

static esc_status add_c(esc_fields *fs, esc_arena *a, const char *name, esc_str v, bool copy) {
    if (!v.ptr)
        return ESC_OK;
    return esc_fields_add(fs, a, esc_str_c(name), v, copy);
}

static esc_status add_num(esc_fields *fs, esc_arena *a, const char *name, unsigned long long v) {
    char buf[ESC_FMT_MAX + 1];
    size_t n = esc_fmt_u64(buf, (uint64_t)v, 0); /* "%llu" */
    return add_c(fs, a, name, esc_str_make(buf, n), true);
}

/* ---- metadata and System ------------------------------------------------------------------ */

/* An esc_str initializer of a string literal. */
#define LIT(s)                                                                                     \
    { (s), sizeof(s) - 1 }

/* The channel of each source:: stanza (rules.h). */
static const esc_str scope_channel[SC_NSCOPES] = {
    [SC_SECURITY] = LIT("Security"),
    [SC_SYSTEM] = LIT("System"),
    [SC_SYSMON] = LIT("Microsoft-Windows-Sysmon/Operational"),
    [SC_POWERSHELL] = LIT("Microsoft-Windows-PowerShell/Operational"),
    [SC_APPLICATION] = LIT("Application"),
};

/* The source:: stanza of a channel, or -1. */
static int channel_scope(esc_str ch) {
    for (int i = 0; i < SC_NSCOPES; i++) {
        esc_str n = scope_channel[i];
        if (n.ptr && n.len == ch.len && (memcmp(ch.ptr, n.ptr, ch.len) == 0 || esc_str_ieq(ch, n)))
            return i;
    }
    return -1;
}

/* Channel ch is one of the "|"-separated list (ASCII case-insensitive). */
static bool in_list(const char *list, esc_str ch) {
    while (list && *list) {
        const char *bar = strchr(list, '|');
        size_t l = bar ? (size_t)(bar - list) : strlen(list);
        if (esc_str_ieq(ch, esc_str_make(list, l)))
            return true;
        list = bar ? bar + 1 : NULL;
    }
    return false;
}

/* Channels whose ESCU macro names the WinEventLog: source (ms_defender,
 * remoteconnectionmanager, printservice); docs/fields.md. */
static const esc_str classic_source[] = {
    LIT("Microsoft-Windows-Windows Defender/Operational"),
    LIT("Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational"),
    LIT("Microsoft-Windows-PrintService/Operational"),
    LIT("Microsoft-Windows-PrintService/Admin"),
};

/* source, sourcetype, host. The Windows add-on's ta-windows-fix-xml-source makes source
 * XmlWinEventLog:<Channel>; the channels above keep the WinEventLog: source ESCU's macros
 * name. */
static esc_status metadata(const esc_event *ev, esc_arena *a, esc_fields *fs) {
    char buf[300];
    const char *prefix = "XmlWinEventLog:";
    for (size_t i = 0; i < sizeof classic_source / sizeof classic_source[0]; i++)
        if (classic_source[i].len == ev->channel.len &&
            (memcmp(ev->channel.ptr, classic_source[i].ptr, ev->channel.len) == 0 ||
             esc_str_ieq(ev->channel, classic_source[i])))
            prefix = "WinEventLog:";
    /* "%s%.*s" of prefix and the channel, without printf: the channel up to a NUL */
    size_t pl = strlen(prefix), cl = ev->channel.ptr ? ev->channel.len : 0;
    const char *nul = cl ? memchr(ev->channel.ptr, 0, cl) : NULL;
    if (nul)
        cl = (size_t)(nul - ev->channel.ptr);
    esc_status st = ESC_OK;
    if (pl + cl < sizeof buf) {
        memcpy(buf, prefix, pl);
        if (cl)
            memcpy(buf + pl, ev->channel.ptr, cl);
        st = add_c(fs, a, "source", esc_str_make(buf, pl + cl), true);
    }
    if (!st)
        st = add_c(fs, a, "sourcetype", esc_str_c("XmlWinEventLog"), false);
    if (!st)
        st = add_c(fs, a, "host", ev->computer, false);
    return st;
}

/* True when sys holds an attribute of element elem (then system_props_xml_kv, which matches
 * only <tag>value</tag>, does not extract its text). */
static bool has_attrs(const esc_event *ev, esc_str elem) {
    for (size_t i = 0; i < ev->nsys; i++) {
        esc_str n = ev->sys[i].name;
        if (n.len > elem.len && n.ptr[elem.len] == '@' && memcmp(n.ptr, elem.ptr, elem.len) == 0)
            return true;
    }
    return false;
}

/* The elements of sys's attributes (each attribute's name up to its '@'), up to SYS_ATTR_ELEMS
 * of them into el; false when there are more (then has_attrs answers). */
#define SYS_ATTR_ELEMS 16
static bool attr_elems(const esc_event *ev, esc_str *el, size_t *nel) {
    *nel = 0;
    for (size_t i = 0; i < ev->nsys; i++) {
        esc_str n = ev->sys[i].name;
        const char *at = memchr(n.ptr, '@', n.len);
        if (!at)
            continue;
        if (*nel == SYS_ATTR_ELEMS)
            return false;
        el[(*nel)++] = esc_str_make(n.ptr, (size_t)(at - n.ptr));
    }
    return true;
}

/* has_attrs from attr_elems' list: an attribute's '@' is its first, so elem (without one) has
 * an attribute when it is one of the list. */
static bool in_elems(const esc_str *el, size_t nel, esc_str elem) {
    for (size_t k = 0; k < nel; k++)
        if (esc_str_eq(el[k], elem))
            return true;
    return false;
}

/* The System part: [XmlWinEventLog] REPORT-0xml_kv_extract (system_props_xml_kv: element text
 * under the element's name; system_props_xml_attributes: every attribute under its own name,
 * multivalue when repeated), REPORT-EventCode_from_xml, REPORT-RecordNumber_from_xml. Events
 * without sys (JSON shapes) get the fields their esc_event carries. */
static esc_status windows_system(const esc_event *ev, bool native, esc_arena *a, esc_fields *fs) {
    esc_status st = ESC_OK;
    esc_str el[SYS_ATTR_ELEMS];
    size_t nel = 0;
    bool listed = !native && attr_elems(ev, el, &nel);
    for (size_t i = 0; !st && i < ev->nsys; i++) {
        esc_str n = ev->sys[i].name;
        const char *at = memchr(n.ptr, '@', n.len);
        if (at)
            n = esc_str_make(at + 1, n.len - (size_t)(at + 1 - n.ptr));
        else if (!native && (listed ? in_elems(el, nel, n) : has_attrs(ev, n)))
            continue;
        st = esc_fields_add(fs, a, n, ev->sys[i].value, false);
    }
    if (!st && ev->has_event_id) {
        if (!ev->nsys)
            st = add_num(fs, a, "EventID", ev->event_id);
        if (!st)
            st = add_num(fs, a, "EventCode", ev->event_id);
    }
    if (!ev->nsys) {
        if (!st)
            st = add_c(fs, a, "Computer", ev->computer, false);
        if (!st)
            st = add_c(fs, a, "Channel", ev->channel, false);
    }
    if (!st && ev->record_id)
        st = add_num(fs, a, "RecordNumber", ev->record_id);
    return st;
}

/* ---- the rule ops ------------------------------------------------------------------------- */

static esc_str getf(const esc_fields *fs, const char *name) {
    return name ? esc_fields_get(fs, esc_str_c(name)) : ESC_STR_NULL;
}

/* getf of a rule's name (hashed once); a null name has no value. */
static esc_str getn(const esc_fields *fs, const hname *n) {
    return n->s.ptr ? get_h(fs, n->s, n->h) : ESC_STR_NULL;
}

static esc_str after_last(esc_str v, char c) {
    for (size_t i = v.len; i > 0; i--)
        if (v.ptr[i - 1] == c)
            return esc_str_make(v.ptr + i, v.len - i);
    return v;
}

static bool has_ws(esc_str v) {
    for (size_t i = 0; i < v.len; i++)
        if (v.ptr[i] == ' ' || v.ptr[i] == '\t' || v.ptr[i] == '\r' || v.ptr[i] == '\n')
            return true;
    return false;
}

/* process_command_line_process_and_arguments: (^\"[^\"]+\"|[^\s]+)\s*(.*) */
static bool split_cmd(esc_str v, esc_str *prog, esc_str *args) {
    size_t e = 0;
    if (v.len && v.ptr[0] == '"') {
        const char *q = v.len > 1 ? memchr(v.ptr + 1, '"', v.len - 1) : NULL;
        if (q && q > v.ptr + 1)
            e = (size_t)(q - v.ptr) + 1;
    }
    if (!e)
        while (e < v.len && !(v.ptr[e] == ' ' || v.ptr[e] == '\t' || v.ptr[e] == '\r' ||
                              v.ptr[e] == '\n' || v.ptr[e] == '\f' || v.ptr[e] == '\v'))
            e++;
    if (!e)
        return false;
    *prog = esc_str_make(v.ptr, e);
    while (e < v.len && (v.ptr[e] == ' ' || v.ptr[e] == '\t' || v.ptr[e] == '\r' ||
                         v.ptr[e] == '\n' || v.ptr[e] == '\f' || v.ptr[e] == '\v'))
        e++;
    size_t end = e;
    while (end < v.len && v.ptr[end] != '\n') /* '.' does not cross a line end */
        end++;
    *args = esc_str_make(v.ptr + e, end - e);
    return true;
}

static esc_str concat(esc_arena *a, esc_str x, const char *mid, esc_str y, bool quote) {
    size_t ml = strlen(mid), n = x.len + ml + y.len + (quote ? 2 : 0);
    char *p = esc_arena_alloc(a, n + 1);
    if (!p)
        return ESC_STR_NULL;
    size_t k = 0;
    if (quote)
        p[k++] = '"';
    memcpy(p + k, x.ptr, x.len);
    k += x.len;
    if (quote)
        p[k++] = '"';
    memcpy(p + k, mid, ml);
    k += ml;
    memcpy(p + k, y.ptr, y.len);
    k += y.len;
    p[k] = 0;
    return esc_str_make(p, k);
}

/* Security EVAL-process for 4688: the command line when its program token holds a backslash,
 * else NewProcessName (quoted when it has whitespace) and the arguments; NewProcessName
 * without a command line. */
static esc_str op_4688_process(const esc_fields *fs, esc_arena *a) {
    esc_str np = getf(fs, "NewProcessName");
    esc_str cl = getf(fs, "Process_Command_Line");
    esc_str prog = getf(fs, "process_command_line_process");
    esc_str args = getf(fs, "process_command_line_arguments");
    if (prog.ptr && memchr(prog.ptr, '\\', prog.len))
        return cl;
    if (!np.ptr || !args.ptr)
        return np;
    return concat(a, np, " ", args, has_ws(np));
}

/* Sysmon registry key/value names from TargetObject. */
static esc_str reg_key_name(esc_str t, bool value_event) {
    esc_str last = after_last(t, '\\');
    if (!value_event)
        return last;
    if (last.ptr == t.ptr)
        return ESC_STR_NULL;
    return after_last(esc_str_make(t.ptr, (size_t)(last.ptr - t.ptr) - 1), '\\');
}

/* A character of a regex's \w. */
static bool word_char(char c) {
    return esc_is_alnum(c) || c == '_';
}

static esc_str reg_value_data(esc_str d) {
    /* <Data Name='Details'>\w+\s\((.+)\)</Data> */
    size_t i = 0;
    while (i < d.len && word_char(d.ptr[i]))
        i++;
    if (!i || i + 3 > d.len || d.ptr[i] != ' ' || d.ptr[i + 1] != '(' || d.ptr[d.len - 1] != ')' ||
        d.len - 1 <= i + 2 || memchr(d.ptr, '\n', d.len))
        return ESC_STR_NULL;
    return esc_str_make(d.ptr + i + 2, d.len - 1 - (i + 2));
}

static esc_str reg_hive(esc_str t) {
    static const char *const map[][2] = {{"HKLM\\System\\", "HKEY_LOCAL_MACHINE\\System"},
                                         {"HKU\\", "HKEY_CURRENT_USER"},
                                         {"HKLM\\SOFTWARE\\", "HKEY_LOCAL_MACHINE\\Software"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t l = strlen(map[i][0]);
        if (t.len >= l && memcmp(t.ptr, map[i][0], l) == 0)
            return esc_str_c(map[i][1]);
    }
    return ESC_STR_NULL;
}

esc_str esc_fields_reg_action(esc_str event_type) {
    if (esc_str_eq_c(event_type, "CreateKey"))
        return esc_str_c("created");
    if (esc_str_eq_c(event_type, "DeleteKey") || esc_str_eq_c(event_type, "DeleteValue"))
        return esc_str_c("deleted");
    return ESC_STR_NULL;
}

esc_str esc_fields_4688_action(esc_str keywords) {
    return esc_str_eq_c(keywords, "0x8020000000000000") ? esc_str_c("allowed") : ESC_STR_NULL;
}

static esc_str ta_action(esc_str status) {
    static const char *const m[][2] = {{"0XC000006F", "denied"},  {"0XC0000070", "denied"},
                                       {"0XC000015B", "denied"},  {"0XC0000234", "denied"},
                                       {"0XC0000064", "unknown"}, {"0XC0000133", "error"},
                                       {"0XC0000225", "error"}};
    for (size_t i = 0; status.ptr && i < sizeof m / sizeof m[0]; i++)
        if (esc_str_ieq_c(status, m[i][0]))
            return esc_str_c(m[i][1]);
    return esc_str_c("failure");
}

static esc_str lower(esc_arena *a, esc_str v) {
    char *p = esc_arena_alloc(a, v.len + 1);
    if (!p)
        return ESC_STR_NULL;
    for (size_t i = 0; i < v.len; i++)
        p[i] = (v.ptr[i] >= 'A' && v.ptr[i] <= 'Z') ? (char)(v.ptr[i] | 32) : v.ptr[i];
    p[v.len] = 0;
    return esc_str_make(p, v.len);
}

/* (?:[\\]+)?([^-].*) */
static esc_str strip_bs(esc_str v) {
    size_t i = 0;
    while (i < v.len && v.ptr[i] == '\\')
        i++;
    if (i < v.len && v.ptr[i] != '-')
        return esc_str_make(v.ptr + i, v.len - i);
    return i > 0 ? esc_str_make(v.ptr + i - 1, v.len - i + 1) : ESC_STR_NULL; /* backtracked */
}

/* ^((?:.*[\\/]+)*([^-].*))$: the last segment (after the last '\' or '/'), which must not be
 * empty or start with '-'. */
static esc_str path_name(esc_str v) {
    size_t i = v.len;
    while (i > 0 && v.ptr[i - 1] != '\\' && v.ptr[i - 1] != '/')
        i--;
    if (i == v.len || v.ptr[i] == '-')
        return ESC_STR_NULL;
    return esc_str_make(v.ptr + i, v.len - i);
}

/* The names of a rule: dst, src, src2, src3 (NAME_*), each with its hash. */
enum { NAME_DST, NAME_SRC, NAME_SRC2, NAME_SRC3, NAME_N };

/* sysmon-sid's class [0-9a-fA-f-] (its A-f is A-Z, [\\]^_` and a-f) */
static const char SID_CHARS[] = "0123456789abcdef-ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`";

/* Whether every byte of v is one of set's. */
static bool all_of(esc_str v, const char *set) {
    for (size_t i = 0; i < v.len; i++)
        if (!v.ptr[i] || !strchr(set, v.ptr[i]))
            return false;
    return true;
}

/* sysmon-md5, -sha1, -sha256, -imphash: `KEY\=([a-fA-F0-9]{n}?)` over _raw, the first match of
 * each. Markup cannot put "KEY=" and n hex digits outside one value, so the event's values are
 * searched in document order (System, then EventData and UserData), each '=' once for the four
 * keys; a field already extracted keeps its value (first extraction wins). */
static esc_status raw_hashes(const esc_event *ev, esc_fields *fs, esc_arena *a) {
    static const struct {
        const char *key;
        size_t kl, n;
    } h[] = {{"MD5", 3, 32}, {"SHA1", 4, 40}, {"SHA256", 6, 64}, {"IMPHASH", 7, 32}};
    esc_str hit[4] = {ESC_STR_NULL, ESC_STR_NULL, ESC_STR_NULL, ESC_STR_NULL};
    size_t left = 4;
    for (size_t i = 0; left && i < ev->nsys + ev->ndata; i++) {
        esc_str v = i < ev->nsys ? ev->sys[i].value : ev->data[i - ev->nsys].value;
        if (v.len < 4 + 32) /* "MD5=" and 32 digits, the shortest match */
            continue;
        const char *end = v.ptr + v.len;
        for (const char *eq = memchr(v.ptr + 3, '=', v.len - 3); left && eq;
             eq = memchr(eq + 1, '=', (size_t)(end - eq - 1))) {
            for (size_t k = 0, d = 0; k < 4; k++, d = 0) {
                if (hit[k].ptr || (size_t)(eq - v.ptr) < h[k].kl ||
                    (size_t)(end - eq - 1) < h[k].n || memcmp(eq - h[k].kl, h[k].key, h[k].kl))
                    continue;
                while (d < h[k].n && esc_hexval(eq[1 + d]) >= 0)
                    d++;
                if (d == h[k].n) {
                    hit[k] = esc_str_make(eq + 1, h[k].n);
                    left--;
                }
            }
        }
    }
    esc_status st = ESC_OK;
    for (size_t k = 0; !st && k < 4; k++)
        if (hit[k].ptr && !getf(fs, h[k].key).ptr)
            st = add_c(fs, a, h[k].key, hit[k], false);
    return st;
}

/* One rule's value from the fields as they are (ESC_STR_NULL: no value); nm: its names. */
static esc_str apply_op(const frule *r, const hname *nm, const esc_fields *fs, bool native,
                        esc_arena *a) {
    esc_str v = getn(fs, &nm[NAME_SRC]);
    switch ((fop)r->op) {
    case OP_COPY:
        return v.len ? v : ESC_STR_NULL;
    case OP_NODASH:
        return v.len && !esc_str_eq_c(v, "-") ? v : ESC_STR_NULL;
    case OP_STRIPBS:
        return v.len ? strip_bs(v) : ESC_STR_NULL;
    case OP_BASENAME:
        if (native && esc_str_eq_c(nm[NAME_DST].s, "user"))
            return v.len ? v : ESC_STR_NULL;
        return v.ptr ? after_last(v, '\\') : ESC_STR_NULL;
    case OP_NODOMAIN: {
        const char *bs = v.len ? memchr(v.ptr, '\\', v.len) : NULL;
        if (bs && bs > v.ptr && bs + 1 < v.ptr + v.len && !native)
            return esc_str_make(bs + 1, v.len - (size_t)(bs + 1 - v.ptr));
        return v.len ? v : ESC_STR_NULL;
    }
    case OP_LASTLINE: {
        const char *nl = v.len ? memchr(v.ptr, '\n', v.len) : NULL;
        if (nl && nl > v.ptr && nl + 1 < v.ptr + v.len)
            return after_last(esc_str_make(v.ptr, v.len), '\n');
        return v.len ? v : ESC_STR_NULL;
    }
    case OP_PATH:
        return v.len && path_name(v).ptr ? v : ESC_STR_NULL;
    case OP_PATHNAME:
        return v.len ? path_name(v) : ESC_STR_NULL;
    case OP_CONST:
        return nm[NAME_SRC].s;
    case OP_KEEP:
        return getn(fs, &nm[NAME_DST]);
    case OP_NULL:
        return ESC_STR_NULL;
    case OP_NULLIFDASH:
        return v.ptr && !esc_str_eq_c(v, "-") ? v : ESC_STR_NULL;
    case OP_SRCIP:
        if (!v.len || (!native && ((v.len >= 3 && memcmp(v.ptr, "::1", 3) == 0) ||
                                   (v.len >= 9 && memcmp(v.ptr, "127.0.0.1", 9) == 0))))
            return ESC_STR_NULL;
        return v;
    case OP_CMD_PROCESS:
    case OP_CMD_ARGS: {
        esc_str prog, args;
        if (!v.len || !split_cmd(v, &prog, &args))
            return ESC_STR_NULL;
        return r->op == OP_CMD_PROCESS ? prog : (args.len ? args : ESC_STR_NULL);
    }
    case OP_4688_PROCESS:
        return op_4688_process(fs, a);
    case OP_4688_USER: {
        esc_str u = getf(fs, "user");
        return (!u.ptr || esc_str_eq_c(u, "-")) ? getf(fs, "src_user") : u;
    }
    case OP_TA_ACTION:
        return ta_action(v);
    case OP_ERROR_CODE: {
        esc_str e = getf(fs, "Error_Code");
        return v.ptr ? v : e.ptr ? e : esc_str_c("-");
    }
    case OP_4688_ACTION:
        return esc_fields_4688_action(v);
    case OP_SYSMON_NET_DEST: {
        esc_str h = getf(fs, "DestinationHostname");
        return h.ptr ? h : getf(fs, "DestinationIp");
    }
    case OP_SYSMON_NET_SRC: {
        esc_str h = getf(fs, "SourceHostname");
        return h.ptr ? h : getf(fs, "SourceIp");
    }
    case OP_DIRECTION:
        return esc_str_eq_c(v, "true") ? esc_str_c("outbound") : esc_str_c("inbound");
    case OP_REG_ACTION:
        return esc_fields_reg_action(v);
    case OP_REG_KEY_NAME:
        return v.len ? reg_key_name(v, fs->ev->event_id == 13) : ESC_STR_NULL;
    case OP_REG_VALUE_NAME:
        return v.len ? after_last(v, '\\') : ESC_STR_NULL;
    case OP_REG_VALUE_DATA:
        return v.len ? reg_value_data(v) : ESC_STR_NULL;
    case OP_REG_HIVE:
        return v.len ? reg_hive(v) : ESC_STR_NULL;
    case OP_LOWER:
        return !v.len ? ESC_STR_NULL : native ? v : lower(a, v);
    case OP_COALESCE2:
    case OP_COALESCE3: {
        esc_str w = v.ptr ? v : getn(fs, &nm[NAME_SRC2]);
        return w.ptr ? w : getn(fs, &nm[NAME_SRC3]);
    }
    case OP_FILE_COALESCE: {
        if (v.ptr)
            return v;
        esc_str o =
            esc_str_eq_c(getf(fs, "ObjectType"), "File") ? getn(fs, &nm[NAME_SRC2]) : ESC_STR_NULL;
        return o.ptr ? o : getn(fs, &nm[NAME_SRC3]);
    }
    case OP_7036_STATUS:
        if (esc_str_eq_c(v, "running"))
            return esc_str_c("started");
        return esc_str_eq_c(v, "stopped") ? esc_str_c("stopped") : ESC_STR_NULL;
    case OP_DIGITS:
        return v.len && all_of(v, "0123456789") ? v : ESC_STR_NULL;
    case OP_NUM_AFTER: {
        size_t b = 0, e;
        while (b < v.len && !esc_is_digit(v.ptr[b]))
            b++;
        for (e = b; e < v.len && esc_is_digit(v.ptr[e]); e++)
            ;
        return b > 0 && e > b ? esc_str_make(v.ptr + b, e - b) : ESC_STR_NULL;
    }
    case OP_SID:
        return v.len > 2 && v.ptr[0] == 'S' && v.ptr[1] == '-' &&
                       all_of(esc_str_make(v.ptr + 2, v.len - 2), SID_CHARS)
                   ? v
                   : ESC_STR_NULL;
    case OP_RAW_HASHES: /* (extract_row adds its fields) */
        return ESC_STR_NULL;
    }
    return ESC_STR_NULL;
}

/* ---- the rule phases ---------------------------------------------------------------------- */

static bool code_matches(const uint16_t *codes, bool has_code, uint32_t code) {
    if (!codes[0])
        return true;
    for (int i = 0; i < RULE_MAX_CODES && codes[i]; i++)
        if (has_code && codes[i] == code)
            return true;
    return false;
}

/* Computed once (init_tables) and read-only afterwards, so that an event visits only the rows
 * that apply to it and compares no rule's name:
 * - overridden[s][i]: rule i is a [XmlWinEventLog] EVAL whose field source stanza s also EVALs
 *   (the source stanza's EVAL wins);
 * - per scope (index scope + 1: a channel without a source stanza is scope -1): phase_rows[ph]
 *   the REPORT or ALIAS rows that apply, in table order; eval_rows the first row of each
 *   field's EVALs the scope applies (what eval_phase evaluates), at most ESC_FIELDS_MAX_EVAL;
 * - rule_nm: each row's names with their hashes;
 * - the plans (fplan): what an event of one scope and one EventCode class applies. The codes
 *   any row or eventtype names (codes[], sorted) each make a class; every other code, and no
 *   code, make class 0 (no row or eventtype naming codes matches them). Equal plans are kept
 *   once (plans[], plan_of); an event whose plan is not kept (more classes or plans than the
 *   tables hold, none today) gets its plan built for it.
 * Rows past MAX_RULES (none today) are visited by every event, their names hashed there. */
#define MAX_RULES 512
#define MAX_CODES 256
#define MAX_PLANS 255
#define NO_PLAN 0xff
#define EVAL_NONE 0xffff
#define MAX_ETYPES 128 /* eventtype rows the plans and the sorted lists cover */
#define MAX_TAGS 128
static bool overridden[SC_NSCOPES][MAX_RULES];
static uint16_t phase_rows[2][SC_NSCOPES + 1][MAX_RULES];
static size_t nphase_rows[2][SC_NSCOPES + 1];
static uint16_t eval_rows[SC_NSCOPES + 1][ESC_FIELDS_MAX_EVAL];
static size_t neval_rows[SC_NSCOPES + 1];
/* eval_end[s][k]: past the last row of eval_rows[s][k]'s field in its stanza (those rows are
 * consecutive in the table) */
static uint16_t eval_end[SC_NSCOPES + 1][ESC_FIELDS_MAX_EVAL];
/* eval_slot[s]: open addressing from a field name's hash to 1 + its index in eval_rows[s]
 * (0: empty), for eval_apply over a set without an index */
#define EVAL_SLOTS 512
static uint16_t eval_slot[SC_NSCOPES + 1][EVAL_SLOTS];
static hname rule_nm[MAX_RULES][NAME_N];

/* A set of eventtype rows or of tags, by index. */
typedef struct etbits {
    uint64_t w[2];
} etbits;
#define ET_WORDS (sizeof(etbits) / sizeof(uint64_t))
_Static_assert(MAX_ETYPES <= 64 * ET_WORDS && MAX_TAGS <= 64 * ET_WORDS, "etbits too small");

static void bit_set(etbits *b, unsigned i) {
    b->w[i / 64] |= 1ull << (i % 64);
}

static bool bit_has(const etbits *b, unsigned i) {
    return (b->w[i / 64] >> (i % 64)) & 1;
}

/* What extraction applies to the events of one scope and code class: rows[ph] the REPORT and
 * ALIAS rows, by row index; eval[k] per eval_rows entry the first of its rows whose codes match
 * (it gives the value), EVAL_NONE when none does (null); et_yes the eventtype rows
 * (< MAX_ETYPES) the event has, et_check those it may have (etype_matches decides: terms on
 * fields, or a channel list the scope does not settle); joins what esc_fields_joins answers. */
typedef struct fplan {
    uint64_t rows[2][MAX_RULES / 64];
    uint16_t eval[ESC_FIELDS_MAX_EVAL];
    etbits et_yes, et_check;
    bool joins;
} fplan;

static uint32_t codes[MAX_CODES];
static size_t ncodes;
static bool codes_full; /* more codes than MAX_CODES: no event has a kept plan */
static fplan plans[MAX_PLANS];
static size_t nplans;
static uint8_t plan_of[SC_NSCOPES + 1][MAX_CODES + 1]; /* index in plans[], or NO_PLAN */

/* eventtype and tag values in Splunk's order (sorted): et_order the eventtype rows
 * (< MAX_ETYPES) sorted by name, the nameless (tag-only) rows last; tag_vocab every tag sorted,
 * without repeats; et_tags[i] the tags (bits of tag_vocab) of row i. etypes_listed: the tables
 * fit (else eventtypes sorts per event). */
static uint16_t et_order[MAX_ETYPES];
static esc_str tag_vocab[MAX_TAGS];
static size_t ntags;
static etbits et_tags[MAX_ETYPES];
static esc_str et_name[MAX_ETYPES];
static bool etypes_listed;
static hname nm_eventtype, nm_tag;

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static bool applies(const frule *r, int scope) {
    return r->scope == SC_XML || (int)r->scope == scope;
}

static void rule_names(const frule *r, hname nm[NAME_N]) {
    const char *n[NAME_N] = {r->dst, r->src, r->src2, r->src3};
    for (int k = 0; k < NAME_N; k++)
        nm[k] = n[k] ? hname_c(n[k]) : (hname){ESC_STR_NULL, 0};
}

static void compute_eval_rows(int scope) {
    size_t n = 0;
    for (unsigned i = 0; i < esc_fields_nrules && i < MAX_RULES; i++) {
        const frule *r = &esc_fields_rules[i];
        if (r->phase != PH_EVAL || !applies(r, scope) ||
            (scope >= 0 && r->scope == SC_XML && overridden[scope][i]))
            continue;
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++)
            seen = !strcmp(esc_fields_rules[eval_rows[scope + 1][k]].dst, r->dst);
        if (seen || n == ESC_FIELDS_MAX_EVAL)
            continue;
        eval_rows[scope + 1][n++] = (uint16_t)i;
    }
    neval_rows[scope + 1] = n;
    for (size_t k = 0; k < n; k++) {
        const frule *r = &esc_fields_rules[eval_rows[scope + 1][k]];
        unsigned j = eval_rows[scope + 1][k];
        while (j < esc_fields_nrules && esc_fields_rules[j].phase == PH_EVAL &&
               esc_fields_rules[j].scope == r->scope &&
               (esc_fields_rules[j].dst == r->dst || !strcmp(esc_fields_rules[j].dst, r->dst)))
            j++;
        eval_end[scope + 1][k] = (uint16_t)j;
    }
    for (size_t k = 0; k < n; k++) {
        const hname *d = &rule_nm[eval_rows[scope + 1][k]][NAME_DST];
        size_t h = d->h & (EVAL_SLOTS - 1);
        while (eval_slot[scope + 1][h])
            h = (h + 1) & (EVAL_SLOTS - 1);
        eval_slot[scope + 1][h] = (uint16_t)(k + 1);
    }
}

/* The index in eval_rows[scope + 1] of the EVAL that sets field `name`, or -1. */
static int eval_index(int scope, esc_str name) {
    for (size_t h = esc_fields_name_hash(name) & (EVAL_SLOTS - 1); eval_slot[scope + 1][h];
         h = (h + 1) & (EVAL_SLOTS - 1)) {
        int k = eval_slot[scope + 1][h] - 1;
        if (esc_str_eq(name, rule_nm[eval_rows[scope + 1][k]][NAME_DST].s))
            return k;
    }
    return -1;
}

/* The plan of the events of scope with code (has_code) into *p. */
static void build_plan(int scope, bool has_code, uint32_t code, fplan *p) {
    memset(p, 0, sizeof *p);
    for (int ph = 0; ph < 2; ph++)
        for (size_t k = 0; k < nphase_rows[ph][scope + 1]; k++) {
            unsigned i = phase_rows[ph][scope + 1][k];
            if (code_matches(esc_fields_rules[i].codes, has_code, code))
                p->rows[ph][i / 64] |= 1ull << (i % 64);
        }
    for (size_t e = 0; e < neval_rows[scope + 1]; e++) {
        p->eval[e] = EVAL_NONE;
        for (unsigned j = eval_rows[scope + 1][e]; j < eval_end[scope + 1][e]; j++)
            if (code_matches(esc_fields_rules[j].codes, has_code, code)) {
                p->eval[e] = (uint16_t)j;
                break;
            }
    }
    for (unsigned i = 0; i < esc_fields_netypes && i < MAX_ETYPES; i++) {
        const fetype *e = &esc_fields_etypes[i];
        /* a scope settles the channel; a channel without one (-1) is checked per event */
        bool chan_known = !e->channels || scope >= 0;
        if (chan_known && e->channels && !in_list(e->channels, scope_channel[scope]))
            continue;
        bool code_ok = code_matches(e->codes, has_code, code);
        if (e->cond == EC_NOT_CODES ? code_ok : !code_ok)
            continue;
        bool terms = e->cond == EC_AUDIT_STATUS ||
                     (e->cond == EC_TERMS && (!e->at || (has_code && code == e->at)));
        bit_set(chan_known && !terms ? &p->et_yes : &p->et_check, i);
    }
    for (unsigned i = 0; i < esc_fields_nrules && !p->joins; i++) {
        const frule *r = &esc_fields_rules[i];
        p->joins =
            r->op == OP_4688_PROCESS && applies(r, scope) && code_matches(r->codes, has_code, code);
    }
}

static void add_code(uint32_t c) {
    size_t k = 0;
    while (k < ncodes && codes[k] < c)
        k++;
    if (k < ncodes && codes[k] == c)
        return;
    if (ncodes == MAX_CODES) {
        codes_full = true;
        return;
    }
    memmove(codes + k + 1, codes + k, (ncodes - k) * sizeof *codes);
    codes[k] = c;
    ncodes++;
}

/* The code class of ev (see the plans above). */
static size_t code_class(const esc_event *ev) {
    if (!ev->has_event_id)
        return 0;
    size_t lo = 0, hi = ncodes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (codes[mid] < ev->event_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ncodes && codes[lo] == ev->event_id ? lo + 1 : 0;
}

static void compute_plans(void) {
    for (unsigned i = 0; i < esc_fields_nrules; i++)
        for (int k = 0; k < RULE_MAX_CODES && esc_fields_rules[i].codes[k]; k++)
            add_code(esc_fields_rules[i].codes[k]);
    for (unsigned i = 0; i < esc_fields_netypes; i++)
        for (int k = 0; k < RULE_MAX_CODES && esc_fields_etypes[i].codes[k]; k++)
            add_code(esc_fields_etypes[i].codes[k]);
    memset(plan_of, NO_PLAN, sizeof plan_of);
    if (codes_full)
        return;
    for (int scope = -1; scope < SC_NSCOPES; scope++)
        for (size_t c = 0; c <= ncodes; c++) {
            fplan p;
            build_plan(scope, c > 0, c > 0 ? codes[c - 1] : 0, &p);
            size_t k = 0;
            while (k < nplans && memcmp(&plans[k], &p, sizeof p))
                k++;
            if (k == nplans) {
                if (nplans == MAX_PLANS)
                    continue;
                plans[nplans++] = p;
            }
            plan_of[scope + 1][c] = (uint8_t)k;
        }
}

/* The plan of ev (of scope): a kept one, or built into *tmp. */
static const fplan *event_plan(const esc_event *ev, int scope, fplan *tmp) {
    uint8_t k = codes_full ? NO_PLAN : plan_of[scope + 1][code_class(ev)];
    if (k != NO_PLAN)
        return &plans[k];
    build_plan(scope, ev->has_event_id, ev->event_id, tmp);
    return tmp;
}

static int cmp_str(const void *x, const void *y) {
    return esc_str_cmp(*(const esc_str *)x, *(const esc_str *)y);
}

static int cmp_etype(const void *x, const void *y) {
    const char *a = esc_fields_etypes[*(const uint16_t *)x].name;
    const char *b = esc_fields_etypes[*(const uint16_t *)y].name;
    return a && b ? strcmp(a, b) : (a == NULL) - (b == NULL); /* nameless rows last */
}

/* et_order, tag_vocab and et_tags (see above). */
static void compute_etype_lists(void) {
    nm_eventtype = hname_c("eventtype");
    nm_tag = hname_c("tag");
    if (esc_fields_netypes > MAX_ETYPES)
        return;
    for (unsigned i = 0; i < esc_fields_netypes; i++) {
        et_order[i] = (uint16_t)i;
        et_name[i] =
            esc_fields_etypes[i].name ? esc_str_c(esc_fields_etypes[i].name) : ESC_STR_NULL;
        for (const char *t = esc_fields_etypes[i].tags; *t;) {
            const char *sp = strchr(t, ' ');
            esc_str tag = esc_str_make(t, sp ? (size_t)(sp - t) : strlen(t));
            size_t k = 0;
            while (k < ntags && !esc_str_eq(tag_vocab[k], tag))
                k++;
            if (k == ntags) {
                if (ntags == MAX_TAGS)
                    return;
                tag_vocab[ntags++] = tag;
            }
            t = sp ? sp + 1 : t + tag.len;
        }
    }
    qsort(et_order, esc_fields_netypes, sizeof et_order[0], cmp_etype);
    qsort(tag_vocab, ntags, sizeof tag_vocab[0], cmp_str);
    for (unsigned i = 0; i < esc_fields_netypes; i++)
        for (const char *t = esc_fields_etypes[i].tags; *t;) {
            const char *sp = strchr(t, ' ');
            esc_str tag = esc_str_make(t, sp ? (size_t)(sp - t) : strlen(t));
            for (size_t k = 0; k < ntags; k++)
                if (esc_str_eq(tag_vocab[k], tag))
                    bit_set(&et_tags[i], (unsigned)k);
            t = sp ? sp + 1 : t + tag.len;
        }
    etypes_listed = true;
}

static void init_tables(void) {
    for (unsigned i = 0; i < esc_fields_nrules && i < MAX_RULES; i++)
        rule_names(&esc_fields_rules[i], rule_nm[i]);
    for (unsigned i = 0; i < esc_fields_nrules && i < MAX_RULES; i++) {
        const frule *r = &esc_fields_rules[i];
        if (r->scope != SC_XML || r->phase != PH_EVAL)
            continue;
        for (unsigned j = 0; j < esc_fields_nrules; j++) {
            const frule *o = &esc_fields_rules[j];
            if (o->scope != SC_XML && o->phase == PH_EVAL && !strcmp(o->dst, r->dst))
                overridden[o->scope][i] = true;
        }
    }
    for (int scope = -1; scope < SC_NSCOPES; scope++) {
        for (int ph = 0; ph < 2; ph++)
            for (unsigned i = 0; i < esc_fields_nrules && i < MAX_RULES; i++) {
                const frule *r = &esc_fields_rules[i];
                if ((int)r->phase == ph && applies(r, scope))
                    phase_rows[ph][scope + 1][nphase_rows[ph][scope + 1]++] = (uint16_t)i;
            }
        compute_eval_rows(scope);
    }
    compute_plans();
    compute_etype_lists();
}

/* One REPORT/EXTRACT (first extraction of a field wins) or FIELDALIAS (replaces) row. */
static esc_status extract_row(esc_fields *fs, esc_arena *a, const frule *r, const hname *nm,
                              bool native) {
    const hname *dst = &nm[NAME_DST];
    if (r->op == OP_RAW_HASHES)
        return raw_hashes(fs->ev, fs, a);
    if (r->phase == PH_REPORT) {
        if (get_h(fs, dst->s, dst->h).ptr)
            return ESC_OK;
        esc_str v = apply_op(r, nm, fs, native, a);
        return v.ptr ? add_h(fs, a, dst->s, dst->h, v, false) : ESC_OK;
    }
    esc_str vals[ESC_FIELDS_MAX_MV];
    size_t n = nm[NAME_SRC].s.ptr
                   ? values_h(fs, nm[NAME_SRC].s, nm[NAME_SRC].h, vals, ESC_FIELDS_MAX_MV)
                   : 0;
    if (!n)
        return ESC_OK;
    fields_remove(fs, a, dst->s, dst->h);
    esc_status st = ESC_OK;
    for (size_t k = 0; !st && k < n && k < ESC_FIELDS_MAX_MV; k++)
        st = add_h(fs, a, dst->s, dst->h, vals[k], false);
    return st;
}

/* The REPORT/EXTRACT or FIELDALIAS rows of plan p, in table order. */
static esc_status extract_phase(esc_fields *fs, esc_arena *a, int scope, const fplan *p,
                                bool native, fphase ph) {
    esc_status st = ESC_OK;
    for (size_t w = 0; !st && w < MAX_RULES / 64; w++)
        for (uint64_t b = p->rows[ph][w]; !st && b; b &= b - 1) {
            unsigned i = (unsigned)(w * 64 + (size_t)__builtin_ctzll(b));
            st = extract_row(fs, a, &esc_fields_rules[i], rule_nm[i], native);
        }
    for (unsigned i = MAX_RULES; !st && i < esc_fields_nrules; i++) {
        const frule *r = &esc_fields_rules[i];
        if (r->phase != ph || !applies(r, scope) ||
            !code_matches(r->codes, fs->ev->has_event_id, fs->ev->event_id))
            continue;
        hname nm[NAME_N];
        rule_names(r, nm);
        st = extract_row(fs, a, r, nm, native);
    }
    return st;
}

/* The EVAL results val[0..n) (of the fields of eval_rows[scope + 1], each once) replace those
 * fields: every value of each is removed; a result that equals its field's first value keeps
 * all of the field's values (OP_KEEP; up to ESC_FIELDS_MAX_MV), else a non-empty result is the
 * one value. The fields no EVAL sets keep their order, followed by the results in EVAL order,
 * as removing and appending one field at a time would leave them; in one pass over the fields
 * (the index gives each result's fields), and the index rebuilt from the hashes it has. */
static esc_status eval_apply(esc_fields *fs, esc_arena *a, int scope, const esc_str *val,
                             size_t n) {
    const uint16_t *rows = eval_rows[scope + 1];
    int16_t *slot = esc_arena_alloc(a, (fs->n ? fs->n : 1) * sizeof *slot);
    size_t count[ESC_FIELDS_MAX_EVAL];
    esc_str first[ESC_FIELDS_MAX_EVAL];
    if (!slot)
        return a->failed ? ESC_ENOMEM : ESC_ELIMIT;
    memset(count, 0, n * sizeof *count);
    if (fs->ix) {
        memset(slot, 0xff, fs->n * sizeof *slot); /* -1: no EVAL sets it */
        for (size_t k = 0; k < n; k++) {
            const hname *d = &rule_nm[rows[k]][NAME_DST];
            for (uint32_t i = ix_first(fs, d->s, d->h); i; i = fs->ix->next[i - 1]) {
                slot[i - 1] = (int16_t)k;
                if (!count[k]++)
                    first[k] = fs->f[i - 1].value;
            }
        }
    } else {
        for (size_t i = 0; i < fs->n; i++) {
            int k = eval_index(scope, fs->f[i].name);
            slot[i] = (int16_t)(k >= 0 && (size_t)k < n ? k : -1);
            if (slot[i] < 0)
                continue;
            if (!count[k]++)
                first[k] = fs->f[i].value;
        }
    }
    bool keep[ESC_FIELDS_MAX_EVAL];
    size_t extra = 0;
    for (size_t k = 0; k < n; k++) {
        keep[k] = count[k] > 1 && val[k].ptr && esc_str_eq(val[k], first[k]);
        extra += keep[k] ? count[k] : 1;
    }
    size_t cap = fs->n + extra + 16, nkeep = 0;
    esc_field *out = esc_arena_alloc(a, cap * sizeof *out);
    if (!out)
        return a->failed ? ESC_ENOMEM : ESC_ELIMIT;
    /* the entries' hashes: in place (the kept entries only move down), or in a larger array */
    uint32_t *nh = NULL;
    if (fs->ix && !(nh = cap <= fs->ix->cap ? fs->ix->hash : esc_arena_alloc(a, cap * sizeof *nh)))
        fs->ix = NULL;
    for (size_t i = 0; i < fs->n; i++)
        if (slot[i] < 0) {
            if (nh)
                nh[nkeep] = fs->ix->hash[i];
            out[nkeep++] = fs->f[i];
        }
    for (size_t k = 0; k < n; k++) {
        const hname *d = &rule_nm[rows[k]][NAME_DST];
        if (keep[k]) {
            for (size_t i = 0, j = 0; i < fs->n && j < ESC_FIELDS_MAX_MV; i++)
                if (slot[i] == (int16_t)k) {
                    if (nh)
                        nh[nkeep] = d->h;
                    out[nkeep++] = (esc_field){d->s, fs->f[i].value};
                    j++;
                }
        } else if (val[k].ptr && val[k].len) {
            if (nh)
                nh[nkeep] = d->h;
            out[nkeep++] = (esc_field){d->s, val[k]};
        }
    }
    fs->f = out;
    fs->n = nkeep;
    fs->cap = cap;
    ix_build(fs, a, nh);
    return ESC_OK;
}

/* EVAL: each field's first matching row of its stanza (no match: null); all read the fields
 * before any EVAL, then the results replace the fields. */
static esc_status eval_phase(esc_fields *fs, esc_arena *a, int scope, const fplan *p, bool native) {
    esc_str val[ESC_FIELDS_MAX_EVAL];
    size_t n = neval_rows[scope + 1];
    for (size_t e = 0; e < n; e++) {
        unsigned j = p->eval[e];
        val[e] = j == EVAL_NONE ? ESC_STR_NULL
                                : apply_op(&esc_fields_rules[j], rule_nm[j], fs, native, a);
    }
    return eval_apply(fs, a, scope, val, n);
}

/* ---- eventtype and tag ---------------------------------------------------------------------- */

/* ASCII case-insensitive: does s contain lit? */
/* lit occurs in v, ASCII case-insensitively */
static bool icontains(esc_str v, const char *lit) {
    size_t l = strlen(lit);
    for (size_t i = 0; l <= v.len && i <= v.len - l; i++)
        if (strncasecmp(v.ptr + i, lit, l) == 0)
            return true;
    return false;
}

int esc_fields_text_bound(const char *field, const char *lit) {
    if (!strcmp(field, "eventtype") || !strcmp(field, "tag")) /* made from the tables alone */
        return 0;
    /* the constants apply_op, ta_action, reg_hive and metadata give (keep in step with them) */
    static const char *const consts[] = {"XmlWinEventLog:",
                                         "WinEventLog:",
                                         "failure",
                                         "denied",
                                         "unknown",
                                         "error",
                                         "-",
                                         "created",
                                         "deleted",
                                         "started",
                                         "stopped",
                                         "allowed",
                                         "outbound",
                                         "inbound",
                                         "HKEY_LOCAL_MACHINE\\System",
                                         "HKEY_CURRENT_USER",
                                         "HKEY_LOCAL_MACHINE\\Software"};
    bool digits = true, join = false;
    for (const char *p = lit; *p; p++) {
        if (*p < ' ' || *p > '~' || *p == ':')
            return 0;
        digits &= *p >= '0' && *p <= '9';
        join |= *p == ' ' || *p == '"';
    }
    if (!*lit || digits)
        return 0;
    for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++)
        if (icontains(esc_str_c(consts[i]), lit))
            return 0;
    for (unsigned i = 0; i < esc_fields_nrules; i++)
        if (esc_fields_rules[i].op == OP_CONST &&
            icontains(esc_str_c(esc_fields_rules[i].src), lit))
            return 0;
    return join ? 2 : 1;
}

bool esc_fields_joins(const esc_event *ev) {
    pthread_once(&tables_once, init_tables);
    fplan tmp;
    return event_plan(ev, channel_scope(ev->channel), &tmp)->joins;
}

size_t esc_fields_neventtypes(void) {
    return esc_fields_netypes;
}

const char *esc_fields_eventtype(size_t i) {
    return i < esc_fields_netypes ? esc_fields_etypes[i].name : NULL;
}

/* A value below the number lim (Splunk compares numerically when both sides are numbers). */
static bool below(esc_str v, const char *lim) {
    char buf[64], *end;
    if (!v.len || v.len >= sizeof buf)
        return false;
    memcpy(buf, v.ptr, v.len);
    buf[v.len] = 0;
    double x = strtod(buf, &end);
    return end != buf && !*end && x < strtod(lim, NULL);
}

/* One term of an eventtype's search over the event's fields (a multivalue field: any value). */
static bool term_holds(const fterm *t, const esc_fields *fs) {
    if (t->op == T_TEXT) { /* the stand-in for _raw: every System, data and UserData value */
        const esc_event *ev = fs->ev;
        for (size_t i = 0; i < ev->nsys + ev->ndata; i++)
            if (icontains(i < ev->nsys ? ev->sys[i].value : ev->data[i - ev->nsys].value, t->value))
                return true;
        return false;
    }
    esc_str vals[ESC_FIELDS_MAX_MV];
    size_t n =
        t->op == T_NONE ? 0 : esc_fields_values(fs, esc_str_c(t->field), vals, ESC_FIELDS_MAX_MV);
    bool any = false, all_ne = n > 0;
    for (size_t i = 0; i < n && i < ESC_FIELDS_MAX_MV; i++) {
        bool eq = esc_str_ieq_c(vals[i], t->value); /* field=value comparisons ignore case */
        any |= t->op == T_EQ ? eq : t->op == T_LT && below(vals[i], t->value);
        all_ne &= !eq;
    }
    return t->op == T_NE ? all_ne : any;
}

static bool etype_matches(const fetype *e, const esc_fields *fs, int scope) {
    const esc_event *ev = fs->ev;
    if (e->channels && !(scope >= 0 ? in_list(e->channels, scope_channel[scope])
                                    : in_list(e->channels, ev->channel)))
        return false;
    bool code = code_matches(e->codes, ev->has_event_id, ev->event_id);
    switch ((fcond)e->cond) {
    case EC_NONE:
        return code;
    case EC_NOT_CODES:
        return !code;
    case EC_TERMS:
        if (!code)
            return false;
        if (e->at && !(ev->has_event_id && ev->event_id == e->at))
            return true;
        return term_holds(&e->terms[0], fs) || term_holds(&e->terms[1], fs);
    case EC_AUDIT_STATUS: {
        static const char *const st[] = {"0xC0000064", "0xC000006A", "0xC000006F", "0xC0000070",
                                         "0xC0000071", "0xC0000072", "0XC000018C", "0XC0000192",
                                         "0xC0000193", "0xC0000234", "0XC00002EE", "0XC0000413"};
        esc_str s = esc_fields_get(fs, esc_str_c("ta_windows_status"));
        for (size_t i = 0; code && s.ptr && i < sizeof st / sizeof st[0]; i++)
            if (esc_str_ieq_c(s, st[i])) /* field=value comparisons ignore case */
                return true;
        return false;
    }
    }
    return false;
}

/* eventtype and tag, each sorted and without repeats, as Splunk lists them: plan p's
 * eventtypes, from the sorted lists. */
static esc_status eventtypes(esc_fields *fs, esc_arena *a, int scope, const fplan *p) {
    etbits m = p->et_yes, tags = {{0}};
    for (unsigned w = 0; w < ET_WORDS; w++)
        for (uint64_t b = p->et_check.w[w]; b; b &= b - 1) {
            unsigned i = w * 64 + (unsigned)__builtin_ctzll(b);
            if (etype_matches(&esc_fields_etypes[i], fs, scope))
                bit_set(&m, i);
        }
    esc_status st = ESC_OK;
    for (unsigned k = 0; !st && k < esc_fields_netypes; k++) {
        unsigned i = et_order[k];
        if (!bit_has(&m, i))
            continue;
        for (unsigned w = 0; w < ET_WORDS; w++)
            tags.w[w] |= et_tags[i].w[w];
        if (et_name[i].ptr)
            st = add_h(fs, a, nm_eventtype.s, nm_eventtype.h, et_name[i], false);
    }
    for (unsigned k = 0; !st && k < ntags; k++)
        if (bit_has(&tags, k))
            st = add_h(fs, a, nm_tag.s, nm_tag.h, tag_vocab[k], false);
    return st;
}

/* eventtypes when the tables do not fit the sorted lists (none today): each eventtype tested,
 * the values sorted per event. */
static esc_status eventtypes_sorted(esc_fields *fs, esc_arena *a, int scope) {
    esc_str et[ESC_FIELDS_MAX_MV], tg[ESC_FIELDS_MAX_MV];
    size_t ne = 0, nt = 0;
    for (unsigned i = 0; i < esc_fields_netypes && ne < ESC_FIELDS_MAX_MV; i++) {
        const fetype *e = &esc_fields_etypes[i];
        if (!etype_matches(e, fs, scope))
            continue;
        if (e->name)
            et[ne++] = esc_str_c(e->name);
        for (const char *t = e->tags; *t;) {
            const char *sp = strchr(t, ' ');
            esc_str tag = esc_str_make(t, sp ? (size_t)(sp - t) : strlen(t));
            bool dup = false;
            for (size_t k = 0; k < nt && !dup; k++)
                dup = esc_str_eq(tg[k], tag);
            if (!dup && nt < ESC_FIELDS_MAX_MV)
                tg[nt++] = tag;
            t = sp ? sp + 1 : t + tag.len;
        }
    }
    qsort(et, ne, sizeof et[0], cmp_str);
    qsort(tg, nt, sizeof tg[0], cmp_str);
    esc_status st = ESC_OK;
    for (size_t i = 0; !st && i < ne; i++)
        st = esc_fields_add(fs, a, esc_str_c("eventtype"), et[i], false);
    for (size_t i = 0; !st && i < nt; i++)
        st = esc_fields_add(fs, a, esc_str_c("tag"), tg[i], false);
    return st;
}

/* ---- the whole extraction ------------------------------------------------------------------- */

/* transforms.conf CLEAN_KEYS (default true, Splunk Enterprise transforms.conf.spec): a name a
 * search-time transform extracts has each byte outside a-z, A-Z and 0-9 replaced by '_', then
 * its leading '_' and digits removed. The add-on's eventdata_xml_data takes Data names through
 * it: Splunk's own field list of a Defender 1121 event (escu-full data_sources/
 * windows_event_log_defender_1121.yml, add-on 8.x) has Process_Name and Product_Version where
 * the event names `Process Name` and `Product Version`. A clean name is kept as it is; a
 * cleaned one is copied to the arena; nothing left gives an empty name. */
static esc_status clean_key(esc_str *name, esc_arena *a) {
    size_t lead = 0, i;
    while (lead < name->len && !esc_is_alpha(name->ptr[lead]))
        lead++; /* '_', digits and what becomes '_' all go */
    for (i = lead; i < name->len && esc_is_alnum(name->ptr[i]); i++)
        ;
    if (!lead && i == name->len)
        return ESC_OK;
    char *c = esc_arena_alloc(a, name->len - lead + 1);
    if (!c)
        return a->failed ? ESC_ENOMEM : ESC_ELIMIT;
    for (i = lead; i < name->len; i++)
        c[i - lead] = esc_is_alnum(name->ptr[i]) ? name->ptr[i] : '_';
    *name = esc_str_make(c, name->len - lead);
    return ESC_OK;
}

/* transforms.conf rendering_info_xml_data (REPORT-0xml_kv_extract, after eventdata_xml_data):
 * `(?ms)<(\w*)>([^<]*)<\/\1>` over RenderingInfo_Xml, MV_ADD, so each leaf of an event's
 * <RenderingInfo> (Message, Level, Task, Opcode, Channel, Provider, Keyword) is a field, a
 * second value of a System field of the same name. The values keep their entities as written,
 * as the whole-element fields do; an empty one makes no field. Only XmlWinEventLog text has a
 * RenderingInfo (EVTX records are rendered by the reader, JSON shapes carry none). */
static esc_status rendering_info(esc_fields *fs, esc_arena *a, esc_str text) {
    const char *end = text.ptr + text.len;
    long at = esc_str_find(text, esc_str_c("<RenderingInfo"));
    const char *p = at < 0 ? NULL : memchr(text.ptr + at, '>', text.len - (size_t)at);
    if (!p || p[-1] == '/')
        return ESC_OK;
    at = esc_str_find(esc_str_make(p, (size_t)(end - p)), esc_str_c("</RenderingInfo>"));
    if (at < 0)
        return ESC_OK;
    const char *stop = p + at;
    esc_status st = ESC_OK;
    for (p++; !st && p < stop && (p = memchr(p, '<', (size_t)(stop - p))) != NULL;) {
        const char *n = p + 1, *ne = n;
        while (ne < stop && word_char(*ne))
            ne++;
        const char *v = ne + 1, *ve = v;
        if (ne >= stop || *ne != '>') {
            p++;
            continue;
        }
        while (ve < stop && *ve != '<')
            ve++;
        size_t nl = (size_t)(ne - n);
        if (ve + 3 + nl > stop || ve[1] != '/' || memcmp(ve + 2, n, nl) || ve[2 + nl] != '>') {
            p++;
            continue;
        }
        esc_str name = esc_str_make(n, nl);
        if (nl && ve > v && (st = clean_key(&name, a)) == ESC_OK && name.len)
            st = esc_fields_add(fs, a, name, esc_str_make(v, (size_t)(ve - v)), false);
        p = ve + 3 + nl;
    }
    return st;
}

/* Splunk_TA_windows' whole-element fields; docs/fields.md has where their form comes from. */
const char *const esc_fields_whole[ESC_XML_NPARTS] = {
    "System_Props_Xml", "EventData_Xml", "UserData_Xml", "RenderingInfo_Xml", "LogFileCleared_Xml"};

esc_status esc_fields_extract(const esc_event *ev, bool native, esc_arena *a, esc_fields *out,
                              esc_error *err) {
    pthread_once(&tables_once, init_tables);
    *out = (esc_fields){.time_us = ev->time_us, .has_time = ev->has_time, .ev = ev};
    /* room for most events' fields, and their index; without room the set goes unindexed,
     * and the first esc_fields_add meets the arena's cap */
    if ((out->f = esc_arena_alloc(a, 128 * sizeof *out->f)) != NULL &&
        (out->ix = esc_arena_alloc(a, sizeof *out->ix)) != NULL) {
        out->cap = 128;
        memset(out->ix, 0, sizeof *out->ix);
        ix_build(out, a, NULL);
    }
    esc_status st = ESC_OK;
    bool win = ev->kind == ESC_EV_WINDOWS;
    if (win && !(st = metadata(ev, a, out)))
        st = windows_system(ev, native, a, out);
    /* Splunk Add-on for CrowdStrike FDR, "Source types": sensor events and aidmaster records */
    if (ev->kind == ESC_EV_CROWDSTRIKE)
        st = add_c(out, a, "sourcetype", esc_str_c("crowdstrike:events:sensor"), false);
    else if (ev->kind == ESC_EV_AIDMASTER)
        st = add_c(out, a, "sourcetype", esc_str_c("crowdstrike:inventory:aidmaster"), false);
    /* eventdata_xml_data: Data with a Name, the name cleaned (clean_key); an empty value makes
     * no field (docs/fields.md) */
    for (size_t i = 0; !st && i < ev->ndata; i++) {
        esc_str name = ev->data[i].name;
        if (!name.len || (win && !ev->data[i].value.len))
            continue;
        if (win && (st = clean_key(&name, a)) != ESC_OK)
            break;
        if (name.len)
            st = esc_fields_add(out, a, name, ev->data[i].value, false);
    }
    if (win && !st && ev->text.len)
        st = rendering_info(out, a, ev->text);
    for (int k = 0; win && !st && k < ESC_XML_NPARTS; k++)
        if (ev->parts[k].len)
            st = add_c(out, a, esc_fields_whole[k], ev->parts[k], false);
    if (win) {
        int scope = channel_scope(ev->channel);
        fplan tmp;
        const fplan *p = event_plan(ev, scope, &tmp);
        if (!st)
            st = extract_phase(out, a, scope, p, native, PH_REPORT);
        if (!st)
            st = extract_phase(out, a, scope, p, native, PH_ALIAS);
        if (!st)
            st = eval_phase(out, a, scope, p, native);
        if (!st)
            st = etypes_listed ? eventtypes(out, a, scope, p) : eventtypes_sorted(out, a, scope);
    }
    if (!st && ev->xml.ptr)
        out->raw = ev->xml;
    if (st)
        esc_error_set(err, st, "event fields: the per-event arena is full");
    return st;
}
