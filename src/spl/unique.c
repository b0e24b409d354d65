/* Rows unique on columns: which stats take input rows of which no two have the same values in
 * some of its BY fields (spl_plan_unique, run once a pipeline is planned; stage.unique holds the
 * answer). Such a stats makes one group of each row: spl_stats_unique (cmd_stats.c) aggregates
 * the rows one at a time instead of holding a group table beside them.
 *
 * The walk goes forward from the source with a set of columns on which the table's rows are
 * unique: a tstats' or a stats' BY columns (one row per group). The set is carried through the
 * commands that add no row and leave every cell of those columns as it is: rename, fields and
 * table (their column map; dropping a column of the set loses it), eval, convert and eventstats
 * unless they write a column of the set, where and search without a subsearch (they drop rows).
 * Any other command loses it (mvexpand, join and lookup may add rows or rewrite cells).
 *
 * What the flag promises is checked again at run time (spl_stats_unique: every BY cell one value,
 * no two rows the same BY values; else the rows are grouped as by any stats), so the walk is
 * only a guess that saves that check where it would fail: a wrong guess costs a sort, never a
 * different row. Deliberately not done: following the set through other commands (dedup, sort,
 * fillnull) or into a subsearch. */
#include <string.h>

#include "spl/cmd.h"

/* Whether one of cols[0..n) (-1: none) is in the set. */
static bool writes(const int *cols, size_t n, const bool *set, size_t nset) {
    for (size_t k = 0; k < n; k++)
        if (cols[k] >= 0 && (size_t)cols[k] < nset && set[cols[k]])
            return true;
    return false;
}

/* The set through a column map (output column o is input column map[o]): false when a column
 * of the set is not kept. */
static bool through_map(const stage *st, const bool *in, size_t nin, bool *out) {
    for (size_t c = 0; c < nin; c++) {
        bool kept = false;
        for (size_t o = 0; o < st->nmap && o < st->out.n; o++)
            if (st->map[o] == (int)c) {
                out[o] = in[c];
                kept = true;
            }
        if (in[c] && !kept)
            return false;
    }
    return true;
}

void spl_plan_unique(esc_plan *p) {
    bool a[ESC_SPL_MAX_COLUMNS], b[ESC_SPL_MAX_COLUMNS], *in = a, *out = b;
    bool known = false; /* in holds a set the rows are unique on */
    size_t nin = 0;
    for (size_t i = 0; i < p->nstages; i++) {
        stage *st = &p->stages[i];
        const spl_cmd *cmd = st->cmd;
        size_t nout = st->out.n;
        if (nout > ESC_SPL_MAX_COLUMNS) { /* (not made: schemas are capped) */
            known = false;
            nin = 0;
            continue;
        }
        memset(out, 0, nout * sizeof *out);
        if (cmd == &spl_cmd_stats && known) {
            bool all = true; /* every column of the set is a BY field */
            for (size_t c = 0; c < nin && all; c++) {
                bool by = false;
                for (size_t k = 0; k < st->nby && !by; k++)
                    by = st->by[k].ref == (int)c;
                all = !in[c] || by;
            }
            st->unique = all;
        }
        if (cmd == &spl_cmd_tstats || cmd == &spl_cmd_stats) {
            for (size_t k = 0; k < st->nby && k < nout; k++)
                out[k] = true;
            known = true;
        } else if (!known) {
        } else if (cmd == &spl_cmd_rename || cmd == &spl_cmd_fields || cmd == &spl_cmd_table) {
            known = st->map && through_map(st, in, nin, out);
        } else if (cmd == &spl_cmd_eval || cmd == &spl_cmd_convert || cmd == &spl_cmd_eventstats ||
                   cmd == &spl_cmd_where || (cmd == &spl_cmd_search && !st->sub)) {
            /* the input columns stay where they are (new ones go after them) */
            memcpy(out, in, (nin < nout ? nin : nout) * sizeof *out);
            for (size_t k = 0; k < st->nevals && cmd == &spl_cmd_eval && known; k++)
                known = !writes(&st->evals[k].col, 1, in, nin);
            if (cmd == &spl_cmd_convert)
                known = !writes(st->cols2, st->nmap, in, nin);
            if (cmd == &spl_cmd_eventstats)
                known = !writes(st->cols2, st->naggs, in, nin);
        } else {
            known = false;
        }
        bool *t = in;
        in = out;
        out = t;
        nin = nout;
    }
}
