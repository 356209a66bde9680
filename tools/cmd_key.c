/* SPDX-License-Identifier: MIT */
/*
 * crdt keygen: prints a new key for sealed gossip datagrams
 * (crdt_seal_key_generate, <crdt/seal.h>), as the one line a key file
 * holds.  Writes only to stdout, so that the caller's umask and
 * redirection decide the file and its mode.
 *
 * Exit status: 0 done, 1 the random source or stdout failed, 2 a usage
 * error.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <crdt/seal.h>

#include "cli.h"

/* Overwrites n bytes at p in a way the compiler keeps. */
static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;

    while (n--)
        *v++ = 0;
}

static int run_keygen(const command *c, opts *o)
{
    char line[CRDT_SEAL_KEY_TEXT_BYTES + 1];
    uint8_t key[CRDT_SEAL_KEY_BYTES];
    uint32_t id;
    int rv, status = 0;

    (void)c;
    (void)o;
    rv = crdt_seal_key_generate(&id, key, line, sizeof line);
    wipe(key, sizeof key);
    if (rv)
        return fail(EXIT_INPUT, "%s", crdt_strerror(rv));
    if (fputs(line, stdout) == EOF || fflush(stdout) != 0)
        status = fail(EXIT_INPUT, "stdout: %s", strerror(errno));
    wipe(line, sizeof line);
    return status;
}

const command cmd_keygen = {
    .name = "keygen",
    .synopsis = "",
    .summary = "print a new key for sealed gossip datagrams",
    .run = run_keygen,
    .applies = OP_NONE,
    .optmask = 0,
    .min_pos = 0,
    .max_pos = 0,
    .usage = "",
    .help =
        "Prints a new random key and key id for sealed gossip datagrams\n"
        "(XChaCha20-Poly1305, <crdt/seal.h>) as the one line of a key file:\n"
        "\n"
        "  crdt-key v1 <key id: 8 hex digits> <key: 64 hex digits>\n"
        "\n"
        "crdt_keyring_add_text reads it.  The key is a secret: keep the file\n"
        "readable by its owner only, e.g.\n"
        "\n"
        "  (umask 077; crdt keygen > cluster.key)\n",
};
