/* Raw bcrypt verifications a second with the C library's crypt_r ($2b$, libxcrypt's Openwall
 * crypt_blowfish), on THREADS threads at once: the C side of bench/run.sh's bcrypt comparison.
 * Usage: crypt-rate COST SECONDS [THREADS]. Prints `verifies_per_s=N threads=T cost=C`.
 * Built by bench/run.sh: gcc -O2 -pthread bench/crypt_rate.c -lcrypt */
#include <crypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *password = "bench-password";
static char hash[CRYPT_OUTPUT_SIZE];
static struct timespec deadline;

static int before_deadline(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec < deadline.tv_sec ||
           (now.tv_sec == deadline.tv_sec && now.tv_nsec < deadline.tv_nsec);
}

static void *worker(void *out) {
    struct crypt_data *data = calloc(1, sizeof *data);
    unsigned long n = 0;
    while (before_deadline()) {
        const char *h = crypt_r(password, hash, data);
        if (h && strcmp(h, hash) == 0) n++;
    }
    free(data);
    *(unsigned long *)out = n;
    return NULL;
}

int main(int argc, char **argv) {
    int cost = argc > 1 ? atoi(argv[1]) : 10;
    double seconds = argc > 2 ? atof(argv[2]) : 5.0;
    long threads = argc > 3 ? atol(argv[3]) : sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data data;
    memset(&data, 0, sizeof data);
    if (!crypt_gensalt_rn("$2b$", cost, NULL, 0, salt, sizeof salt)) {
        perror("crypt_gensalt_rn");
        return 2;
    }
    const char *h = crypt_r(password, salt, &data);
    if (!h || h[0] == '*') {
        fprintf(stderr, "crypt-rate: this libcrypt has no $2b$\n");
        return 2;
    }
    strncpy(hash, h, sizeof hash - 1);

    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    deadline = start;
    deadline.tv_sec += (time_t)seconds;
    deadline.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000L; }

    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    unsigned long *counts = calloc((size_t)threads, sizeof *counts);
    for (long i = 0; i < threads; i++) pthread_create(&tids[i], NULL, worker, &counts[i]);
    unsigned long total = 0;
    for (long i = 0; i < threads; i++) { pthread_join(tids[i], NULL); total += counts[i]; }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double elapsed = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    printf("verifies_per_s=%.1f threads=%ld cost=%d\n", (double)total / elapsed, threads, cost);
    return 0;
}
