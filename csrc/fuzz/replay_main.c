/* replay_main.c - a main() for the fuzz targets built without -fsanitize=fuzzer: runs
 * LLVMFuzzerInitialize once, then LLVMFuzzerTestOneInput on the content of each file argument
 * (a directory argument replays every regular file in it, except notes: *.txt, *.md). Built under ASan/UBSan by
 * tests/test_fuzz_regressions.py to replay csrc/fuzz/regressions/ and a sample of the corpus. */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        fclose(f);
        return 1;
    }
    size_t got;
    while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return 1;
            }
            buf = nb, cap *= 2;
        }
    }
    fclose(f);
    /* an exact-size heap copy, so ASan catches reads one past the input */
    uint8_t *exact = malloc(len ? len : 1);
    if (exact == NULL) {
        free(buf);
        return 1;
    }
    memcpy(exact, buf, len);
    free(buf);
    fprintf(stderr, "replay %s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int is_note(const char *name) {
    size_t n = strlen(name);
    return (n > 4 && strcmp(name + n - 4, ".txt") == 0) || (n > 3 && strcmp(name + n - 3, ".md") == 0);
}

static int replay_path(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path);
    DIR *d = opendir(path);
    if (d == NULL) {
        perror(path);
        return 1;
    }
    int bad = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || is_note(e->d_name))
            continue;
        size_t n = strlen(path) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (p == NULL) {
            bad = 1;
            break;
        }
        snprintf(p, n, "%s/%s", path, e->d_name);
        struct stat es;
        if (stat(p, &es) == 0 && S_ISREG(es.st_mode))
            bad |= replay_file(p);
        free(p);
    }
    closedir(d);
    return bad;
}

int main(int argc, char **argv) {
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    int bad = 0;
    for (int i = 1; i < argc; i++)
        bad |= replay_path(argv[i]);
    fprintf(stderr, "replayed %d argument(s)\n", argc - 1);
    return bad;
}
