/*
 * gemm_bench.c -- standalone measurement: OpenBLAS cblas_sgemm vs oneDNN matmul
 * (f32, bf16 x bf16 -> f32, int8 -> s32) for SpikeQuant GEMM shapes.
 *
 * C[M x N] = A[M x K] * B[K x N]
 *   A: "weights" of the engine, integer levels in [-127, 127] (stored as f32 for sgemm)
 *   B: "activations", spike counts in [0, 3], ~15% non-zero (stored as f32 for sgemm)
 * All data are integer-valued, so sgemm, oneDNN f32 and oneDNN bf16 (inputs exactly
 * representable in bf16, f32 accumulation) and the int8 -> s32 path must all agree
 * exactly with sgemm (|sums| < 2^24).
 *
 * oneDNN matmul computes dst = src * weights.  Two mappings are measured:
 *   direct (D):     src = A [M,K] (ab), weights = B [K,N] (ab), dst = C [M,N] (ab).
 *                   The activations are the oneDNN "weights" argument -> no prepacking.
 *   transposed (T): C^T = B^T * A^T.  src = B^T [N,K] contiguous ("token-major"
 *                   activations), weights = A^T [K,M] prepacked ONCE into the layout the
 *                   primitive prefers (format_tag_any), dst = C^T [N,M] contiguous.
 *                   This is the layout an engine with cached weights would use, and the
 *                   only way to get the requested s8 (A) x u8 (B) int8 product, since
 *                   oneDNN int8 matmul wants u8/s8 src and s8 weights.
 *                   (Probed with oneDNN 2.6.3: a strided "ba" dst, i.e. writing C^T straight
 *                   into row-major C, falls back to ref:any / ref_int8:any (~1000x slower);
 *                   a "ba" u8 src falls back to gemm:jit.  So T needs B transposed to
 *                   [N,K] on input and C^T transposed back on output when the engine keeps
 *                   its [K,N] / [M,N] layout; those transposing conversions are timed.)
 *   int8 variants:  "s8s8 D": src = A s8, weights = B s8 (counts 0..3 stored as s8);
 *                   "u8s8 T": src = B^T u8, weights = A^T s8 prepacked (requested s8 x u8).
 *
 * Timing: one warm-up, then `reps` timed repetitions, median reported.  Primitive
 * creation and weight prepacking are measured once (one-time costs).  Per-call
 * conversions of the activations (f32 -> bf16/u8/s8) and of the int8 output
 * (s32 -> f32) are timed separately with oneDNN reorder primitives.
 *
 * Usage: gemm_bench [--reps R] [--rev] [--shape M K N] [--tsv]
 *   --rev  : run the variants of each shape in reverse order (sgemm last)
 *   --shape: run a single shape instead of the built-in list
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <math.h>
#include <unistd.h>
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

extern void openblas_set_num_threads(int);
extern char *openblas_get_config(void);

#define CHK(call)                                                              \
    do {                                                                       \
        dnnl_status_t s_ = (call);                                             \
        if (s_ != dnnl_success) {                                              \
            fprintf(stderr, "oneDNN error %d at %s:%d: %s\n", (int)s_,         \
                    __FILE__, __LINE__, #call);                                \
            exit(2);                                                           \
        }                                                                      \
    } while (0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, n, sizeof(double), cmp_d);
    return (n % 2) ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void pause_ms(int ms) { usleep(ms * 1000); }

/* ---------------- global oneDNN objects ---------------- */
static dnnl_engine_t g_eng;
static dnnl_stream_t g_strm;
static int g_reps = 15;
static const int PAUSE_MS = 150; /* let spinning worker threads of the other library go idle */

static void *xalloc(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) { perror("alloc"); exit(3); }
    return p;
}

static void md_ab(dnnl_memory_desc_t *md, int64_t r, int64_t c, dnnl_data_type_t dt) {
    dnnl_dims_t d = {r, c};
    CHK(dnnl_memory_desc_init_by_tag(md, 2, d, dt, dnnl_ab));
}
/* [r, c] logical view whose element (i, j) lives at i*1 + j*r  (i.e. "ba") */
static void md_ba(dnnl_memory_desc_t *md, int64_t r, int64_t c, dnnl_data_type_t dt) {
    dnnl_dims_t d = {r, c};
    dnnl_dims_t s = {1, r};
    CHK(dnnl_memory_desc_init_by_strides(md, 2, d, dt, s));
}

static dnnl_memory_t mem_wrap(const dnnl_memory_desc_t *md, void *h) {
    dnnl_memory_t m;
    CHK(dnnl_memory_create(&m, md, g_eng, h));
    return m;
}

/* ---------------- reorder helper (conversion) ---------------- */
typedef struct {
    dnnl_primitive_t prim;
    double create_s;
} reorder_t;

static reorder_t reorder_make(const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst) {
    reorder_t r;
    double t0 = now_s();
    dnnl_primitive_desc_t pd;
    CHK(dnnl_reorder_primitive_desc_create(&pd, src, g_eng, dst, g_eng, NULL));
    CHK(dnnl_primitive_create(&r.prim, pd));
    r.create_s = now_s() - t0;
    dnnl_primitive_desc_destroy(pd);
    return r;
}

static void reorder_run(dnnl_primitive_t p, dnnl_memory_t s, dnnl_memory_t d) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, s}, {DNNL_ARG_TO, d}};
    CHK(dnnl_primitive_execute(p, g_strm, 2, args));
    CHK(dnnl_stream_wait(g_strm));
}

/* median time of a reorder (1 warm-up + reps) */
static double reorder_time(const dnnl_memory_desc_t *smd, void *sbuf,
                           const dnnl_memory_desc_t *dmd, void *dbuf) {
    reorder_t r = reorder_make(smd, dmd);
    dnnl_memory_t s = mem_wrap(smd, sbuf), d = mem_wrap(dmd, dbuf);
    double *t = malloc(sizeof(double) * g_reps);
    reorder_run(r.prim, s, d);
    for (int i = 0; i < g_reps; i++) {
        double t0 = now_s();
        reorder_run(r.prim, s, d);
        t[i] = now_s() - t0;
    }
    double m = median(t, g_reps);
    free(t);
    dnnl_memory_destroy(s); dnnl_memory_destroy(d); dnnl_primitive_destroy(r.prim);
    return m;
}

/* one-shot conversion */
static void convert_once(const dnnl_memory_desc_t *smd, void *sbuf,
                         const dnnl_memory_desc_t *dmd, void *dbuf, double *secs) {
    double t0 = now_s();
    reorder_t r = reorder_make(smd, dmd);
    dnnl_memory_t s = mem_wrap(smd, sbuf), d = mem_wrap(dmd, dbuf);
    reorder_run(r.prim, s, d);
    if (secs) *secs = now_s() - t0;
    dnnl_memory_destroy(s); dnnl_memory_destroy(d); dnnl_primitive_destroy(r.prim);
}

/* ---------------- results ---------------- */
enum { CV_B_BF16, CV_B_S8, CV_BT_F32, CV_BT_BF16, CV_BT_U8, CV_C_S32, CV_CT_F32, CV_CT_S32, NCONV };
static const char *CVNAME[NCONV] = {"B f32->bf16", "B f32->s8", "B f32->f32^T", "B f32->bf16^T", "B f32->u8^T",
                                    "C s32->f32", "C^T f32->f32", "C^T s32->f32"};
enum { V_SGEMM, V_F32D, V_F32T, V_BF16D, V_BF16T, V_S8S8D, V_U8S8T, NV };
static const char *VNAME[NV] = {"sgemm", "f32 D", "f32 T", "bf16 D", "bf16 T", "s8s8 D", "u8s8 T"};

typedef struct {
    double med_s;      /* median exec time */
    double create_s;   /* primitive creation (one time) */
    double prepack_s;  /* weight prepack reorder incl. its creation (one time), T only */
    double maxdiff;    /* max |C - C_sgemm| */
    int reps_done;
    char impl[96];
} res_t;

/* ---------------- oneDNN matmul variant ---------------- */
typedef struct {
    int M, K, N;
    float *A, *B, *Cref;               /* f32 originals and sgemm reference */
    /* pre-converted activation copies (conversion timed separately) */
    uint16_t *B_bf16; int8_t *B_s8;             /* [K,N] for D */
    float *BT_f32; uint16_t *BT_bf16; uint8_t *BT_u8; /* [N,K] for T */
    /* pre-converted weights (one time) */
    uint16_t *A_bf16; int8_t *A_s8;
} shape_data_t;

/* c is [M,N] (t=0) or [N,M] (t=1), f32 or s32 (is_s32); ref is row-major [M,N] */
static double max_diff(const void *c, int is_s32, const float *ref, int64_t M, int64_t N, int t) {
    double m = 0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            int64_t k = t ? j * M + i : i * N + j;
            double v = is_s32 ? (double)((const int32_t *)c)[k] : (double)((const float *)c)[k];
            double d = fabs(v - ref[i * N + j]); if (d > m) m = d;
        }
    return m;
}

static void run_dnnl(shape_data_t *sd, int variant, res_t *out) {
    const int64_t M = sd->M, K = sd->K, N = sd->N;
    dnnl_data_type_t sdt, wdt, ddt;
    int transposed;
    void *srcbuf, *weibuf = NULL;
    switch (variant) {
    case V_F32D:  sdt = dnnl_f32;  wdt = dnnl_f32;  ddt = dnnl_f32; transposed = 0; srcbuf = sd->A; weibuf = sd->B; break;
    case V_F32T:  sdt = dnnl_f32;  wdt = dnnl_f32;  ddt = dnnl_f32; transposed = 1; srcbuf = sd->BT_f32; break;
    case V_BF16D: sdt = dnnl_bf16; wdt = dnnl_bf16; ddt = dnnl_f32; transposed = 0; srcbuf = sd->A_bf16; weibuf = sd->B_bf16; break;
    case V_BF16T: sdt = dnnl_bf16; wdt = dnnl_bf16; ddt = dnnl_f32; transposed = 1; srcbuf = sd->BT_bf16; break;
    case V_S8S8D: sdt = dnnl_s8;   wdt = dnnl_s8;   ddt = dnnl_s32; transposed = 0; srcbuf = sd->A_s8; weibuf = sd->B_s8; break;
    case V_U8S8T: sdt = dnnl_u8;   wdt = dnnl_s8;   ddt = dnnl_s32; transposed = 1; srcbuf = sd->BT_u8; break;
    default: abort();
    }
    dnnl_memory_desc_t src_md, wei_md, dst_md, wei_any;
    if (!transposed) {
        md_ab(&src_md, M, K, sdt);
        md_ab(&wei_md, K, N, wdt);
        md_ab(&dst_md, M, N, ddt);
    } else {
        md_ab(&src_md, N, K, sdt);          /* B^T, contiguous [N,K] */
        dnnl_dims_t wd = {K, M};
        CHK(dnnl_memory_desc_init_by_tag(&wei_any, 2, wd, wdt, dnnl_format_tag_any));
        md_ab(&dst_md, N, M, ddt);          /* C^T, contiguous [N,M] */
    }

    /* ---- primitive creation (one-time) ---- */
    double t0 = now_s();
    dnnl_matmul_desc_t mmd;
    CHK(dnnl_matmul_desc_init(&mmd, &src_md, transposed ? &wei_any : &wei_md, NULL, &dst_md));
    dnnl_primitive_desc_t pd;
    CHK(dnnl_primitive_desc_create(&pd, &mmd, NULL, g_eng, NULL));
    dnnl_primitive_t prim;
    CHK(dnnl_primitive_create(&prim, pd));
    out->create_s = now_s() - t0;
    const char *impl = NULL;
    CHK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    snprintf(out->impl, sizeof out->impl, "%s", impl ? impl : "?");

    /* ---- weight prepack (one-time, transposed mapping only) ---- */
    out->prepack_s = 0;
    void *packed = NULL;
    if (transposed) {
        const dnnl_memory_desc_t *wq = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        wei_md = *wq;
        packed = xalloc(dnnl_memory_desc_get_size(&wei_md));
        /* source: A^T [K,M] as a view of row-major A [M,K] in its stored dtype */
        dnnl_memory_desc_t at_md;
        void *abuf = (wdt == dnnl_f32) ? (void *)sd->A : (wdt == dnnl_bf16) ? (void *)sd->A_bf16 : (void *)sd->A_s8;
        md_ba(&at_md, K, M, wdt);
        convert_once(&at_md, abuf, &wei_md, packed, &out->prepack_s);
        weibuf = packed;
    }

    size_t dst_elems = (size_t)M * N;
    void *dst = xalloc(dst_elems * 4);
    memset(dst, 0, dst_elems * 4);
    dnnl_memory_t ms = mem_wrap(&src_md, srcbuf), mw = mem_wrap(&wei_md, weibuf), mdst = mem_wrap(&dst_md, dst);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, mdst}};

    /* warm-up */
    double tw = now_s();
    CHK(dnnl_primitive_execute(prim, g_strm, 3, args));
    CHK(dnnl_stream_wait(g_strm));
    tw = now_s() - tw;
    out->maxdiff = max_diff(dst, ddt == dnnl_s32, sd->Cref, M, N, transposed);

    /* guard against pathological reference implementations */
    int reps = g_reps;
    if (strstr(out->impl, "ref") && tw > 0.5) reps = 1;
    double *t = malloc(sizeof(double) * reps);
    for (int i = 0; i < reps; i++) {
        double a = now_s();
        CHK(dnnl_primitive_execute(prim, g_strm, 3, args));
        CHK(dnnl_stream_wait(g_strm));
        t[i] = now_s() - a;
    }
    out->med_s = median(t, reps);
    out->reps_done = reps;
    free(t);
    dnnl_memory_destroy(ms); dnnl_memory_destroy(mw); dnnl_memory_destroy(mdst);
    dnnl_primitive_destroy(prim); dnnl_primitive_desc_destroy(pd);
    free(dst); free(packed);
}

static void run_sgemm(shape_data_t *sd, res_t *out) {
    const int M = sd->M, K = sd->K, N = sd->N;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, sd->A, K, sd->B, N, 0.0f, sd->Cref, N);
    double *t = malloc(sizeof(double) * g_reps);
    for (int i = 0; i < g_reps; i++) {
        double a = now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, sd->A, K, sd->B, N, 0.0f, sd->Cref, N);
        t[i] = now_s() - a;
    }
    out->med_s = median(t, g_reps);
    out->reps_done = g_reps;
    out->create_s = out->prepack_s = out->maxdiff = 0;
    snprintf(out->impl, sizeof out->impl, "openblas");
    free(t);
}

/* simple LCG so the data are reproducible */
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) { g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull; return (uint32_t)(g_rng >> 33); }

typedef struct { int M, K, N; const char *tag; } shape_t;
static const shape_t SHAPES[] = {
    {64, 64, 8192, "tiny lin"}, {256, 64, 8192, "tiny lin"}, {64, 256, 8192, "tiny lin"},
    {8, 18, 131072, "tiny conv"}, {16, 72, 131072, "tiny conv"}, {32, 144, 32768, "tiny conv"},
    {64, 288, 8192, "tiny conv"}, {64, 576, 8192, "tiny conv"},
    {256, 256, 4096, "paper lin"}, {1024, 256, 4096, "paper lin"}, {256, 1024, 4096, "paper lin"},
    {32, 18, 1048576, "paper conv"}, {64, 288, 262144, "paper conv"}, {128, 576, 65536, "paper conv"},
    {256, 1152, 16384, "paper conv"}, {256, 2304, 4096, "paper conv"},
};

int main(int argc, char **argv) {
    int rev = 0, tsv = 0, single = 0;
    shape_t one = {0, 0, 0, "custom"};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) g_reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rev")) rev = 1;
        else if (!strcmp(argv[i], "--tsv")) tsv = 1;
        else if (!strcmp(argv[i], "--shape") && i + 3 < argc) {
            one.M = atoi(argv[++i]); one.K = atoi(argv[++i]); one.N = atoi(argv[++i]); single = 1;
        } else { fprintf(stderr, "usage: %s [--reps R] [--rev] [--tsv] [--shape M K N]\n", argv[0]); return 1; }
    }
    if (g_reps < 1) g_reps = 1;
    openblas_set_num_threads(2);
    /* OpenBLAS (pthread build) worker threads busy-wait for ~2^28 TSC cycles after they are
       started/used.  On 2 vCPUs that starves oneDNN's OpenMP threads (measured: a 0.12 ms
       reorder took 8 ms right after start-up).  So: idle 0.5 s after start-up, and pause
       PAUSE_MS between variant blocks (see main loop). */
    pause_ms(500);
    CHK(dnnl_engine_create(&g_eng, dnnl_cpu, 0));
    CHK(dnnl_stream_create(&g_strm, g_eng, dnnl_stream_default_flags));
    const dnnl_version_t *ver = dnnl_version();
    fprintf(stderr, "# oneDNN %d.%d.%d (cpu_runtime=%u) ; OpenBLAS: %s ; reps=%d ; order=%s\n",
            ver->major, ver->minor, ver->patch, ver->cpu_runtime, openblas_get_config(), g_reps, rev ? "rev" : "fwd");
    fprintf(stderr, "# effective oneDNN max cpu isa (enum): %d\n", (int)dnnl_get_effective_cpu_isa());

    const shape_t *shapes = single ? &one : SHAPES;
    int nshapes = single ? 1 : (int)(sizeof SHAPES / sizeof SHAPES[0]);

    if (tsv)
        printf("M\tK\tN\tvariant\tmed_ms\tgflops\tspeedup_vs_sgemm\tcreate_ms\tprepack_ms\tmaxdiff\treps\timpl\n");

    for (int si = 0; si < nshapes; si++) {
        shape_data_t sd;
        sd.M = shapes[si].M; sd.K = shapes[si].K; sd.N = shapes[si].N;
        size_t nA = (size_t)sd.M * sd.K, nB = (size_t)sd.K * sd.N, nC = (size_t)sd.M * sd.N;
        sd.A = xalloc(nA * 4); sd.B = xalloc(nB * 4); sd.Cref = xalloc(nC * 4);
        for (size_t i = 0; i < nA; i++) sd.A[i] = (float)((int)(rnd() % 255) - 127);
        for (size_t i = 0; i < nB; i++) {
            uint32_t r = rnd() % 1000;
            sd.B[i] = (r < 150) ? (float)(1 + (rnd() % 3)) : 0.0f; /* ~15% non-zero, 1..3 */
        }
        sd.B_bf16 = xalloc(nB * 2); sd.B_s8 = xalloc(nB);
        sd.BT_f32 = xalloc(nB * 4); sd.BT_bf16 = xalloc(nB * 2); sd.BT_u8 = xalloc(nB);
        sd.A_bf16 = xalloc(nA * 2); sd.A_s8 = xalloc(nA);

        /* weights: one-time conversion (not timed) */
        dnnl_memory_desc_t af32, ab16, as8;
        md_ab(&af32, sd.M, sd.K, dnnl_f32); md_ab(&ab16, sd.M, sd.K, dnnl_bf16); md_ab(&as8, sd.M, sd.K, dnnl_s8);
        convert_once(&af32, sd.A, &ab16, sd.A_bf16, NULL);
        convert_once(&af32, sd.A, &as8, sd.A_s8, NULL);

        /* activations: per-call conversions, timed (oneDNN reorder, 2 OpenMP threads).
           input view: row-major B [K,N] f32.
           D: same layout, new dtype.  T: transposed to [N,K] -- expressed as a reorder of
           the logical [N,K] tensor from the strided ("ba") view of B into contiguous ab. */
        double cv[NCONV];
        {
            dnnl_memory_desc_t bf32, bb16, bs8, btin, btf32, btb16, btu8;
            md_ab(&bf32, sd.K, sd.N, dnnl_f32); md_ab(&bb16, sd.K, sd.N, dnnl_bf16); md_ab(&bs8, sd.K, sd.N, dnnl_s8);
            md_ba(&btin, sd.N, sd.K, dnnl_f32);
            md_ab(&btf32, sd.N, sd.K, dnnl_f32); md_ab(&btb16, sd.N, sd.K, dnnl_bf16); md_ab(&btu8, sd.N, sd.K, dnnl_u8);
            cv[CV_B_BF16] = reorder_time(&bf32, sd.B, &bb16, sd.B_bf16);
            cv[CV_B_S8] = reorder_time(&bf32, sd.B, &bs8, sd.B_s8);
            cv[CV_BT_F32] = reorder_time(&btin, sd.B, &btf32, sd.BT_f32);
            cv[CV_BT_BF16] = reorder_time(&btin, sd.B, &btb16, sd.BT_bf16);
            cv[CV_BT_U8] = reorder_time(&btin, sd.B, &btu8, sd.BT_u8);
            /* outputs: D int8 gives s32 [M,N]; T gives [N,M] (f32 or s32) -> f32 [M,N] */
            dnnl_memory_desc_t cs32, cf32, ctf32, cts32;
            md_ab(&cs32, sd.M, sd.N, dnnl_s32); md_ab(&cf32, sd.M, sd.N, dnnl_f32);
            md_ba(&ctf32, sd.M, sd.N, dnnl_f32); md_ba(&cts32, sd.M, sd.N, dnnl_s32);
            int32_t *ctmp = xalloc(nC * 4); float *ctmpf = xalloc(nC * 4);
            for (size_t i = 0; i < nC; i++) ctmp[i] = (int32_t)(i & 1023);
            cv[CV_C_S32] = reorder_time(&cs32, ctmp, &cf32, ctmpf);
            cv[CV_CT_F32] = reorder_time(&ctf32, ctmp, &cf32, ctmpf);
            cv[CV_CT_S32] = reorder_time(&cts32, ctmp, &cf32, ctmpf);
            free(ctmp); free(ctmpf);
        }
        /* sanity: converted activations hold the same values */
        for (int64_t k = 0; k < sd.K; k++)
            for (int64_t n = 0; n < sd.N; n++) {
                float v = sd.B[k * sd.N + n];
                if ((float)sd.B_s8[k * sd.N + n] != v || (float)sd.BT_u8[n * sd.K + k] != v ||
                    sd.BT_f32[n * sd.K + k] != v) { fprintf(stderr, "conversion mismatch\n"); return 4; }
            }

        res_t res[NV];
        memset(res, 0, sizeof res);
        /* sgemm reference must exist before oneDNN checks: compute it once now */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, sd.M, sd.N, sd.K, 1.0f, sd.A, sd.K, sd.B, sd.N, 0.0f, sd.Cref, sd.N);
        float *Cgold = xalloc(nC * 4);
        memcpy(Cgold, sd.Cref, nC * 4);
        pause_ms(PAUSE_MS);
        for (int vi = 0; vi < NV; vi++) {
            int v = rev ? NV - 1 - vi : vi;
            if (v == V_SGEMM) {
                float *save = sd.Cref; sd.Cref = xalloc(nC * 4);
                run_sgemm(&sd, &res[v]);
                res[v].maxdiff = max_diff(sd.Cref, 0, Cgold, sd.M, sd.N, 0);
                free(sd.Cref); sd.Cref = save;
            } else {
                run_dnnl(&sd, v, &res[v]);
            }
            pause_ms(PAUSE_MS);
        }
        double flop = 2.0 * sd.M * sd.K * sd.N;
        for (int v = 0; v < NV; v++) {
            if (tsv)
                printf("%d\t%d\t%d\t%s\t%.4f\t%.2f\t%.3f\t%.2f\t%.2f\t%.0f\t%d\t%s\n", sd.M, sd.K, sd.N, VNAME[v],
                       res[v].med_s * 1e3, flop / res[v].med_s * 1e-9, res[V_SGEMM].med_s / res[v].med_s,
                       res[v].create_s * 1e3, res[v].prepack_s * 1e3, res[v].maxdiff, res[v].reps_done, res[v].impl);
            else
                printf("%5d %5d %8d %-7s %9.3f ms %8.1f GF/s x%5.2f create %7.2f ms prepack %7.2f ms maxdiff %g [%s]\n",
                       sd.M, sd.K, sd.N, VNAME[v], res[v].med_s * 1e3, flop / res[v].med_s * 1e-9,
                       res[V_SGEMM].med_s / res[v].med_s, res[v].create_s * 1e3, res[v].prepack_s * 1e3,
                       res[v].maxdiff, res[v].impl);
        }
        for (int c = 0; c < NCONV; c++) {
            if (tsv)
                printf("%d\t%d\t%d\tCONV:%s\t%.4f\t0\t0\t0\t0\t0\t%d\treorder\n", sd.M, sd.K, sd.N, CVNAME[c], cv[c] * 1e3, g_reps);
            else
                printf("      conversion %-14s %9.3f ms\n", CVNAME[c], cv[c] * 1e3);
        }
        fflush(stdout);
        free(Cgold);
        free(sd.A); free(sd.B); free(sd.Cref); free(sd.B_bf16); free(sd.B_s8); free(sd.BT_f32); free(sd.BT_bf16); free(sd.BT_u8); free(sd.A_bf16); free(sd.A_s8);
    }
    dnnl_stream_destroy(g_strm);
    dnnl_engine_destroy(g_eng);
    return 0;
}
