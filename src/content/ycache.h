/* Parsed content files kept between runs (content/ycache.c): parsing escu-full's 5.5 MB of YAML
 * with libyaml is most of a hunt's start-up. */
#ifndef ESC_CONTENT_YCACHE_H
#define ESC_CONTENT_YCACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "content/yaml_tree.h"

typedef struct esc_ycache esc_ycache;

/* The cache of the content set dirs (ndirs folders or files, in load order), read from the
 * folder esc_content_cache_use set; NULL when there is none (every get then misses). */
esc_ycache *esc_ycache_open(const char *const *dirs, size_t ndirs);
/* The tree of the YAML text (n bytes) when the cache holds it, read into a (true); else false.
 * key (65 bytes) is set for esc_ycache_put. */
bool esc_ycache_get(esc_ycache *c, const char *text, size_t n, size_t max_depth, esc_arena *a,
                    esc_ynode **root, char key[65]);
/* root, what esc_yaml_parse made of the text key was made of, kept for the cache. */
void esc_ycache_put(esc_ycache *c, const char key[65], const esc_ynode *root);
/* Files the trees this load used, when they differ from the ones read, and frees c. */
void esc_ycache_close(esc_ycache *c);

#endif
