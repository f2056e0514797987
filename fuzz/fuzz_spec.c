/* Fuzz target: the job spec parser (hostile JSON from Redis). */
#include <stddef.h>
#include <stdint.h>

#include "../common/spec.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct sq_spec_policy pol;
  struct sq_spec s;
  sq_err err = { 0 };

  sq_spec_policy_default (&pol);
  if (sq_spec_parse ((const char *) data, size, &pol, &s, &err) == 0)
    {
      /* What parses must serialize and parse back the same. */
      char *json = sq_spec_to_json (&s);
      struct sq_spec again;
      if (!json || sq_spec_parse (json, __builtin_strlen (json), &pol, &again, &err) < 0)
        __builtin_trap ();
      if (again.argc != s.argc || again.nenv != s.nenv)
        __builtin_trap ();
      sq_spec_free (&again);
      __builtin_free (json);
      sq_spec_free (&s);
    }
  return 0;
}
