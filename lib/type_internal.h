/* SPDX-License-Identifier: MIT */
#ifndef CRDT_TYPE_INTERNAL_H
#define CRDT_TYPE_INTERNAL_H

#include <crdt/type.h>

/* Adds n descriptors, all or none. */
int crdtp_registry_add_all(crdt_registry *reg, const crdt_type *const *ts,
                           size_t n);

#endif
