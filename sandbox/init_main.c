/* sandq-init: the sandbox's pid 1 as a program of its own (see
 * init_proto.h). */
#include "init_proto.h"

int
main (void)
{
  sbx_init_run ();
}
