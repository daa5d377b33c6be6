/* Sorting a xorshift64 sequence (constant seed) three ways; all must agree. */
#include "libc.h"

#define N 1000
static uint64_t orig[N], a[N], b[N], c[N];

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t xorshift64(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void insertion_sort(uint64_t *v, long n) {
  for (long i = 1; i < n; i++) {
    uint64_t x = v[i];
    long j = i - 1;
    for (; j >= 0 && v[j] > x; j--) v[j + 1] = v[j];
    v[j + 1] = x;
  }
}

static void quicksort(uint64_t *v, long lo, long hi) { /* Hoare partition, inclusive bounds */
  while (lo < hi) {
    uint64_t p = v[lo + (hi - lo) / 2];
    long i = lo - 1, j = hi + 1;
    for (;;) {
      do i++; while (v[i] < p);
      do j--; while (v[j] > p);
      if (i >= j) break;
      uint64_t t = v[i];
      v[i] = v[j];
      v[j] = t;
    }
    if (j - lo < hi - j) { /* recurse on the smaller side to bound the depth */
      quicksort(v, lo, j);
      lo = j + 1;
    } else {
      quicksort(v, j + 1, hi);
      hi = j;
    }
  }
}

static void sift_down(uint64_t *v, long i, long n) {
  for (;;) {
    long k = 2 * i + 1;
    if (k >= n) return;
    if (k + 1 < n && v[k + 1] > v[k]) k++;
    if (v[i] >= v[k]) return;
    uint64_t t = v[i];
    v[i] = v[k];
    v[k] = t;
    i = k;
  }
}

static void heapsort(uint64_t *v, long n) {
  for (long i = n / 2 - 1; i >= 0; i--) sift_down(v, i, n);
  for (long end = n - 1; end > 0; end--) {
    uint64_t t = v[0];
    v[0] = v[end];
    v[end] = t;
    sift_down(v, 0, end);
  }
}

static uint64_t checksum(const uint64_t *v, long n) {
  uint64_t h = 0;
  for (long i = 0; i < n; i++) h = (h ^ v[i]) * 0x100000001b3u + (uint64_t)i;
  return h;
}

int main(void) {
  for (long i = 0; i < N; i++) orig[i] = xorshift64() % 100000; /* with duplicates */
  memcpy(a, orig, sizeof a);
  memcpy(b, orig, sizeof b);
  memcpy(c, orig, sizeof c);
  insertion_sort(a, N);
  quicksort(b, 0, N - 1);
  heapsort(c, N);
  long sorted = 1;
  for (long i = 1; i < N; i++) sorted &= a[i - 1] <= a[i];
  printf("unsorted checksum %lx\n", checksum(orig, N));
  printf("sorted %s, insertion %lx quick %lx heap %lx\n", sorted ? "yes" : "NO", checksum(a, N),
         checksum(b, N), checksum(c, N));
  printf("agree: %s\n", !memcmp(a, b, sizeof a) && !memcmp(a, c, sizeof a) ? "yes" : "NO");
  printf("min %lu median %lu max %lu\n", a[0], a[N / 2], a[N - 1]);
  return 0;
}
