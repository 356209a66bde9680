/* SPDX-License-Identifier: MIT */
/* libFuzzer target for crdt_dwflag_decode; the oracle is fuzz_common.h. */
#include "fuzz_common.h"

const char fuzz_type_name[] = "dwflag";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_one(fuzz_type_name, data, size);
}
