/* ATT&CK: a tactic-by-technique grid. A technique's cell says whether it fired (notables,
 * hosts), else whether the loaded content can detect it with escudo (a detection naming it that
 * lint finds supported), else that the content names it but escudo cannot run any of its
 * detections.
 *
 * Tactics come from the content's technique-to-tactic table (esc_content_tactics, a
 * sub-technique falling back to its parent), else from the notable's own
 * annotations.mitre_attack.mitre_tactic; a technique with neither sits under "other". Invariants:
 * the columns follow ATT&CK's enterprise order; a technique is one cell per tactic it belongs
 * to. Deliberately not done: technique names (the content carries ids only), sub-technique
 * folding. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "report/model.h"

static const char *const TACTICS[] = {
    "reconnaissance",  "resource-development",
    "initial-access",  "execution",
    "persistence",     "privilege-escalation",
    "defense-evasion", "credential-access",
    "discovery",       "lateral-movement",
    "collection",      "command-and-control",
    "exfiltration",    "impact",
    "other",
};
#define NTAC (sizeof TACTICS / sizeof TACTICS[0])

typedef struct tech {
    const char *id;
    size_t fired, hosts, ndet, nsup;
    unsigned tac; /* bit per TACTICS entry */
    const char *dets[6];
    size_t ndets_named;
} tech;

typedef struct techs {
    tech *v;
    size_t n, cap;
} techs;

static tech *find(techs *t, const char *id) {
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].id, id) == 0)
            return &t->v[i];
    if (t->n == t->cap && !ESC_VEC_GROW(t->v, t->cap, t->n + 1, 64))
        return NULL;
    memset(&t->v[t->n], 0, sizeof *t->v);
    t->v[t->n].id = id;
    return &t->v[t->n++];
}

static unsigned tactic_bit(const char *name) {
    for (size_t i = 0; i + 1 < NTAC; i++)
        if (strcmp(TACTICS[i], name) == 0)
            return 1u << i;
    return 0;
}

static unsigned content_tactics(const esc_content *c, const char *id) {
    unsigned bits = 0;
    if (!c)
        return 0;
    esc_strlist l = esc_content_tactics(c, id);
    if (l.n == 0 && strchr(id, '.')) {
        char parent[32];
        size_t k = (size_t)(strchr(id, '.') - id);
        if (k < sizeof parent) {
            memcpy(parent, id, k);
            parent[k] = 0;
            l = esc_content_tactics(c, parent);
        }
    }
    for (size_t i = 0; i < l.n; i++)
        bits |= tactic_bit(l.v[i]);
    return bits;
}

static esc_status from_content(techs *t, const esc_report_opts *o) {
    const esc_content *c = o->content;
    for (size_t i = 0; c && i < c->ndetections; i++) {
        const esc_detection *d = &c->detections[i];
        bool sup = o->lint && i < o->lint->n && o->lint->v[i].det == d && o->lint->v[i].supported;
        for (size_t k = 0; k < d->mitre_attack_id.n; k++) {
            tech *x = find(t, d->mitre_attack_id.v[k]);
            if (!x)
                return ESC_ENOMEM;
            x->ndet++;
            x->nsup += sup;
            x->tac |= content_tactics(c, x->id);
            if (x->ndets_named < sizeof x->dets / sizeof x->dets[0])
                x->dets[x->ndets_named++] = d->name;
        }
    }
    return ESC_OK;
}

typedef struct pair {
    size_t tech;
    const char *host;
} pair;

static int cmp_pair(const void *a, const void *b) {
    const pair *x = a, *y = b;
    if (x->tech != y->tech)
        return x->tech < y->tech ? -1 : 1;
    return strcmp(x->host, y->host);
}

static esc_status from_notables(techs *t, const rpt_model *m, const esc_content *c) {
    size_t np = 0, cap = 0;
    pair *p = NULL;
    for (size_t i = 0; i < m->nn; i++) {
        const rpt_notable *n = &m->n[i];
        unsigned own = 0;
        for (size_t k = 0; k < n->ntactics; k++)
            own |= tactic_bit(n->tactics[k]);
        for (size_t k = 0; k < n->ntechs; k++) {
            tech *x = find(t, n->techs[k]);
            if (!x)
                goto nomem;
            x->fired++;
            unsigned ct = content_tactics(c, x->id);
            x->tac |= ct ? ct : own;
            if (np == cap && !ESC_VEC_GROW(p, cap, np + 1, 256))
                goto nomem;
            p[np++] = (pair){(size_t)(x - t->v), n->host};
        }
    }
    qsort(p, np, sizeof *p, cmp_pair);
    for (size_t i = 0; i < np; i++)
        t->v[p[i].tech].hosts += i == 0 || cmp_pair(&p[i], &p[i - 1]) != 0;
    esc_free(p);
    return ESC_OK;
nomem:
    esc_free(p);
    return ESC_ENOMEM;
}

static int cmp_tech(const void *a, const void *b) {
    return strcmp(((const tech *)a)->id, ((const tech *)b)->id);
}

static void cell(rpt_page *b, const tech *x) {
    const char *cls = x->fired ? "fired" : x->nsup ? "ok" : "no";
    rpt_printf(b, "<div class=\"t %s\" data-tech=\"", cls);
    rpt_text(b, x->id, 40);
    rpt_puts(b, "\" title=\"");
    for (size_t i = 0; i < x->ndets_named; i++) {
        rpt_puts(b, i ? "; " : "");
        rpt_text(b, x->dets[i], 120);
    }
    if (x->ndet > x->ndets_named)
        rpt_printf(b, "; %zu more", x->ndet - x->ndets_named);
    rpt_puts(b, "\"><b>");
    rpt_text(b, x->id, 40);
    rpt_puts(b, "</b><br>");
    if (x->fired)
        rpt_printf(b, "%zu fired &middot; %zu hosts", x->fired, x->hosts);
    else if (x->ndet)
        rpt_printf(b, "%zu of %zu detections run", x->nsup, x->ndet);
    rpt_puts(b, "</div>\n");
}

static void legend(rpt_page *b, const techs *t, const esc_report_opts *o) {
    size_t fired = 0, sup = 0, no = 0;
    for (size_t i = 0; i < t->n; i++) {
        fired += t->v[i].fired > 0;
        sup += !t->v[i].fired && t->v[i].nsup > 0;
        no += !t->v[i].fired && !t->v[i].nsup;
    }
    rpt_printf(b,
               "<p class=\"legend\"><span class=\"t fired\">fired</span> "
               "<span id=\"n-tech-fired\" data-count=\"%zu\">%zu</span> techniques fired; "
               "<span class=\"t ok\">detectable</span> %zu more the loaded content can "
               "detect with escudo; <span class=\"t no\">not run</span> %zu named by "
               "detections escudo cannot run (see escudo lint).</p>\n",
               fired, fired, sup, no);
    if (!o->content)
        rpt_puts(b, "<p class=\"muted\">No content was loaded: only the techniques of "
                    "the notables are shown.</p>\n");
    rpt_puts(b, "<p class=\"muted\">What the inputs can feed: the detections escudo "
                "runs read process creation events (Sysmon EventID 1, Security 4688, "
                "CrowdStrike ProcessRollup2)");
    if (o->run)
        rpt_printf(b, "; these inputs held %llu of them%s",
                   (unsigned long long)o->run->process_events,
                   o->run->process_events ? "" : ", so no detectable technique could fire");
    rpt_puts(b, ".</p>\n");
}

esc_status rpt_attack(rpt_page *b, const rpt_model *m, const esc_report_opts *o) {
    techs t = {0};
    esc_status st;
    rpt_puts(b, "<h2 id=\"attack\">ATT&amp;CK</h2>\n");
    if ((st = from_content(&t, o)) || (st = from_notables(&t, m, o->content))) {
        esc_free(t.v);
        return st;
    }
    qsort(t.v, t.n, sizeof *t.v, cmp_tech);
    legend(b, &t, o);
    rpt_puts(b, "<div class=\"grid\" id=\"attack-grid\">\n");
    for (size_t c = 0; c < NTAC; c++) {
        unsigned bit = c + 1 < NTAC ? 1u << c : 0;
        size_t n = 0;
        for (size_t i = 0; i < t.n; i++)
            n += bit ? (t.v[i].tac & bit) != 0 : t.v[i].tac == 0;
        if (!n)
            continue;
        rpt_printf(b, "<div class=\"tac\"><h3>%s (%zu)</h3>\n", TACTICS[c], n);
        for (int pass = 0; pass < 3; pass++) /* fired, detectable, not run */
            for (size_t i = 0; i < t.n; i++) {
                const tech *x = &t.v[i];
                int kind = x->fired ? 0 : x->nsup ? 1 : 2;
                if (kind == pass && (bit ? (x->tac & bit) != 0 : x->tac == 0))
                    cell(b, x);
            }
        rpt_puts(b, "</div>\n");
    }
    esc_free(t.v);
    return rpt_puts(b, "</div>\n");
}
