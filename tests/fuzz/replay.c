/* SPDX-License-Identifier: MIT */
/*
 * Replays inputs through a fuzz target without libFuzzer, so that the seed
 * corpus and every crash regression input run in each `make check` (and
 * under ASan/UBSan in CI).  Linked with one fuzz_<type>.c as
 * tests/fuzz/replay_<type>.
 *
 *   replay_<type> [FILE|DIR]...
 *
 * runs the target on each FILE and on each regular file in each DIR.
 * Without arguments it replays $srcdir/tests/fuzz/corpus/<type> and
 * $srcdir/tests/fuzz/regress/<type> ($srcdir defaults to "."; a missing
 * regress directory is fine).  Inputs of at most PREFIX_MAX bytes are also
 * run truncated to every shorter length.  A failed oracle aborts; a clean
 * run prints the number of inputs and exits 0.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FUZZ_DECLARATIONS_ONLY
#include "fuzz_common.h"

#define PREFIX_MAX 4096

static unsigned long n_files, n_runs;

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, n, cut;

    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (cap - len < 4096) {
            uint8_t *p = realloc(buf, cap + 65536);

            if (!p) {
                fprintf(stderr, "replay: %s: out of memory\n", path);
                free(buf);
                fclose(f);
                return -1;
            }
            buf = p;
            cap += 65536;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "replay: %s: read error\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    n_files++;
    /* Truncations first: if the oracle aborts, the last line printed
     * names the file. */
    fprintf(stderr, "replay %s: %s (%zu bytes)\n", fuzz_type_name, path, len);
    if (len <= PREFIX_MAX) {
        for (cut = 0; cut < len; cut++) {
            /* A copy of exactly cut bytes, so ASan sees any over-read. */
            uint8_t *p = malloc(cut ? cut : 1);

            if (!p)
                return -1;
            memcpy(p, buf, cut);
            LLVMFuzzerTestOneInput(p, cut);
            free(p);
            n_runs++;
        }
    }
    LLVMFuzzerTestOneInput(buf, len);
    n_runs++;
    free(buf);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir, in name order; missing dirs are fine
 * only when optional. */
static int run_dir(const char *dir, int optional)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    int rv = 0;

    if (!d) {
        if (optional && errno == ENOENT)
            return 0;
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d))) {
        size_t need = strlen(dir) + strlen(e->d_name) + 2;
        struct stat st;
        char *path;

        if (e->d_name[0] == '.')
            continue;
        path = malloc(need);
        if (!path) {
            rv = -1;
            break;
        }
        snprintf(path, need, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (n == cap) {
            char **p = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *p);

            if (!p) {
                free(path);
                rv = -1;
                break;
            }
            names = p;
        }
        names[n++] = path;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (i = 0; i < n; i++) {
        if (rv == 0 && run_file(names[i]) != 0)
            rv = -1;
        free(names[i]);
    }
    free(names);
    return rv;
}

static int run_path(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return S_ISDIR(st.st_mode) ? run_dir(path, 0) : run_file(path);
}

int main(int argc, char **argv)
{
    int i, rv = 0;

    if (argc > 1) {
        for (i = 1; i < argc && rv == 0; i++)
            rv = run_path(argv[i]);
    } else {
        const char *src = getenv("srcdir");
        char path[4096];

        if (!src || !*src)
            src = ".";
        snprintf(path, sizeof path, "%s/tests/fuzz/corpus/%s", src,
                 fuzz_type_name);
        rv = run_dir(path, 0);
        snprintf(path, sizeof path, "%s/tests/fuzz/regress/%s", src,
                 fuzz_type_name);
        if (rv == 0)
            rv = run_dir(path, 1);
    }
    if (rv == 0 && n_files == 0) {
        fprintf(stderr, "replay %s: no inputs\n", fuzz_type_name);
        rv = -1;
    }
    if (rv != 0)
        return EXIT_FAILURE;
    printf("replay %s: %lu files, %lu runs (with truncations), all passed "
           "the oracle\n",
           fuzz_type_name, n_files, n_runs);
    return EXIT_SUCCESS;
}
