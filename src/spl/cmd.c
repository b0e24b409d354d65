/* The registry of SPL commands: the descriptors of SPL_COMMANDS (cmd.h) in one table, and the
 * lookup of a command word.
 *
 * Invariants: names are unique and matched case-sensitively, as Splunk does; the table is
 * constant. Deliberately not done: aliases (a second name is a second descriptor line in the
 * command's file) and any registration at run time. */
#include <string.h>

#include "spl/cmd.h"

#define ENTRY(name) &spl_cmd_##name,
static const spl_cmd *const commands[] = {SPL_COMMANDS(ENTRY)};
#undef ENTRY

const spl_cmd *spl_cmd_find(const char *name, size_t len) {
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (strlen(commands[k]->name) == len && strncmp(commands[k]->name, name, len) == 0)
            return commands[k];
    return NULL;
}
