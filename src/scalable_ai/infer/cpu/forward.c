/*
 * The whole forward pass of a dense Llama-family decoder for CPU inference, in one call.
 *
 * Why C: on a 2-core CPU a SmolLM2-135M decode step is ~5 ms of matrix products but ~20 ms
 * of per-operator and interpreter overhead when driven op by op from Python (30 layers x
 * ~25 torch ops). llama.cpp (ggml) and vLLM's CPU backend both run the step as one native
 * program; this file does the same for our model family only, and keeps the PyTorch
 * definition (model/transformer.py) as the reference it is tested against.
 *
 * What it computes, per step of T tokens from any mix of sequences (continuous batching):
 *   x = embed[token]                                     (f32 residual stream)
 *   per layer: h = rmsnorm(x) -> qkv = h Wqkv^T -> RoPE(q, k) -> K/V written to their
 *              paged-cache slots -> each query attends causally over its own sequence's
 *              cached keys (block table, PagedAttention, Kwon et al. 2023) -> x += o Wo^T
 *              h = rmsnorm(x) -> x += (silu(h Wg^T) * h Wu^T) Wd^T
 *   logits = rmsnorm(x[rows]) Wlm^T                       (f32, only the sampling rows)
 *
 * Numerics: weights and KV cache are bf16, activations entering a matrix product are rounded
 * to bf16 (as a bf16 PyTorch model does), products accumulate in f32, the residual stream,
 * norms, RoPE, softmax and SiLU stay in f32. Every row is computed with the same operations
 * in the same order whatever else is in the step (the matrix tiles fix the k-order per
 * output; threads split output columns, never the k dimension), so batched results equal
 * unbatched ones bit for bit.
 *
 * Matrix products use AVX512-BF16 `vdpbf16ps` (two bf16 products per f32 lane per
 * instruction) where the compiler targets it, AVX2 FMAs on widened bf16 otherwise, and a
 * portable scalar path on other CPUs. Threads
 * come from a small pool owned by each model handle; all threads walk the same layer program
 * (ggml's scheme), claiming chunks of each operation, so a step costs one wake-up.
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

typedef uint16_t bf16;

static inline float bf16_to_f32(bf16 h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline bf16 f32_to_bf16(float f) { /* round to nearest even, as torch does */
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (bf16)(u >> 16);
}

/* ---------------------------------------------------------------- thread pool */
/* Work is handed out dynamically: every operation of a step is cut into chunks that threads
 * claim with an atomic counter, and a thread that finds none left waits until the claimed
 * ones are done. On a 2-core machine that also runs the server's event loop and a load
 * generator, a worker is often descheduled; with static halves the whole step would wait for
 * it at every barrier, with claimed chunks the running thread simply does more of the work.
 * A worker that wakes after the main thread has finished the step never joins it. */
typedef void (*job_fn)(void *arg, int ith, int nth);

typedef struct {
    int nth;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int generation;
    int open_generation; /* the job workers may still join; -1 once closed (under mu) */
    int joined;          /* workers that joined the open job (under mu) */
    atomic_int left;     /* joined workers that have finished it */
    int stop;
    job_fn fn;
    void *arg;
} pool_t;

typedef struct {
    pool_t *pool;
    int ith;
} worker_arg_t;

/* How long an idle worker spins for the next step before it sleeps on the condition
 * variable. Spinning saves a futex wake-up per step, but on a machine with more runnable
 * threads than cores (the server's event loop, a load generator, other jobs) a spinning
 * worker steals the core the engine thread needs: measured on the shared 2-core box
 * (2026-11-26, alternating settings in one process), 0-100 us gave 12 ms single-token steps,
 * 1 ms gave 13 ms and 5 ms gave 16 ms (40 vs 44 ms at 16 rows). */
static const long spin_before_sleep_ns = 100000;

static inline long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

#define SPIN_BEFORE_YIELD 2000

static void *worker_main(void *raw) {
    worker_arg_t *w = (worker_arg_t *)raw;
    pool_t *p = w->pool;
    int seen = 0;
    for (;;) {
        int spins = 0;
        long since = now_ns();
        while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen) {
            if ((++spins & 255) || now_ns() - since < spin_before_sleep_ns) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&p->mu);
            while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen && !p->stop)
                pthread_cond_wait(&p->cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
            break;
        }
        pthread_mutex_lock(&p->mu);
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        int join = !p->stop && p->open_generation == seen;
        if (join) p->joined++;
        job_fn fn = p->fn;
        void *arg = p->arg;
        int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop) break;
        if (join) {
            fn(arg, w->ith, p->nth);
            atomic_fetch_add_explicit(&p->left, 1, memory_order_acq_rel);
        }
    }
    free(w);
    return NULL;
}

static pool_t *pool_new(int nth) {
    pool_t *p = (pool_t *)calloc(1, sizeof(pool_t));
    p->nth = nth < 1 ? 1 : nth;
    p->open_generation = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = (pthread_t *)calloc((size_t)p->nth, sizeof(pthread_t));
    for (int i = 1; i < p->nth; i++) {
        worker_arg_t *w = (worker_arg_t *)malloc(sizeof(worker_arg_t));
        w->pool = p;
        w->ith = i;
        pthread_create(&p->threads[i], NULL, worker_main, w);
    }
    return p;
}

static void pool_free(pool_t *p) {
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_acq_rel);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->nth; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}

/* Run fn(arg, ith, nth) on the calling thread (ith 0) and on whichever workers join in time. */
static void pool_run(pool_t *p, job_fn fn, void *arg) {
    if (p->nth > 1) {
        pthread_mutex_lock(&p->mu);
        p->fn = fn;
        p->arg = arg;
        p->joined = 0;
        atomic_store_explicit(&p->left, 0, memory_order_release);
        int generation = atomic_load_explicit(&p->generation, memory_order_acquire) + 1;
        p->open_generation = generation;
        atomic_store_explicit(&p->generation, generation, memory_order_release);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    fn(arg, 0, p->nth);
    if (p->nth > 1) {
        pthread_mutex_lock(&p->mu);
        p->open_generation = -1;
        int joined = p->joined;
        pthread_mutex_unlock(&p->mu);
        int spins = 0;
        while (atomic_load_explicit(&p->left, memory_order_acquire) < joined) {
            if (++spins < SPIN_BEFORE_YIELD) cpu_relax(); else sched_yield();
        }
    }
}

/* One operation's chunks: claimed in order, counted when done (its own cache line). */
typedef struct {
    atomic_int next;
    atomic_int done;
    char pad[56];
} op_t;

static inline int claim(op_t *op, int total) {
    int c = atomic_fetch_add_explicit(&op->next, 1, memory_order_relaxed);
    return c < total ? c : -1;
}

static void wait_done(op_t *op, int total) {
    int spins = 0;
    while (atomic_load_explicit(&op->done, memory_order_acquire) < total) {
        if (++spins < SPIN_BEFORE_YIELD) cpu_relax(); else sched_yield();
    }
}

/* for (each chunk c of the current operation claimed by this thread) { body } then wait. */
#define PARALLEL(total, c)                                                 \
    for (int c, total_ = (total); (c = claim(&ops[op], total_)) >= 0;       \
         atomic_fetch_add_explicit(&ops[op].done, 1, memory_order_release))
#define SYNC(total) wait_done(&ops[op++], (total))

/* ---------------------------------------------------------------- vector helpers */
#if defined(__AVX512F__)
/* exp(x) for f32 lanes: 2^n * e^r, n = round(x / ln 2), |r| <= ln2/2, degree-6 Taylor for
 * e^r (relative error ~1e-7, below f32 rounding of the results we use it for). */
static inline __m512 exp512(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
    __m512 e = _mm512_set1_ps(1.0f / 720.0f);
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(1.0f / 120.0f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(1.0f / 24.0f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(1.0f / 6.0f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(0.5f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(1.0f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(e, n);
}

static inline __m512 load_bf16x16(const bf16 *p) {
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

static inline __m256i to_bf16x16(__m512 v) { /* round to nearest even */
    __m512i u = _mm512_castps_si512(v);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    u = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(u, 16));
}
#endif

static void to_bf16_row(const float *x, bf16 *out, int n) {
    int i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(out + i), to_bf16x16(_mm512_loadu_ps(x + i)));
#endif
    for (; i < n; i++) out[i] = f32_to_bf16(x[i]);
}

static void rmsnorm_row(const float *x, const float *w, int n, float eps, bf16 *out) {
    int i = 0;
    float ss = 0.0f;
#if defined(__AVX512F__)
    __m512 acc = _mm512_setzero_ps();
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        acc = _mm512_fmadd_ps(v, v, acc);
    }
    ss = _mm512_reduce_add_ps(acc);
#endif
    for (; i < n; i++) ss += x[i] * x[i];
    float scale = 1.0f / sqrtf(ss / n + eps);
    i = 0;
#if defined(__AVX512F__)
    __m512 sv = _mm512_set1_ps(scale);
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(out + i),
                            to_bf16x16(_mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), sv),
                                                     _mm512_loadu_ps(w + i))));
#endif
    for (; i < n; i++) out[i] = f32_to_bf16(x[i] * scale * w[i]);
}

/* ---------------------------------------------------------------- matrix products */
/* Weights are packed once (sai_pack_weight) into panels of 16 output columns, k-pair major:
 * panel p holds W[16p + c][2i + r] at offset (i * 16 + c) * 2 + r, i < Kp/2 (Kp = K rounded
 * up to even, missing rows and columns zero). One 64-byte load is then 16 columns x one
 * k-pair, exactly the operand `vdpbf16ps` multiplies against a broadcast pair of activations
 * (the "VNNI" layout oneDNN and ggml use), so products need no horizontal reductions. */
#define PANEL 16

static inline int32_t pair_at(const bf16 *a, int K, int i) {
    int32_t v = 0;
    if (2 * i + 1 < K) memcpy(&v, a + 2 * i, 4);
    else memcpy(&v, a + 2 * i, 2); /* odd K: the pair's second half is zero */
    return v;
}

#if defined(__AVX512BF16__)
/* out rows m..m+MB-1, columns of NBV panels starting at panel p, over all k. */
static inline __attribute__((always_inline)) void tile_bf16(
    const bf16 *x, int K, const bf16 *Wp, int p, int m, int MB, int NBV, int N, float *out,
    int ldo, int add, const bf16 *pf) {
    int pairs = (K + 1) / 2;
    __m512 acc[6][4];
    for (int j = 0; j < MB; j++)
        for (int v = 0; v < NBV; v++) acc[j][v] = _mm512_setzero_ps();
    const bf16 *w = Wp + (size_t)p * pairs * 2 * PANEL;
    const size_t panel = (size_t)pairs * 2 * PANEL;
    const bf16 *a = x + (size_t)m * K;
    for (int i = 0; i < pairs; i++) {
        __m512i wv[4];
        if (pf) /* the next chunk's weights, one line per panel per k-pair: on their way from
                 * DRAM while this chunk computes (the hardware prefetcher alone lags) */
            for (int v = 0; v < 4; v++) _mm_prefetch((const char *)(pf + ((size_t)i * 4 + v) * 32), _MM_HINT_T1);
        for (int v = 0; v < NBV; v++)
            wv[v] = _mm512_loadu_si512((const void *)(w + v * panel + (size_t)i * 2 * PANEL));
        for (int j = 0; j < MB; j++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32(pair_at(a + (size_t)j * K, K, i));
            for (int v = 0; v < NBV; v++)
                acc[j][v] = _mm512_dpbf16_ps(acc[j][v], (__m512bh)wv[v], av);
        }
    }
    for (int j = 0; j < MB; j++) {
        float *o = out + (size_t)(m + j) * ldo;
        for (int v = 0; v < NBV; v++) {
            int n = (p + v) * PANEL;
            __mmask16 mask = N - n >= PANEL ? (__mmask16)0xffff : (__mmask16)((1u << (N - n)) - 1);
            __m512 r = acc[j][v];
            if (add) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mask, o + n));
            _mm512_mask_storeu_ps(o + n, mask, r);
        }
    }
}

#define TILE(MB, NBV) tile_bf16(x, K, Wp, p, m, MB, NBV, N, out, ldo, add, m == 0 ? pf : NULL)
#define ROWS(NBV)                                        \
    switch (MB) {                                        \
        case 6: TILE(6, NBV); break;                     \
        case 5: TILE(5, NBV); break;                     \
        case 4: TILE(4, NBV); break;                     \
        case 3: TILE(3, NBV); break;                     \
        case 2: TILE(2, NBV); break;                     \
        default: TILE(1, NBV); break;                    \
    }
static void gemm_bf16(const bf16 *x, int M, int K, const bf16 *Wp, int N, int p0, int p1,
                      float *out, int ldo, int add, const bf16 *pf) {
    /* Each group of 4 panels (64 columns, <= 200 KB of weights) stays in L2 while every
     * 6-row tile of the activations passes over it. */
    for (int p = p0; p < p1; p += 4) {
        int NBV = p1 - p < 4 ? p1 - p : 4;
        for (int m = 0; m < M; m += 6) {
            int MB = M - m < 6 ? M - m : 6;
            if (NBV == 4) { ROWS(4) }
            else if (NBV == 3) { ROWS(3) }
            else if (NBV == 2) { ROWS(2) }
            else { ROWS(1) }
        }
    }
}
#undef ROWS
#undef TILE
#elif defined(__AVX2__) && defined(__FMA__)
/* AVX2 without bf16 arithmetic: a 32-byte load is 8 columns x one k-pair; the k-pair's even
 * (low) halves become f32 by a shift, the odd (high) halves by a mask, and two FMAs add both
 * products. Tiles of 4 rows x one panel (8 accumulators of the 16 registers). */
static inline __attribute__((always_inline)) void tile_avx2(
    const float *xf, int K, const bf16 *Wp, int p, int m, int MB, int N, float *out, int ldo,
    int add) {
    int pairs = (K + 1) / 2;
    __m256 acc[4][2];
    for (int j = 0; j < MB; j++) acc[j][0] = acc[j][1] = _mm256_setzero_ps();
    const bf16 *w = Wp + (size_t)p * pairs * 2 * PANEL;
    const __m256i high = _mm256_set1_epi32((int)0xffff0000u);
    for (int i = 0; i < pairs; i++) {
        __m256i lo = _mm256_loadu_si256((const __m256i *)(w + (size_t)i * 2 * PANEL));
        __m256i hi = _mm256_loadu_si256((const __m256i *)(w + (size_t)i * 2 * PANEL + PANEL));
        __m256 lo0 = _mm256_castsi256_ps(_mm256_slli_epi32(lo, 16));
        __m256 lo1 = _mm256_castsi256_ps(_mm256_and_si256(lo, high));
        __m256 hi0 = _mm256_castsi256_ps(_mm256_slli_epi32(hi, 16));
        __m256 hi1 = _mm256_castsi256_ps(_mm256_and_si256(hi, high));
        for (int j = 0; j < MB; j++) {
            const float *a = xf + (size_t)(m + j) * 2 * pairs + 2 * i;
            __m256 a0 = _mm256_broadcast_ss(a), a1 = _mm256_broadcast_ss(a + 1);
            acc[j][0] = _mm256_fmadd_ps(lo1, a1, _mm256_fmadd_ps(lo0, a0, acc[j][0]));
            acc[j][1] = _mm256_fmadd_ps(hi1, a1, _mm256_fmadd_ps(hi0, a0, acc[j][1]));
        }
    }
    int n = p * PANEL, valid = N - n < PANEL ? N - n : PANEL;
    for (int j = 0; j < MB; j++) {
        float tmp[PANEL], *o = out + (size_t)(m + j) * ldo + n;
        _mm256_storeu_ps(tmp, acc[j][0]);
        _mm256_storeu_ps(tmp + 8, acc[j][1]);
        for (int c = 0; c < valid; c++) o[c] = add ? o[c] + tmp[c] : tmp[c];
    }
}

/* The activations widened to f32 once per call (rows padded to an even length), in a
 * buffer each thread keeps, so the tiles broadcast them straight from memory. */
static __thread float *widened;
static __thread size_t widened_cap;

static void gemm_bf16(const bf16 *x, int M, int K, const bf16 *Wp, int N, int p0, int p1,
                      float *out, int ldo, int add, const bf16 *pf) {
    (void)pf;
    int pairs = (K + 1) / 2;
    size_t need = (size_t)M * 2 * pairs;
    if (need > widened_cap) {
        free(widened);
        widened = (float *)malloc(sizeof(float) * need);
        widened_cap = need;
    }
    for (int m = 0; m < M; m++) {
        float *row = widened + (size_t)m * 2 * pairs;
        for (int k = 0; k < K; k++) row[k] = bf16_to_f32(x[(size_t)m * K + k]);
        if (K % 2) row[K] = 0.0f;
    }
    for (int p = p0; p < p1; p++)
        for (int m = 0; m < M; m += 4) {
            switch (M - m < 4 ? M - m : 4) {
                case 4: tile_avx2(widened, K, Wp, p, m, 4, N, out, ldo, add); break;
                case 3: tile_avx2(widened, K, Wp, p, m, 3, N, out, ldo, add); break;
                case 2: tile_avx2(widened, K, Wp, p, m, 2, N, out, ldo, add); break;
                default: tile_avx2(widened, K, Wp, p, m, 1, N, out, ldo, add); break;
            }
        }
}
#else
static void gemm_bf16(const bf16 *x, int M, int K, const bf16 *Wp, int N, int p0, int p1,
                      float *out, int ldo, int add, const bf16 *pf) {
    (void)pf;
    int pairs = (K + 1) / 2;
    for (int m = 0; m < M; m++) {
        const bf16 *a = x + (size_t)m * K;
        for (int n = p0 * PANEL; n < p1 * PANEL && n < N; n++) {
            const bf16 *w = Wp + (size_t)(n / PANEL) * pairs * 2 * PANEL + (n % PANEL) * 2;
            float s = 0.0f;
            for (int i = 0; i < pairs; i++) {
                float a0 = bf16_to_f32(a[2 * i]);
                float a1 = 2 * i + 1 < K ? bf16_to_f32(a[2 * i + 1]) : 0.0f;
                s += a0 * bf16_to_f32(w[(size_t)i * 2 * PANEL]) +
                     a1 * bf16_to_f32(w[(size_t)i * 2 * PANEL + 1]);
            }
            float *o = out + (size_t)m * ldo + n;
            *o = add ? *o + s : s;
        }
    }
}
#endif

/* Chunks of a product are groups of 4 panels (64 output columns): how a chunk is computed
 * never depends on who claims it or on the other rows, so results are reproducible. */
#define GROUP 4
static inline int gemm_chunks(int N) { return ((N + PANEL - 1) / PANEL + GROUP - 1) / GROUP; }

static void gemm_chunk(const bf16 *x, int M, int K, const bf16 *Wp, int N, float *out, int ldo,
                       int add, int chunk) {
    int panels = (N + PANEL - 1) / PANEL;
    int p0 = chunk * GROUP, p1 = p0 + GROUP < panels ? p0 + GROUP : panels;
    /* the next chunk, when it is whole: 4 panels, contiguous */
    const bf16 *next = p1 + GROUP <= panels ? Wp + (size_t)p1 * ((K + 1) / 2) * 2 * PANEL : NULL;
    gemm_bf16(x, M, K, Wp, N, p0, p1, out, ldo, add, next);
}

/* Pack W (N, K) bf16 row-major into the panel layout above; out holds
 * ceil(N/16) * ceil(K/2) * 32 values. */
void sai_pack_weight(const bf16 *W, int N, int K, bf16 *out) {
    int pairs = (K + 1) / 2, panels = (N + PANEL - 1) / PANEL;
    for (int p = 0; p < panels; p++)
        for (int i = 0; i < pairs; i++)
            for (int c = 0; c < PANEL; c++)
                for (int r = 0; r < 2; r++) {
                    int n = p * PANEL + c, k = 2 * i + r;
                    out[(((size_t)p * pairs + i) * PANEL + c) * 2 + r] =
                        n < N && k < K ? W[(size_t)n * K + k] : 0;
                }
}

size_t sai_packed_size(int N, int K) {
    return (size_t)((N + PANEL - 1) / PANEL) * ((K + 1) / 2) * 2 * PANEL;
}

/* ---------------------------------------------------------------- quantized products */
/* Weight-only quantized matrices (infer/quant.py): every weight is an unsigned code q (8 bits,
 * or 4 bits two to a byte) with a scale s and an offset o per output column and group of
 * `group` inputs, w = s * q + o. That one form holds symmetric int8 (q = w/s + 128,
 * o = -128 s), symmetric and asymmetric int4, and llama.cpp's Q8_0, Q4_0 and Q4_1 blocks
 * exactly, so GGUF weights are packed as they are, never widened to floats.
 *
 * Activations entering such a product are quantized per row in blocks of 32 to int8 with a
 * scale a = max|x| / 127 (as llama.cpp does for its Q8_0/Q4 products), so the inner loop is
 * an integer dot product: out[n] = sum_g s[n,g] sum_{b in g} a_b (q . x_b) + o[n,g] C_g, where
 * C_g = sum_{b in g} a_b sum(x_b) is one number per row and group. AVX-512 VNNI
 * `vpdpbusd` multiplies 64 unsigned codes by 64 signed activations into 16 int32 lanes per
 * instruction; AVX2 uses `vpmaddubsw` + `vpmaddwd`; the portable path is plain loops.
 *
 * Layout (sai_qpack): panels of 16 output columns as for bf16; inside a panel, 64-byte
 * records, column-major by 4 inputs: int8 record i holds q[16p + c][4i + r] at byte 4c + r;
 * int4 record i holds inputs 8i..8i+7, byte 4c + r = q[.][8i + r] | q[.][8i + 4 + r] << 4.
 * After all panels' codes come, per panel and group, 16 f32 scales then 16 f32 offsets. */
#define QBLOCK 32

static inline size_t q_panel_bytes(int K, int bits) { return (size_t)K * (bits == 8 ? 16 : 8); }

size_t sai_qpacked_size(int N, int K, int bits, int group) {
    size_t panels = (size_t)(N + PANEL - 1) / PANEL;
    return panels * q_panel_bytes(K, bits) + panels * (size_t)(K / group) * 2 * PANEL * 4;
}

/* codes (N, K) one per byte, scales and offsets (N, K / group) f32, into the layout above. */
void sai_qpack(const uint8_t *codes, const float *scales, const float *offsets, int N, int K,
               int bits, int group, uint8_t *out) {
    int panels = (N + PANEL - 1) / PANEL, G = K / group;
    size_t pb = q_panel_bytes(K, bits);
    memset(out, 0, sai_qpacked_size(N, K, bits, group));
    for (int n = 0; n < N; n++) {
        uint8_t *panel = out + (size_t)(n / PANEL) * pb;
        int c = n % PANEL;
        for (int k = 0; k < K; k++) {
            uint8_t q = codes[(size_t)n * K + k];
            if (bits == 8) panel[(size_t)(k / 4) * 64 + 4 * c + k % 4] = q;
            else panel[(size_t)(k / 8) * 64 + 4 * c + k % 4] |= (uint8_t)((q & 15) << (k % 8 < 4 ? 0 : 4));
        }
        float *params = (float *)(out + (size_t)panels * pb);
        for (int g = 0; g < G; g++) {
            float *rec = params + ((size_t)(n / PANEL) * G + g) * 2 * PANEL;
            rec[c] = scales[(size_t)n * G + g];
            rec[PANEL + c] = offsets[(size_t)n * G + g];
        }
    }
}

/* Activations of a quantized product: int8 codes (M, K), per block scale a_b and a_b * sum. */
typedef struct {
    const int8_t *q;
    const float *scale, *sum;
} qact_t;

static void quantize_row(const bf16 *x, int K, int8_t *q, float *scale, float *sum) {
    for (int b = 0; b < K / QBLOCK; b++) {
        float v[QBLOCK], amax = 0.0f;
        for (int i = 0; i < QBLOCK; i++) {
            v[i] = bf16_to_f32(x[b * QBLOCK + i]);
            float a = fabsf(v[i]);
            amax = a > amax ? a : amax;
        }
        float d = amax / 127.0f, inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        int s = 0;
        for (int i = 0; i < QBLOCK; i++) {
            int r = (int)lrintf(v[i] * inv);
            r = r > 127 ? 127 : (r < -127 ? -127 : r);
            q[b * QBLOCK + i] = (int8_t)r;
            s += r;
        }
        scale[b] = d;
        sum[b] = d * (float)s;
    }
}

/* out rows m..m+MB-1, panels p..p+NBV-1, all of K (one call per tile; see below). */
#if defined(__AVX512VNNI__) && defined(__AVX512F__)
static inline __attribute__((always_inline)) void qtile(
    const qact_t *a, int m, int MB, const uint8_t *W, int panels, int K, int bits, int group,
    int p, int NBV, int N, float *out, int ldo, int add, const uint8_t *pf) {
    int G = K / group, bpg = group / QBLOCK;
    size_t pb = q_panel_bytes(K, bits);
    const float *params = (const float *)(W + (size_t)panels * pb);
    __m512 facc[4][4];
    for (int j = 0; j < MB; j++)
        for (int v = 0; v < NBV; v++) facc[j][v] = _mm512_setzero_ps();
    const __m512i low = _mm512_set1_epi8(15);
    for (int g = 0; g < G; g++) {
        const float *rec = params + ((size_t)p * G + g) * 2 * PANEL; /* panel v: + v*G*32 */
        for (int b = g * bpg; b < (g + 1) * bpg; b++) {
            __m512i iacc[4][4];
            for (int j = 0; j < MB; j++)
                for (int v = 0; v < NBV; v++) iacc[j][v] = _mm512_setzero_si512();
            if (bits == 8) {
                for (int i = b * 8; i < b * 8 + 8; i++) {
                    __m512i wv[4];
                    if (pf) /* the next chunk's codes, on their way from DRAM (as gemm_bf16) */
                        for (int v = 0; v < NBV; v++) _mm_prefetch((const char *)(pf + v * pb + (size_t)i * 64), _MM_HINT_T1);
                    for (int v = 0; v < NBV; v++)
                        wv[v] = _mm512_loadu_si512((const void *)(W + (p + v) * pb + (size_t)i * 64));
                    for (int j = 0; j < MB; j++) {
                        int32_t x4;
                        memcpy(&x4, a->q + (size_t)(m + j) * K + 4 * i, 4);
                        __m512i xv = _mm512_set1_epi32(x4);
                        for (int v = 0; v < NBV; v++) iacc[j][v] = _mm512_dpbusd_epi32(iacc[j][v], wv[v], xv);
                    }
                }
            } else {
                for (int i = b * 4; i < b * 4 + 4; i++) {
                    __m512i lo[4], hi[4];
                    if (pf)
                        for (int v = 0; v < NBV; v++) _mm_prefetch((const char *)(pf + v * pb + (size_t)i * 64), _MM_HINT_T1);
                    for (int v = 0; v < NBV; v++) {
                        __m512i wv = _mm512_loadu_si512((const void *)(W + (p + v) * pb + (size_t)i * 64));
                        lo[v] = _mm512_and_si512(wv, low);
                        hi[v] = _mm512_and_si512(_mm512_srli_epi16(wv, 4), low);
                    }
                    for (int j = 0; j < MB; j++) {
                        int32_t x4[2];
                        memcpy(x4, a->q + (size_t)(m + j) * K + 8 * i, 8);
                        __m512i x0 = _mm512_set1_epi32(x4[0]), x1 = _mm512_set1_epi32(x4[1]);
                        for (int v = 0; v < NBV; v++)
                            iacc[j][v] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(iacc[j][v], lo[v], x0), hi[v], x1);
                    }
                }
            }
            for (int j = 0; j < MB; j++) {
                __m512 ab = _mm512_set1_ps(a->scale[(size_t)(m + j) * (K / QBLOCK) + b]);
                for (int v = 0; v < NBV; v++)
                    facc[j][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[j][v]),
                                                 _mm512_mul_ps(_mm512_loadu_ps(rec + (size_t)v * G * 2 * PANEL), ab),
                                                 facc[j][v]);
            }
        }
        for (int j = 0; j < MB; j++) {
            const float *sums = a->sum + (size_t)(m + j) * (K / QBLOCK) + g * bpg;
            float c = 0.0f;
            for (int b = 0; b < bpg; b++) c += sums[b];
            __m512 cv = _mm512_set1_ps(c);
            for (int v = 0; v < NBV; v++)
                facc[j][v] = _mm512_fmadd_ps(_mm512_loadu_ps(rec + (size_t)v * G * 2 * PANEL + PANEL), cv, facc[j][v]);
        }
    }
    for (int j = 0; j < MB; j++) {
        float *o = out + (size_t)(m + j) * ldo;
        for (int v = 0; v < NBV; v++) {
            int n = (p + v) * PANEL;
            __mmask16 mask = N - n >= PANEL ? (__mmask16)0xffff : (__mmask16)((1u << (N - n)) - 1);
            __m512 r = facc[j][v];
            if (add) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mask, o + n));
            _mm512_mask_storeu_ps(o + n, mask, r);
        }
    }
}
#define QKERNEL 2
#define QTILE_ROWS 2
#define QTILE_PANELS 4
#elif defined(__AVX2__) && defined(__FMA__)
/* 8 columns (half a panel) per 256-bit register. int8 codes exceed vpmaddubsw's int16 sums
 * (255 * 127 * 2), so they are made signed (q - 128, by flipping the top bit) and multiplied
 * by |x| with the sign moved onto them (ggml's trick); the 128 * sum(x) this drops is added
 * back through the offset: s q + o = s (q - 128) + (o + 128 s). */
static inline __m256i dot4_avx2(__m256i w, __m256i x, int bits) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i p;
    if (bits == 8) {
        __m256i ws = _mm256_xor_si256(w, _mm256_set1_epi8((char)0x80));
        p = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(ws, x));
    } else {
        p = _mm256_maddubs_epi16(w, x);
    }
    return _mm256_madd_epi16(p, ones);
}

static inline __attribute__((always_inline)) void qtile(
    const qact_t *a, int m, int MB, const uint8_t *W, int panels, int K, int bits, int group,
    int p, int NBV, int N, float *out, int ldo, int add, const uint8_t *pf) {
    int G = K / group, bpg = group / QBLOCK;
    size_t pb = q_panel_bytes(K, bits);
    const float *params = (const float *)(W + (size_t)panels * pb);
    const int H = 2 * NBV;
    (void)pf; /* half panels */
    __m256 facc[4][4];
    for (int j = 0; j < MB; j++)
        for (int h = 0; h < H; h++) facc[j][h] = _mm256_setzero_ps();
    const __m256i low = _mm256_set1_epi8(15);
    for (int g = 0; g < G; g++) {
        __m256 sv[4], ov[4];
        for (int h = 0; h < H; h++) {
            const float *rec = params + ((size_t)(p + h / 2) * G + g) * 2 * PANEL + 8 * (h % 2);
            sv[h] = _mm256_loadu_ps(rec);
            ov[h] = _mm256_loadu_ps(rec + PANEL);
            if (bits == 8) ov[h] = _mm256_fmadd_ps(_mm256_set1_ps(128.0f), sv[h], ov[h]);
        }
        for (int b = g * bpg; b < (g + 1) * bpg; b++) {
            __m256i iacc[4][4];
            for (int j = 0; j < MB; j++)
                for (int h = 0; h < H; h++) iacc[j][h] = _mm256_setzero_si256();
            for (int i = 0; i < 8; i++) { /* 8 groups of 4 inputs */
                int k = b * QBLOCK + 4 * i;
                for (int h = 0; h < H; h++) {
                    const uint8_t *rec = W + (p + h / 2) * pb + 32 * (h % 2);
                    __m256i w;
                    if (bits == 8) w = _mm256_loadu_si256((const __m256i *)(rec + (size_t)(k / 4) * 64));
                    else {
                        w = _mm256_loadu_si256((const __m256i *)(rec + (size_t)(k / 8) * 64));
                        w = _mm256_and_si256((k / 4) % 2 ? _mm256_srli_epi16(w, 4) : w, low);
                    }
                    for (int j = 0; j < MB; j++) {
                        int32_t x4;
                        memcpy(&x4, a->q + (size_t)(m + j) * K + k, 4);
                        iacc[j][h] = _mm256_add_epi32(iacc[j][h], dot4_avx2(w, _mm256_set1_epi32(x4), bits));
                    }
                }
            }
            for (int j = 0; j < MB; j++) {
                __m256 ab = _mm256_set1_ps(a->scale[(size_t)(m + j) * (K / QBLOCK) + b]);
                for (int h = 0; h < H; h++)
                    facc[j][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc[j][h]), _mm256_mul_ps(sv[h], ab), facc[j][h]);
            }
        }
        for (int j = 0; j < MB; j++) {
            const float *sums = a->sum + (size_t)(m + j) * (K / QBLOCK) + g * bpg;
            float c = 0.0f;
            for (int b = 0; b < bpg; b++) c += sums[b];
            __m256 cv = _mm256_set1_ps(c);
            for (int h = 0; h < H; h++) facc[j][h] = _mm256_fmadd_ps(ov[h], cv, facc[j][h]);
        }
    }
    for (int j = 0; j < MB; j++) {
        float *o = out + (size_t)(m + j) * ldo;
        for (int h = 0; h < H; h++) {
            int n = p * PANEL + 8 * h;
            float tmp[8];
            _mm256_storeu_ps(tmp, facc[j][h]);
            for (int c = 0; c < 8 && n + c < N; c++) o[n + c] = add ? o[n + c] + tmp[c] : tmp[c];
        }
    }
}
#define QKERNEL 1
#define QTILE_ROWS 2
#define QTILE_PANELS 1
#else
static inline void qtile(const qact_t *a, int m, int MB, const uint8_t *W, int panels, int K,
                         int bits, int group, int p, int NBV, int N, float *out, int ldo, int add,
                         const uint8_t *pf) {
    (void)pf;
    int G = K / group, bpg = group / QBLOCK;
    size_t pb = q_panel_bytes(K, bits);
    const float *params = (const float *)(W + (size_t)panels * pb);
    for (int j = m; j < m + MB; j++) {
        const int8_t *x = a->q + (size_t)j * K;
        for (int n = p * PANEL; n < (p + NBV) * PANEL && n < N; n++) {
            const uint8_t *panel = W + (size_t)(n / PANEL) * pb;
            int c = n % PANEL;
            float f = 0.0f;
            for (int g = 0; g < G; g++) {
                const float *rec = params + ((size_t)(n / PANEL) * G + g) * 2 * PANEL;
                float fg = 0.0f, cg = 0.0f;
                for (int b = g * bpg; b < (g + 1) * bpg; b++) {
                    int32_t dot = 0;
                    for (int k = b * QBLOCK; k < (b + 1) * QBLOCK; k++) {
                        int q = bits == 8 ? panel[(size_t)(k / 4) * 64 + 4 * c + k % 4]
                                          : (panel[(size_t)(k / 8) * 64 + 4 * c + k % 4] >> (k % 8 < 4 ? 0 : 4)) & 15;
                        dot += q * x[k];
                    }
                    fg += (float)dot * a->scale[(size_t)j * (K / QBLOCK) + b];
                    cg += a->sum[(size_t)j * (K / QBLOCK) + b];
                }
                f += rec[c] * fg + rec[PANEL + c] * cg;
            }
            float *o = out + (size_t)j * ldo + n;
            *o = add ? *o + f : f;
        }
    }
}
#define QKERNEL 0
#define QTILE_ROWS 4
#define QTILE_PANELS 1
#endif

/* One chunk (GROUP panels) of out (M, N) (+)= dequant(W) x, over all M rows. */
static void qgemm_chunk(const qact_t *a, int M, const uint8_t *W, int K, int bits, int group,
                        int N, float *out, int ldo, int add, int chunk) {
    int panels = (N + PANEL - 1) / PANEL;
    int p0 = chunk * GROUP, p1 = p0 + GROUP < panels ? p0 + GROUP : panels;
    size_t pb = q_panel_bytes(K, bits);
    for (int p = p0; p < p1; p += QTILE_PANELS) {
        int NBV = p1 - p < QTILE_PANELS ? p1 - p : QTILE_PANELS;
        /* the same panels of the next chunk, while the first row tile passes over these */
        const uint8_t *next = p + GROUP + NBV <= panels ? W + (size_t)(p + GROUP) * pb : NULL;
        for (int m = 0; m < M; m += QTILE_ROWS) {
            int MB = M - m < QTILE_ROWS ? M - m : QTILE_ROWS;
            const uint8_t *pf = m == 0 ? next : NULL;
#if QKERNEL == 0
            qtile(a, m, MB, W, panels, K, bits, group, p, NBV, N, out, ldo, add, pf);
#else
#define QT(R, V) qtile(a, m, R, W, panels, K, bits, group, p, V, N, out, ldo, add, pf)
            if (NBV == QTILE_PANELS) {
                switch (MB) {
                    case 2: QT(2, QTILE_PANELS); break;
                    default: QT(1, QTILE_PANELS); break;
                }
            } else {
                for (int v = 0; v < NBV; v++)
                    for (int r = 0; r < MB; r++)
                        qtile(a, m + r, 1, W, panels, K, bits, group, p + v, 1, N, out, ldo, add, NULL);
            }
#undef QT
#endif
        }
    }
}

int sai_qkernel_kind(void) { return QKERNEL; }

/* ---------------------------------------------------------------- the model */
typedef struct {
    int n_layers, dim, n_heads, n_kv_heads, head_dim, hidden, vocab, window, interleaved;
    float eps;
    const bf16 *embed, *lm_head;
    const float *final_norm, *inv_freq;
    const float **attn_norm, **mlp_norm;
    const bf16 **qkv, **o, **gate_up, **down;
    bf16 **k_cache, **v_cache; /* per layer: (slots, Hkv, D) */
    /* quantized matrices (sai_model_quantize): per layer qkv, o, gate_up, down, then the LM
     * head; a NULL entry is the bf16 matrix above */
    const uint8_t **qdata;
    int *qbits, *qgroup;
    pool_t *pool;
    /* scratch, grown on demand */
    int cap_tokens, cap_ctx;
    float *x, *qkv_out, *gu, *rope;
    bf16 *h, *attn, *act;
    float *scores; /* per thread: G * cap_ctx */
    int8_t *xq;    /* a quantized product's activations: codes, block scales, block sums */
    float *xs, *xsum;
} model_t;

typedef struct {
    model_t *m;
    int T;
    const int64_t *tokens, *positions, *slots, *seq_of_token, *block_tables;
    int max_blocks, block_size;
    int n_logits;
    const int64_t *logits_rows;
    float *logits;
    bf16 *final_h;
    op_t *ops;
} step_t;

void *sai_model_new(const int64_t *ints, const float *floats, void *const *ptrs, int nthreads) {
    model_t *m = (model_t *)calloc(1, sizeof(model_t));
    m->n_layers = (int)ints[0];
    m->dim = (int)ints[1];
    m->n_heads = (int)ints[2];
    m->n_kv_heads = (int)ints[3];
    m->head_dim = (int)ints[4];
    m->hidden = (int)ints[5];
    m->vocab = (int)ints[6];
    m->window = (int)ints[7];
    m->interleaved = (int)ints[8];
    m->eps = floats[0];
    int L = m->n_layers, p = 0;
    m->embed = (const bf16 *)ptrs[p++];
    m->lm_head = (const bf16 *)ptrs[p++];
    m->final_norm = (const float *)ptrs[p++];
    m->inv_freq = (const float *)ptrs[p++];
    m->attn_norm = (const float **)calloc((size_t)L, sizeof(void *));
    m->mlp_norm = (const float **)calloc((size_t)L, sizeof(void *));
    m->qkv = (const bf16 **)calloc((size_t)L, sizeof(void *));
    m->o = (const bf16 **)calloc((size_t)L, sizeof(void *));
    m->gate_up = (const bf16 **)calloc((size_t)L, sizeof(void *));
    m->down = (const bf16 **)calloc((size_t)L, sizeof(void *));
    m->k_cache = (bf16 **)calloc((size_t)L, sizeof(void *));
    m->v_cache = (bf16 **)calloc((size_t)L, sizeof(void *));
    for (int l = 0; l < L; l++) {
        m->attn_norm[l] = (const float *)ptrs[p++];
        m->qkv[l] = (const bf16 *)ptrs[p++];
        m->o[l] = (const bf16 *)ptrs[p++];
        m->mlp_norm[l] = (const float *)ptrs[p++];
        m->gate_up[l] = (const bf16 *)ptrs[p++];
        m->down[l] = (const bf16 *)ptrs[p++];
    }
    for (int l = 0; l < L; l++) {
        m->k_cache[l] = (bf16 *)ptrs[p++];
        m->v_cache[l] = (bf16 *)ptrs[p++];
    }
    m->qdata = (const uint8_t **)calloc((size_t)(4 * L + 1), sizeof(void *));
    m->qbits = (int *)calloc((size_t)(4 * L + 1), sizeof(int));
    m->qgroup = (int *)calloc((size_t)(4 * L + 1), sizeof(int));
    m->pool = pool_new(nthreads);
    return m;
}

/* Use quantized matrices: for each of the 4 * n_layers + 1 products (per layer qkv, o,
 * gate_up, down; then the LM head) desc holds (bits, group) and ptrs the sai_qpack'ed data,
 * bits 0 keeping the bf16 matrix. Every quantized K must be a multiple of group, itself a
 * multiple of 32 (the caller checks). */
void sai_model_quantize(void *raw, const int64_t *desc, void *const *ptrs) {
    model_t *m = (model_t *)raw;
    for (int i = 0; i < 4 * m->n_layers + 1; i++) {
        m->qbits[i] = (int)desc[2 * i];
        m->qgroup[i] = (int)desc[2 * i + 1];
        m->qdata[i] = m->qbits[i] ? (const uint8_t *)ptrs[i] : NULL;
    }
}

void sai_model_free(void *raw) {
    model_t *m = (model_t *)raw;
    if (!m) return;
    pool_free(m->pool);
    free(m->attn_norm); free(m->mlp_norm); free(m->qkv); free(m->o);
    free(m->gate_up); free(m->down); free(m->k_cache); free(m->v_cache);
    free(m->x); free(m->qkv_out); free(m->gu); free(m->rope);
    free(m->h); free(m->attn); free(m->act); free(m->scores);
    free(m->qdata); free(m->qbits); free(m->qgroup); free(m->xq); free(m->xs); free(m->xsum);
    free(m);
}

int sai_num_threads(void *raw) { return ((model_t *)raw)->pool->nth; }

static void grow(model_t *m, int T, int ctx) {
    if (T > m->cap_tokens) {
        int q = (m->n_heads + 2 * m->n_kv_heads) * m->head_dim;
        int widest = m->dim > m->n_heads * m->head_dim ? m->dim : m->n_heads * m->head_dim;
        free(m->x); free(m->qkv_out); free(m->gu); free(m->rope);
        free(m->h); free(m->attn); free(m->act);
        m->x = (float *)malloc(sizeof(float) * (size_t)T * m->dim);
        m->qkv_out = (float *)malloc(sizeof(float) * (size_t)T * q);
        m->gu = (float *)malloc(sizeof(float) * (size_t)T * 2 * m->hidden);
        m->rope = (float *)malloc(sizeof(float) * (size_t)T * m->head_dim);
        m->h = (bf16 *)malloc(sizeof(bf16) * (size_t)T * widest);
        m->attn = (bf16 *)malloc(sizeof(bf16) * (size_t)T * m->n_heads * m->head_dim);
        m->act = (bf16 *)malloc(sizeof(bf16) * (size_t)T * m->hidden);
        /* the widest input of a product: dim, the attention output or the MLP hidden */
        int wide_in = widest > m->hidden ? widest : m->hidden;
        free(m->xq); free(m->xs); free(m->xsum);
        m->xq = (int8_t *)malloc((size_t)T * wide_in);
        m->xs = (float *)malloc(sizeof(float) * (size_t)T * (wide_in / QBLOCK + 1));
        m->xsum = (float *)malloc(sizeof(float) * (size_t)T * (wide_in / QBLOCK + 1));
        m->cap_tokens = T;
    }
    if (ctx > m->cap_ctx) {
        free(m->scores);
        m->scores = (float *)malloc(sizeof(float) * (size_t)m->pool->nth * m->n_heads * ctx);
        m->cap_ctx = ctx;
    }
}

/* RoPE (Su et al. 2021) on one head in place: pairs (i, i + D/2), or (2i, 2i+1) interleaved. */
static void rotate(float *v, const float *cs, int D, int interleaved, float scale) {
    const float *c = cs, *s = cs + D / 2;
    int i = 0;
#if defined(__AVX512F__)
    if (!interleaved) {
        __m512 sc = _mm512_set1_ps(scale);
        for (; i + 16 <= D / 2; i += 16) {
            __m512 x0 = _mm512_loadu_ps(v + i), x1 = _mm512_loadu_ps(v + D / 2 + i);
            __m512 cv = _mm512_mul_ps(_mm512_loadu_ps(c + i), sc);
            __m512 sv = _mm512_mul_ps(_mm512_loadu_ps(s + i), sc);
            _mm512_storeu_ps(v + i, _mm512_fmsub_ps(x0, cv, _mm512_mul_ps(x1, sv)));
            _mm512_storeu_ps(v + D / 2 + i, _mm512_fmadd_ps(x1, cv, _mm512_mul_ps(x0, sv)));
        }
    }
#endif
    for (; i < D / 2; i++) {
        int a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + D / 2;
        float x0 = v[a], x1 = v[b];
        v[a] = (x0 * c[i] - x1 * s[i]) * scale;
        v[b] = (x1 * c[i] + x0 * s[i]) * scale;
    }
}

static inline float dot_q_k(const float *q, const bf16 *k, int D) {
    int d = 0;
    float s = 0.0f;
#if defined(__AVX512F__)
    __m512 acc = _mm512_setzero_ps();
    for (; d + 16 <= D; d += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), load_bf16x16(k + d), acc);
    s = _mm512_reduce_add_ps(acc);
#endif
    for (; d < D; d++) s += q[d] * bf16_to_f32(k[d]);
    return s;
}

static inline void axpy_v(float a, const bf16 *v, float *out, int D) {
    int d = 0;
#if defined(__AVX512F__)
    __m512 av = _mm512_set1_ps(a);
    for (; d + 16 <= D; d += 16)
        _mm512_storeu_ps(out + d, _mm512_fmadd_ps(av, load_bf16x16(v + d), _mm512_loadu_ps(out + d)));
#endif
    for (; d < D; d++) out[d] += a * bf16_to_f32(v[d]);
}

static void softmax_inplace(float *s, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) mx = s[i] > mx ? s[i] : mx;
    int i = 0;
    float sum = 0.0f;
#if defined(__AVX512F__)
    __m512 mv = _mm512_set1_ps(mx), acc = _mm512_setzero_ps();
    for (; i + 16 <= n; i += 16) {
        __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(s + i), mv));
        _mm512_storeu_ps(s + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    sum = _mm512_reduce_add_ps(acc);
#endif
    for (; i < n; i++) {
        s[i] = expf(s[i] - mx);
        sum += s[i];
    }
    float inv = 1.0f / sum;
    for (i = 0; i < n; i++) s[i] *= inv;
}

static inline void prefetch_row(const bf16 *row, int n) {
#if defined(__x86_64__)
    for (int d = 0; d < n; d += 32) _mm_prefetch((const char *)(row + d), _MM_HINT_T0);
#else
    (void)row, (void)n;
#endif
}

/* Visit positions [start, end] of a sequence one cache block at a time: `rows` points at
 * the first visited row of the block (rows are n_kv_heads * head_dim values apart, all heads
 * of a position together), n rows of it are visited, j0 is the first one's index from 0.
 * Rows AHEAD positions ahead are prefetched, into the next block near a block's end
 * (next_rows). Measured (16 rows, 2 threads): prefetching a whole next block as a block
 * starts made the step 7% slower at 170 positions; the constant distance across blocks
 * made it 1.3% faster at 100 positions and 4.7% at 220. */
#define AHEAD 6
#define FOR_CACHE_BLOCKS(st, store, seq, start, end, rows, n, j0, body)                     \
    do {                                                                                  \
        const int64_t *table_ = (st)->block_tables + (seq) * (st)->max_blocks;            \
        int bs_ = (st)->block_size, stride_ = (st)->m->n_kv_heads * (st)->m->head_dim;    \
        int j0 = 0;                                                                       \
        for (int p_ = (start); p_ <= (end);) {                                            \
            int o_ = p_ % bs_, n = bs_ - o_ < (end) + 1 - p_ ? bs_ - o_ : (end) + 1 - p_; \
            const bf16 *rows = (store) + ((size_t)table_[p_ / bs_] * bs_ + o_) * stride_; \
            const bf16 *next_rows = p_ + n <= (end)                                       \
                ? (store) + (size_t)table_[(p_ + n) / bs_] * bs_ * stride_ : NULL;          \
            (void)next_rows;                                                              \
            body                                                                          \
            p_ += n;                                                                      \
            j0 += n;                                                                      \
        }                                                                                 \
    } while (0)

/* Attention of token t, every head: query head h reads key/value head h / G (grouped-query
 * attention, Ainslie et al. 2023). One work item per token, so each cache block (all heads
 * of 16 positions) is read once into L1 and used by every head. scores holds Hq x L. */
static void attend(const step_t *st, int layer, int t, float *scores) {
    const model_t *m = st->m;
    int D = m->head_dim, Hq = m->n_heads, Hkv = m->n_kv_heads, G = Hq / Hkv;
    int qw = (Hq + 2 * Hkv) * D, stride = Hkv * D;
    int pos = (int)st->positions[t];
    int start = m->window > 0 && pos - m->window + 1 > 0 ? pos - m->window + 1 : 0;
    int L = pos + 1 - start;
    int64_t seq = st->seq_of_token[t];
    const float *q = m->qkv_out + (size_t)t * qw;
    float out[Hq * D];
    memset(out, 0, sizeof(out));
#if defined(__AVX512F__)
    if (D % 16 == 0 && D <= 256) {
        int V = D / 16;
        __m512 kf[16];
        FOR_CACHE_BLOCKS(st, m->k_cache[layer], seq, start, pos, rows, n, j0, {
            for (int r = 0; r < n; r++) {
                const bf16 *row = rows + (size_t)r * stride;
                if (r + AHEAD < n) prefetch_row(row + AHEAD * stride, stride);
                else if (next_rows) prefetch_row(next_rows + (size_t)(r + AHEAD - n) * stride, stride);
                for (int g = 0; g < Hkv; g++) { /* convert a key once for its G query heads */
                    for (int v = 0; v < V; v++) kf[v] = load_bf16x16(row + g * D + 16 * v);
                    for (int h = g * G; h < (g + 1) * G; h++) {
                        __m512 acc = _mm512_mul_ps(_mm512_loadu_ps(q + h * D), kf[0]);
                        for (int v = 1; v < V; v++)
                            acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + h * D + 16 * v), kf[v], acc);
                        scores[h * L + j0 + r] = _mm512_reduce_add_ps(acc);
                    }
                }
            }
        });
        for (int h = 0; h < Hq; h++) softmax_inplace(scores + h * L, L);
        FOR_CACHE_BLOCKS(st, m->v_cache[layer], seq, start, pos, rows, n, j0, {
            for (int r = 0; r < n; r++) {
                const bf16 *row = rows + (size_t)r * stride;
                if (r + AHEAD < n) prefetch_row(row + AHEAD * stride, stride);
                else if (next_rows) prefetch_row(next_rows + (size_t)(r + AHEAD - n) * stride, stride);
                for (int g = 0; g < Hkv; g++) {
                    for (int v = 0; v < V; v++) kf[v] = load_bf16x16(row + g * D + 16 * v);
                    for (int h = g * G; h < (g + 1) * G; h++) {
                        __m512 p = _mm512_set1_ps(scores[h * L + j0 + r]);
                        for (int v = 0; v < V; v++) {
                            float *o = out + h * D + 16 * v;
                            _mm512_storeu_ps(o, _mm512_fmadd_ps(p, kf[v], _mm512_loadu_ps(o)));
                        }
                    }
                }
            }
        });
        to_bf16_row(out, m->attn + (size_t)t * Hq * D, Hq * D);
        return;
    }
#endif
    FOR_CACHE_BLOCKS(st, m->k_cache[layer], seq, start, pos, rows, n, j0, {
        for (int r = 0; r < n; r++)
            for (int h = 0; h < Hq; h++)
                scores[h * L + j0 + r] = dot_q_k(q + h * D, rows + (size_t)r * stride + (h / G) * D, D);
    });
    for (int h = 0; h < Hq; h++) softmax_inplace(scores + h * L, L);
    FOR_CACHE_BLOCKS(st, m->v_cache[layer], seq, start, pos, rows, n, j0, {
        for (int r = 0; r < n; r++)
            for (int h = 0; h < Hq; h++)
                axpy_v(scores[h * L + j0 + r], rows + (size_t)r * stride + (h / G) * D, out + h * D, D);
    });
    to_bf16_row(out, m->attn + (size_t)t * Hq * D, Hq * D);
}

static void silu_mul_row(const float *gu, int H, bf16 *out) {
    const float *gate = gu, *up = gu + H;
    float tmp[H];
    int i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= H; i += 16) {
        __m512 gv = _mm512_loadu_ps(gate + i);
        __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), gv));
        /* gate / (1 + e): a 14-bit reciprocal and one Newton step (~1e-8 relative) instead
         * of a division, whose throughput bounds the prefill's SwiGLU otherwise */
        __m512 d = _mm512_add_ps(_mm512_set1_ps(1.0f), e);
        __m512 r = _mm512_rcp14_ps(d);
        r = _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
        __m512 s = _mm512_mul_ps(gv, r);
        _mm512_storeu_ps(tmp + i, _mm512_mul_ps(s, _mm512_loadu_ps(up + i)));
    }
#endif
    for (; i < H; i++) tmp[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
    to_bf16_row(tmp, out, H);
}

static void forward_job(void *raw, int ith, int nth) {
    step_t *st = (step_t *)raw;
    model_t *m = st->m;
    op_t *ops = st->ops;
    int op = 0;
    int T = st->T, dim = m->dim, D = m->head_dim, Hq = m->n_heads, Hkv = m->n_kv_heads;
    int qw = (Hq + 2 * Hkv) * D, H = m->hidden;
    float qscale = 1.0f / sqrtf((float)D);
    float *scores = m->scores + (size_t)ith * Hq * m->cap_ctx;
    (void)nth;

    /* embeddings and the RoPE table (cos | sin per token) */
    PARALLEL(T, t) {
        const bf16 *e = m->embed + (size_t)st->tokens[t] * dim;
        for (int i = 0; i < dim; i++) m->x[(size_t)t * dim + i] = bf16_to_f32(e[i]);
        float *cs = m->rope + (size_t)t * D;
        for (int i = 0; i < D / 2; i++) {
            float angle = (float)st->positions[t] * m->inv_freq[i];
            cs[i] = cosf(angle);
            cs[D / 2 + i] = sinf(angle);
        }
    }
    SYNC(T);
    int cq = gemm_chunks(qw), co = gemm_chunks(dim), cgu = gemm_chunks(2 * H);
    qact_t qa = {m->xq, m->xs, m->xsum};
/* out (rows, N) (+)= in (rows, K) W^T for product `which`: the bf16 panels, or the quantized
 * matrix after one pass quantizing the rows of `in` (two operations, so two SYNCs). */
#define PRODUCT(which, in, rows, K, Wb, N, out, ldo, add, chunks)                              \
    do {                                                                                     \
        const uint8_t *qw_ = m->qdata[which];                                                \
        if (!qw_) {                                                                          \
            PARALLEL(chunks, c) gemm_chunk(in, rows, K, Wb, N, out, ldo, add, c);            \
            SYNC(chunks);                                                                    \
            break;                                                                           \
        }                                                                                    \
        PARALLEL(rows, t)                                                                    \
            quantize_row((in) + (size_t)t * (K), K, m->xq + (size_t)t * (K),                  \
                         m->xs + (size_t)t * ((K) / QBLOCK), m->xsum + (size_t)t * ((K) / QBLOCK)); \
        SYNC(rows);                                                                          \
        PARALLEL(chunks, c)                                                                  \
            qgemm_chunk(&qa, rows, qw_, K, m->qbits[which], m->qgroup[which], N, out, ldo, add, c); \
        SYNC(chunks);                                                                        \
    } while (0)
    for (int l = 0; l < m->n_layers; l++) {
        PARALLEL(T, t)
            rmsnorm_row(m->x + (size_t)t * dim, m->attn_norm[l], dim, m->eps, m->h + (size_t)t * dim);
        SYNC(T);
        PRODUCT(4 * l, m->h, T, dim, m->qkv[l], qw, m->qkv_out, qw, 0, cq);
        PARALLEL(T, t) {
            float *row = m->qkv_out + (size_t)t * qw;
            const float *cs = m->rope + (size_t)t * D;
            /* queries carry the 1/sqrt(D) of the scores (Vaswani et al. 2017) */
            for (int h = 0; h < Hq + Hkv; h++)
                rotate(row + h * D, cs, D, m->interleaved, h < Hq ? qscale : 1.0f);
            int64_t slot = st->slots[t];
            to_bf16_row(row + Hq * D, m->k_cache[l] + (size_t)slot * Hkv * D, Hkv * D);
            to_bf16_row(row + (Hq + Hkv) * D, m->v_cache[l] + (size_t)slot * Hkv * D, Hkv * D);
        }
        SYNC(T);
        PARALLEL(T, t) attend(st, l, t, scores);
        SYNC(T);
        PRODUCT(4 * l + 1, m->attn, T, Hq * D, m->o[l], dim, m->x, dim, 1, co);
        PARALLEL(T, t)
            rmsnorm_row(m->x + (size_t)t * dim, m->mlp_norm[l], dim, m->eps, m->h + (size_t)t * dim);
        SYNC(T);
        PRODUCT(4 * l + 2, m->h, T, dim, m->gate_up[l], 2 * H, m->gu, 2 * H, 0, cgu);
        PARALLEL(T, t) silu_mul_row(m->gu + (size_t)t * 2 * H, H, m->act + (size_t)t * H);
        SYNC(T);
        PRODUCT(4 * l + 3, m->act, T, H, m->down[l], dim, m->x, dim, 1, co);
    }
    int n = st->n_logits, cv = gemm_chunks(m->vocab);
    PARALLEL(n, r)
        rmsnorm_row(m->x + (size_t)st->logits_rows[r] * dim, m->final_norm, dim, m->eps,
                    st->final_h + (size_t)r * dim);
    SYNC(n);
    PRODUCT(4 * m->n_layers, st->final_h, n, dim, m->lm_head, m->vocab, st->logits, m->vocab, 0, cv);
#undef PRODUCT
}

#define OPS_PER_LAYER 13 /* 9, and a quantizing pass before each of 4 products */
#define OPS_OUTSIDE_LAYERS 4

/* One step: T tokens (ids, positions, cache slots, owning sequence row in block_tables),
 * logits (n_logits, vocab) f32 for the rows in logits_rows. Returns 0 on success. */
int sai_forward(void *raw, int T, const int64_t *tokens, const int64_t *positions,
                const int64_t *slots, const int64_t *seq_of_token, const int64_t *block_tables,
                int max_blocks, int block_size, int n_logits, const int64_t *logits_rows,
                float *logits) {
    model_t *m = (model_t *)raw;
    if (T <= 0) return 1;
    int ctx = 1;
    for (int t = 0; t < T; t++)
        if (positions[t] + 1 > ctx) ctx = (int)positions[t] + 1;
    grow(m, T, ctx);
    bf16 *final_h = (bf16 *)malloc(sizeof(bf16) * (size_t)(n_logits > 0 ? n_logits : 1) * m->dim);
    op_t *ops = (op_t *)calloc((size_t)(m->n_layers * OPS_PER_LAYER + OPS_OUTSIDE_LAYERS),
                               sizeof(op_t));
    step_t st = {m, T, tokens, positions, slots, seq_of_token, block_tables, max_blocks,
                 block_size, n_logits, logits_rows, logits, final_h, ops};
    pool_run(m->pool, forward_job, &st);
    free(ops);
    free(final_h);
    return 0;
}

/* A lone matrix product through the same kernel, for tests and benchmarks:
 * out (M, N) f32 = x (M, K) bf16 @ W (N, K)^T bf16. */
typedef struct {
    const bf16 *x, *W;
    int M, K, N;
    float *out;
    op_t *ops;
} gemm_job_t;

static void gemm_job(void *raw, int ith, int nth) {
    gemm_job_t *g = (gemm_job_t *)raw;
    op_t *ops = g->ops;
    int op = 0, chunks = gemm_chunks(g->N);
    (void)ith, (void)nth;
    PARALLEL(chunks, c) gemm_chunk(g->x, g->M, g->K, g->W, g->N, g->out, g->N, 0, c);
    SYNC(chunks);
}

void *sai_pool_new(int nthreads) { return pool_new(nthreads); }

void sai_pool_free(void *pool) { pool_free((pool_t *)pool); }

int sai_gemm(void *pool, const bf16 *x, int M, int K, const bf16 *W, int N, float *out) {
    op_t ops[1];
    memset(ops, 0, sizeof(ops));
    gemm_job_t g = {x, W, M, K, N, out, ops};
    pool_run((pool_t *)pool, gemm_job, &g);
    return 0;
}

/* A lone quantized product through the same kernels, for tests and benchmarks: out (M, N)
 * f32 = x (M, K) bf16 @ dequant(W)^T for W = sai_qpack(...). */
typedef struct {
    const bf16 *x;
    const uint8_t *W;
    int M, K, N, bits, group;
    float *out;
    int8_t *xq;
    float *xs, *xsum;
    op_t *ops;
} qgemm_job_t;

static void qgemm_job(void *raw, int ith, int nth) {
    qgemm_job_t *g = (qgemm_job_t *)raw;
    op_t *ops = g->ops;
    int op = 0, chunks = gemm_chunks(g->N), K = g->K;
    (void)ith, (void)nth;
    PARALLEL(g->M, t)
        quantize_row(g->x + (size_t)t * K, K, g->xq + (size_t)t * K, g->xs + (size_t)t * (K / QBLOCK),
                     g->xsum + (size_t)t * (K / QBLOCK));
    SYNC(g->M);
    qact_t qa = {g->xq, g->xs, g->xsum};
    PARALLEL(chunks, c) qgemm_chunk(&qa, g->M, g->W, K, g->bits, g->group, g->N, g->out, g->N, 0, c);
    SYNC(chunks);
}

int sai_qgemm(void *pool, const bf16 *x, int M, int K, const uint8_t *W, int N, int bits, int group,
              float *out) {
    if (K % group || group % QBLOCK || (bits != 8 && bits != 4)) return 1;
    op_t ops[2];
    memset(ops, 0, sizeof(ops));
    int8_t *xq = (int8_t *)malloc((size_t)M * K);
    float *xs = (float *)malloc(sizeof(float) * (size_t)M * (K / QBLOCK));
    float *xsum = (float *)malloc(sizeof(float) * (size_t)M * (K / QBLOCK));
    qgemm_job_t g = {x, W, M, K, N, bits, group, out, xq, xs, xsum, ops};
    pool_run((pool_t *)pool, qgemm_job, &g);
    free(xq); free(xs); free(xsum);
    return 0;
}

/* Which matrix-product kernel this build runs: 2 AVX512-BF16, 1 AVX2 + FMA, 0 portable C. */
int sai_kernel_kind(void) {
#if defined(__AVX512BF16__)
    return 2;
#elif defined(__AVX2__) && defined(__FMA__)
    return 1;
#else
    return 0;
#endif
}
