/* fields [+|-] PATTERN, ... and table PATTERN, ...: choose and order columns by name patterns
 * ('*' wildcards, case-sensitive); the name-list parser is shared with dedup.
 *
 * Invariants: table and `fields +` output the matching columns in pattern order, each column
 * once (at its first matching pattern); `fields -` keeps the order and drops the matches;
 * values are moved, never copied. Deliberately not done: options (name=value is an error). */
#include <string.h>

#include "core/alloc.h"
#include "spl/cmd.h"

bool spl_parse_names(spl_parser *P, stage *st, bool allow_sign) {
    const char *tmp[ESC_SPL_MAX_NAMES];
    size_t n = 0;
    spl_skip_ws(P);
    if (allow_sign && (spl_peek(P) == '-' || spl_peek(P) == '+') && P->pos + 1 < P->end &&
        spl_is_ws(P->s[P->pos + 1])) {
        st->remove = spl_peek(P) == '-';
        P->pos++;
    }
    while (!spl_at_end(P)) {
        if (n == ESC_SPL_MAX_NAMES) {
            spl_fail(P, P->pos, "too many fields");
            return false;
        }
        size_t l, s;
        const char *f = spl_word(P, ",=", &l, &s);
        if (!f) {
            if (!P->failed)
                spl_fail(P, P->pos, "expected a field name");
            return false;
        }
        if (spl_peek(P) == '=') {
            spl_fail(P, s, "unsupported %s option '%s'", st->name, f);
            return false;
        }
        tmp[n++] = f;
        spl_skip_ws(P);
        if (spl_peek(P) == ',')
            P->pos++;
    }
    if (!n) {
        spl_fail(P, st->start, "%s needs at least one field", st->name);
        return false;
    }
    st->names = spl_alloc0(P, n * sizeof *tmp);
    if (!st->names)
        return false;
    memcpy(st->names, tmp, n * sizeof *tmp);
    st->nnames = n;
    return true;
}

static bool parse_fields(spl_parser *P, stage *st) {
    return spl_parse_names(P, st, true);
}

static bool parse_table(spl_parser *P, stage *st) {
    return spl_parse_names(P, st, false);
}

static esc_status plan_select(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    int *map = esc_arena_alloc(&p->arena, (in->n ? in->n : 1) * sizeof *map);
    bool *used = esc_arena_alloc(&p->arena, (in->n ? in->n : 1) * sizeof *used);
    if (!map || !used)
        return spl_plan_oom(err);
    memset(used, 0, (in->n ? in->n : 1) * sizeof *used);
    size_t m = 0;
    if (st->remove) {
        for (size_t c = 0; c < in->n; c++) {
            bool drop = false;
            for (size_t k = 0; k < st->nnames && !drop; k++)
                drop = spl_name_matches(st->names[k], in->name[c]);
            if (!drop)
                map[m++] = (int)c;
        }
    } else {
        for (size_t k = 0; k < st->nnames; k++)
            for (size_t c = 0; c < in->n; c++)
                if (!used[c] && spl_name_matches(st->names[k], in->name[c])) {
                    used[c] = true;
                    map[m++] = (int)c;
                }
    }
    if (!spl_schema_alloc(p, &st->out, m))
        return spl_plan_oom(err);
    for (size_t i = 0; i < m; i++) {
        st->out.name[i] = in->name[map[i]];
        st->out.mv[i] = in->mv[map[i]];
        st->out.origin[i] = in->origin[map[i]];
    }
    st->map = map;
    st->nmap = m;
    return ESC_OK;
}

const spl_cmd spl_cmd_fields = {
    .name = "fields",
    .parse = parse_fields,
    .plan = plan_select,
    .run = spl_run_remap,
};

const spl_cmd spl_cmd_table = {
    .name = "table",
    .parse = parse_table,
    .plan = plan_select,
    .run = spl_run_remap,
};
