/* Internal to src/spl/: eval values and the table of eval functions.
 *
 * An eval function is one static C function in a family file (eval_fn_text.c: strings;
 * eval_fn_mv.c: multivalue; eval_fn_cond.c: conditions, null and types; eval_fn_num.c:
 * numbers; eval_fn_time.c: times) and one line in that file's table:
 *
 *   {"lower", 1, 1, fn_lower},              name (matched ASCII case-insensitively), arity
 *
 * An eager function (.call) gets its arguments evaluated, a[0..na), and fills *out (zeroed on
 * entry; leave it zeroed for null); it returns false only when memory ran out, and does not
 * free a[]. A lazy function (.lazy) evaluates its own arguments with spl_eval_arg (if, case,
 * coalesce). .check, when set, runs at plan time after the arity check (a pattern argument is
 * compiled there). A new family is one more file and one line in eval.c's family list.
 * Arity is at most ESC_SPL_MAX_ARGS: the parser allows no more arguments. */
#ifndef ESC_SPL_EVAL_H
#define ESC_SPL_EVAL_H

#include <string.h>

#include "spl/ast.h"

typedef enum vtype { V_NULL, V_BOOL, V_NUM, V_STR, V_MV } vtype;

typedef struct val {
    vtype t;
    bool b;
    bool borrowed; /* V_STR: s is a row cell's or the expression's own text, not owned: it
                      outlives the value, and is neither written nor freed (spl_vfree) */
    double num;
    char *s; /* V_STR: owned unless borrowed, NUL-terminated */
    size_t len;
    char **mv; /* V_MV (owned) */
    size_t n;
} val;

/* The row an expression is evaluated on. */
typedef struct eval_row {
    const esc_cell *cells;
    size_t ncols;
} eval_row;

typedef struct spl_eval_fn {
    const char *name;
    size_t min, max; /* arity */
    bool (*call)(const enode *e, val *a, size_t na, val *out);
    bool (*lazy)(const enode *e, const eval_row *row, val *out);
    esc_status (*check)(enode *e, esc_error *err);
} spl_eval_fn;

/* The families (each table ends with a {NULL} entry). */
extern const spl_eval_fn spl_eval_fns_text[];
extern const spl_eval_fn spl_eval_fns_mv[];
extern const spl_eval_fn spl_eval_fns_cond[];
extern const spl_eval_fn spl_eval_fns_num[];
extern const spl_eval_fn spl_eval_fns_time[];

/* now(): the UNIX second the running search is for (spl_eval_set_now, exec.c, sets it per
 * thread before a pipeline runs). */
int64_t spl_eval_now(void);
void spl_eval_set_now(int64_t sec);

/* ---- values (eval.c) ---- */

/* Evaluate e on the row into *out; false only on allocation failure. */
bool spl_eval_arg(const enode *e, const eval_row *row, val *out);
void spl_vfree(val *v);
bool spl_vstr(val *v, const char *s, size_t n); /* copies; false when out of memory */
void spl_vnum(val *v, double x);                /* null when x is not finite */
void spl_vbool(val *v, bool b);
/* Text of a scalar (a number formatted into buf, cap >= 64); false for null/multivalue. */
bool spl_as_text(const val *v, char *buf, size_t cap, const char **s, size_t *n);
/* A number, or number-like text (trimmed); false otherwise. */
bool spl_as_num(const val *v, double *out);

/* Values of v as a list of strings (a scalar: one), for multivalue-aware functions. The
 * length of item i is strlen for a multivalue, else tmp->l[0]. */
typedef struct vlist {
    const char *s[1];
    size_t l[1];
    char buf[64];
} vlist;
size_t spl_items(const val *v, vlist *tmp, const char *const **s);
static inline size_t spl_item_len(const val *v, const vlist *tmp, const char *item) {
    return v->t == V_MV ? strlen(item) : tmp->l[0];
}

/* out takes v[0..n) (owned): null for none, a string for one, else a multivalue. */
bool spl_set_mv(val *out, char **v, size_t n);
/* A position or count from a number: truncated toward zero, NaN as 0, within 2^53. */
long spl_to_long(double v);

/* ---- patterns (eval.c) ---- */

/* The regex of a call's pattern argument: the one compiled at plan time, or compiled from the
 * value pat (*owned: the caller frees it). like: SQL LIKE (% and _) instead of PCRE. */
pcre2_code *spl_call_re(const enode *e, const val *pat, bool like, bool *owned);
/* Does re match s[0..n)? *ok false when matching ran out of memory. */
bool spl_re_matches(const pcre2_code *re, const char *s, size_t n, bool *ok);
/* .check of match() and replace() (PCRE), like() (SQL LIKE): compile a literal pattern in
 * argument 1 once. */
esc_status spl_check_regex(enode *e, esc_error *err);
esc_status spl_check_like(enode *e, esc_error *err);

#endif
