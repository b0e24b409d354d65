/* escudo risk: the risk events of the SQLite store (shares its implementation with
 * escudo notables, cmd_notables.c). */
#include "cli/cli.h"
#include "sink/store.h"

int esc_cli_store_list(esc_sink_kind kind, int argc, char **argv);

int esc_cmd_risk(int argc, char **argv) {
    return esc_cli_store_list(ESC_SINK_RISK, argc, argv);
}
