/* rename FIELD as NAME, ...: renames columns; '*' in FIELD captures text that '*' in NAME puts
 * back (`rename *_ip as ip_*`).
 *
 * Invariants: pairs apply in order, each to the names the previous ones left; a star takes the
 * shortest text that lets the rest of the pattern match; a column renamed onto an existing name
 * replaces that column; a rename to an empty name is skipped; values are moved, never copied.
 * Deliberately not done: renaming to a quoted name with spaces being checked against SPL's
 * quoting rules. */
#include <string.h>

#include "core/alloc.h"
#include "spl/cmd.h"

bool spl_parse_pairs(spl_parser *P, stage *st, const spl_pair_syntax *syn) {
    rename_pair tmp[ESC_SPL_MAX_RENAMES];
    size_t n = 0;
    while (!spl_at_end(P) && !(syn->stop && spl_kw_at(P, syn->stop, true))) {
        if (n == ESC_SPL_MAX_RENAMES) {
            spl_fail(P, P->pos, "%s", syn->too_many);
            return false;
        }
        size_t l1, s1, l2, s2;
        const char *from = spl_word(P, ",", &l1, &s1);
        if (!from || !spl_accept_kw(P, syn->kw, true)) {
            if (!P->failed)
                spl_fail(P, P->pos, "%s", from ? syn->no_kw : syn->no_from);
            return false;
        }
        const char *to = spl_word(P, ",", &l2, &s2);
        if (!to) {
            if (!P->failed)
                spl_fail(P, P->pos, "%s", syn->no_to);
            return false;
        }
        tmp[n] = (rename_pair){from, to, s1, P->pos};
        if (syn->check && !syn->check(P, &tmp[n]))
            return false;
        n++;
        spl_skip_ws(P);
        if (spl_peek(P) == ',')
            P->pos++;
    }
    if (!n) {
        spl_fail(P, st->start, "%s", syn->none);
        return false;
    }
    st->pairs = spl_alloc0(P, n * sizeof *tmp);
    if (!st->pairs)
        return false;
    memcpy(st->pairs, tmp, n * sizeof *tmp);
    st->npairs = n;
    return true;
}

/* A NAME with '*' has as many as its FIELD: each puts back what one captured. */
static bool stars_correspond(spl_parser *P, const rename_pair *pr) {
    size_t sf = 0, st = 0;
    for (const char *c = pr->from; *c; c++)
        sf += *c == '*';
    for (const char *c = pr->to; *c; c++)
        st += *c == '*';
    if (st && st != sf) {
        spl_fail(P, pr->start, "rename: wildcards of '%s' and '%s' do not correspond", pr->from,
                 pr->to);
        return false;
    }
    return true;
}

static bool parse_rename(spl_parser *P, stage *st) {
    static const spl_pair_syntax syn = {
        "as",
        NULL,
        "too many renames",
        "expected a field name",
        "expected 'as' in rename",
        "expected a new name after 'as'",
        "rename needs 'FIELD as NAME'",
        stars_correspond,
    };
    return spl_parse_pairs(P, st, &syn);
}

/* Match name against a pattern with '*' (case-sensitive), recording each star's text; a star
 * takes the shortest text that lets the rest match. A (star, position) that failed once is
 * remembered in dead, so the search costs at most stars * len^2 steps instead of len^stars,
 * and recursion goes one level per star. */
typedef struct capture_state {
    const char *p, *s;
    size_t slen;
    unsigned char *dead; /* bit j * (slen + 1) + i: star j cannot start at s[i] */
} capture_state;

static bool capture_from(const capture_state *c, const char *p, size_t si, esc_str *caps,
                         size_t j) {
    for (; *p && *p != '*'; p++, si++)
        if (si >= c->slen || *p != c->s[si])
            return false;
    if (!*p)
        return si == c->slen;
    size_t bit = j * (c->slen + 1) + si;
    if (c->dead[bit >> 3] & (1u << (bit & 7)))
        return false;
    for (size_t k = si; k <= c->slen; k++) {
        caps[j] = esc_str_make(c->s + si, k - si);
        if (capture_from(c, p + 1, k, caps, j + 1))
            return true;
    }
    c->dead[bit >> 3] |= (unsigned char)(1u << (bit & 7));
    return false;
}

/* caps has room for ns = stars(pat) <= 16 entries. ESC_ENOMEM when the memo cannot be made. */
static esc_status capture(const char *pat, size_t ns, const char *s, esc_str *caps, bool *out) {
    size_t slen = strlen(s), bits = (ns ? ns : 1) * (slen + 1);
    unsigned char *dead = esc_calloc((bits + 7) / 8, 1);
    if (!dead)
        return ESC_ENOMEM;
    capture_state c = {pat, s, slen, dead};
    *out = capture_from(&c, pat, 0, caps, 0);
    esc_free(dead);
    return ESC_OK;
}

static size_t stars(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += *s == '*';
    return n;
}

static esc_status plan_rename(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    size_t n = in->n;
    const char **names = esc_arena_alloc(&p->arena, (n ? n : 1) * sizeof *names);
    int *map = esc_arena_alloc(&p->arena, (n ? n : 1) * sizeof *map);
    bool *keep = esc_arena_alloc(&p->arena, (n ? n : 1) * sizeof *keep);
    if (!names || !map || !keep)
        return spl_plan_oom(err);
    for (size_t i = 0; i < n; i++) {
        names[i] = in->name[i];
        keep[i] = true;
    }
    for (size_t k = 0; k < st->npairs; k++) {
        rename_pair *rp = &st->pairs[k];
        size_t ns = stars(rp->from);
        esc_str caps[16];
        if (ns > 16)
            return esc_error_at(err, ESC_ECONTENT, NULL, rp->start, "too many wildcards");
        for (size_t i = 0; i < n; i++) {
            bool hit = false;
            if (keep[i] && capture(rp->from, ns, names[i], caps, &hit) != ESC_OK)
                return spl_plan_oom(err);
            if (!hit)
                continue;
            char buf[1024];
            size_t bl = 0, ci = 0;
            for (const char *t = rp->to; *t && bl + 1 < sizeof buf; t++) {
                if (*t == '*' && ci < ns) {
                    size_t cl = caps[ci].len;
                    if (bl + cl >= sizeof buf)
                        cl = sizeof buf - 1 - bl;
                    memcpy(buf + bl, caps[ci].ptr, cl);
                    bl += cl;
                    ci++;
                } else {
                    buf[bl++] = *t;
                }
            }
            buf[bl] = 0;
            if (bl == 0)
                continue;
            const char *nn = esc_arena_strdup(&p->arena, buf);
            if (!nn)
                return spl_plan_oom(err);
            /* a column already called that is replaced */
            for (size_t j = 0; j < n; j++)
                if (j != i && keep[j] && strcmp(names[j], nn) == 0)
                    keep[j] = false;
            names[i] = nn;
        }
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += keep[i];
    if (!spl_schema_alloc(p, &st->out, m))
        return spl_plan_oom(err);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        st->out.name[o] = names[i];
        st->out.mv[o] = in->mv[i];
        st->out.origin[o] = in->origin[i];
        map[o++] = (int)i;
    }
    st->map = map;
    st->nmap = m;
    return ESC_OK;
}

const spl_cmd spl_cmd_rename = {
    .name = "rename",
    .parse = parse_rename,
    .plan = plan_rename,
    .run = spl_run_remap,
};
