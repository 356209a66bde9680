/* SPDX-License-Identifier: MIT */
/*
 * The registry of built-in types.  A file of its own, so that only a
 * program that asks for every built-in type links every built-in type.
 */
#include "config.h"

#include <crdt/dotctx.h>
#include <crdt/flag.h>
#include <crdt/gcounter.h>
#include <crdt/gset.h>
#include <crdt/lww.h>
#include <crdt/ormap.h>
#include <crdt/orset.h>
#include <crdt/mvreg.h>
#include <crdt/pncounter.h>
#include <crdt/type.h>
#include <crdt/vclock.h>

#include "type_internal.h"

int crdt_registry_add_builtins(crdt_registry *reg)
{
    const crdt_type *ts[] = {
        crdt_vclock_type(), crdt_dotctx_type(), crdt_gcounter_type(),
        crdt_pncounter_type(), crdt_lww_type(),
        crdt_ormap_type(),
        crdt_orset_type(), crdt_gset_type(),
        crdt_mvreg_type(),
        crdt_ewflag_type(), crdt_dwflag_type(),
    };

    return crdtp_registry_add_all(reg, ts, sizeof ts / sizeof ts[0]);
}
