/* SPDX-License-Identifier: MIT */
/*
 * crdt-node: a replica of a libcrdt-gossip store on real sockets.
 * (Under construction: the modules land one by one; see node.h.)
 */
#include "config.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("usage: crdt-node keygen | crdt-node --name NAME --listen HOST:PORT "
          "--data DIR --key-file FILE ...\n", stderr);
    return 2;
}
