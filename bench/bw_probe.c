/* bw_probe.c — measured memory read bandwidth: sums a 1 GB float array with
 * every core (OpenMP), best of several passes, prints GB/s. The decode
 * benchmark divides bytes of weights per token by this figure. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    size_t bytes = (argc > 1 ? strtoull(argv[1], NULL, 10) : 1024) << 20, n = bytes / sizeof(float);
    float *a = aligned_alloc(64, n * sizeof(float));
    if (!a) return 1;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = (float)(i & 7);
    double best = 0, check = 0;
    for (int pass = 0; pass < 5; pass++) {
        double t0 = omp_get_wtime(), sum = 0;
#pragma omp parallel for schedule(static) reduction(+ : sum)
        for (size_t blk = 0; blk < n / 64; blk++) {
            float s[16] = {0};
            const float *p = a + blk * 64;
            for (int j = 0; j < 64; j += 16)
                for (int k = 0; k < 16; k++) s[k] += p[j + k];
            float t = 0;
            for (int k = 0; k < 16; k++) t += s[k];
            sum += t;
        }
        double gbs = bytes / (omp_get_wtime() - t0) / 1e9;
        if (gbs > best) best = gbs;
        check += sum;
    }
    printf("%.2f\n", best);
    fprintf(stderr, "bw_probe: %zu MB, %d threads, best %.2f GB/s (checksum %.0f)\n", bytes >> 20,
            omp_get_max_threads(), best, check);
    free(a);
    return 0;
}
