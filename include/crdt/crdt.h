/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/crdt.h
 * Includes every public libcrdt header.  The library's own sources never
 * include this file; applications may include just the headers they use.
 */
#ifndef CRDT_CRDT_H
#define CRDT_CRDT_H

#include <crdt/common.h>
#include <crdt/codec.h>
#include <crdt/type.h>
#include <crdt/vclock.h>
#include <crdt/dotctx.h>
#include <crdt/gcounter.h>
#include <crdt/pncounter.h>
#include <crdt/hlc.h>
#include <crdt/lww.h>
#include <crdt/ormap.h>
#include <crdt/gset.h>
#include <crdt/orset.h>
#include <crdt/mvreg.h>
#include <crdt/flag.h>
#include <crdt/causal.h>

#endif /* CRDT_CRDT_H */
