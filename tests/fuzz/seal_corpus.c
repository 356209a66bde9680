/* SPDX-License-Identifier: MIT */
/*
 * Writes the seed corpus of the sealed-datagram fuzz target: every file
 * of the gossip corpus sealed with the fixed keys of seal_keys.h (key a,
 * or key b for every other file), multi-datagram inputs datagram by
 * datagram; plus one plaintext datagram, one sealed for another cluster
 * and one 0xfe input (a plaintext the target seals itself).
 *
 *   seal_corpus GOSSIP_CORPUS_DIR OUT_DIR
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/seal.h>

#include "seal_keys.h"

static uint8_t in[1 << 20], out[1 << 20];

static size_t slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    size_t n;

    if (!f) {
        perror(path);
        exit(1);
    }
    n = fread(in, 1, sizeof in, f);
    fclose(f);
    return n;
}

static void put(const char *dir, const char *name, const uint8_t *b,
                size_t n)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f)) {
        perror(path);
        exit(1);
    }
}

static size_t seal(const crdt_keyring *kr, uint64_t cluster,
                   const uint8_t *d, size_t n, uint8_t *o, size_t cap)
{
    size_t m;

    if (crdt_seal(kr, cluster, d, n, o, cap, &m)) {
        fprintf(stderr, "seal_corpus: seal failed\n");
        exit(1);
    }
    return m;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    crdt_keyring *ka, *kb;
    DIR *d;
    struct dirent *e;
    char *names[256];
    size_t nn = 0, i;

    if (argc != 3) {
        fprintf(stderr, "usage: seal_corpus GOSSIP_CORPUS_DIR OUT_DIR\n");
        return 2;
    }
    ka = fs_keyring(NULL);
    kb = fs_keyring(NULL);
    if (!ka || !kb || crdt_keyring_set_primary(kb, FS_KEY_B))
        return 1;
    d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 1;
    }
    while ((e = readdir(d)) && nn < 256)
        if (e->d_name[0] != '.')
            names[nn++] = strdup(e->d_name);
    closedir(d);
    qsort(names, nn, sizeof *names, cmp);
    for (i = 0; i < nn; i++) {
        char path[1024], name[300];
        const crdt_keyring *kr = i % 2 ? kb : ka;
        size_t n, m;

        snprintf(path, sizeof path, "%s/%s", argv[1], names[i]);
        n = slurp(path);
        if (n > 0 && in[0] == 0xff) {
            size_t off = 1;

            out[0] = 0xff;
            m = 1;
            while (off + 2 <= n) {
                size_t k = (size_t)in[off] << 8 | in[off + 1], s;

                off += 2;
                if (k > n - off)
                    k = n - off;
                s = seal(kr, FS_CLUSTER, in + off, k, out + m + 2,
                         sizeof out - m - 2);
                out[m] = (uint8_t)(s >> 8);
                out[m + 1] = (uint8_t)s;
                m += 2 + s;
                off += k;
            }
        } else {
            m = seal(kr, FS_CLUSTER, in, n, out, sizeof out);
        }
        snprintf(name, sizeof name, "sealed-%s", names[i]);
        put(argv[2], name, out, m);
        if (i == 0) {
            put(argv[2], "plaintext", in, n);
            m = seal(ka, FS_CLUSTER + 1, in, n, out, sizeof out);
            put(argv[2], "other-cluster", out, m);
            out[0] = 0xfe;
            memcpy(out + 1, in, n);
            put(argv[2], "self-sealed", out, n + 1);
        }
        free(names[i]);
    }
    crdt_keyring_free(ka);
    crdt_keyring_free(kb);
    return 0;
}
