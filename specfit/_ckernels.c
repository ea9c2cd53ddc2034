/*
 * Fused kernels for stack fitting: Gaussian-Lorentzian product lines GL(m) (G = GL(0), L = GL(100)),
 * their sum and their Jacobian, for many spectra at once. Loaded with ctypes by
 * specfit/model/_fast.py (no Python C API); built as an optional extension (setup.py): without a C
 * compiler specfit uses its numpy code, which computes the same numbers.
 *
 * Why: in numpy every line of every evaluation is ~10 passes over (spectra x points) temporaries
 * (subtract, scale, square, exp, divide, ... then the chain rule into the Jacobian), bound by memory
 * traffic; here each point is computed once from registers, with glibc's vectorised exp (libmvec).
 *
 * Formulas as in specfit/lineshapes.py (_gl_product, _gl_derivatives): with u = (x - c)/F,
 *   f = A exp(-a(1-m)u^2) / (1 + 4 m u^2) / (N F),   a = 4 ln 2,
 *   df/dA = f/A,   df/dc = f u g / F,   df/dF = f (u^2 g - 1) / F,   g = 2a(1-m) + 8m/(1 + 4 m u^2).
 * Arrays are C-ordered: C, F, A (n, L); out (n, m) or (n, k, m); W (n, m). HALF[l] is the line's window
 * half-width in units of its width, negative for the whole axis. Built with -ffinite-math-only: the
 * caller passes finite numbers (a spectrum with non-finite parameters fails in the solver anyway).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define A4LN2 2.772588722239781

/* first index with key[i] >= v (side="left") or key[i] > v (side="right"): key ascending */
static long bisect(const double *key, long m, double v, int right) {
    long lo = 0, hi = m;
    while (lo < hi) {
        long mid = (lo + hi) / 2;
        if (right ? key[mid] <= v : key[mid] < v) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* half < 0: the whole axis (lines with power-law tails); no infinities here: -ffinite-math-only */
static void window(const double *key, long m, double sign, double c, double half, double f, long *lo, long *hi) {
    if (half < 0.0) { *lo = 0; *hi = m; return; }
    double reach = half * fabs(f);
    double ck = sign * c;
    *lo = bisect(key, m, ck - reach, 0);
    *hi = bisect(key, m, ck + reach, 1);
    if (*hi < *lo) *hi = *lo;
}

void gl_total(long n, long L, long m, const double *x, const double *key, double sign,
              const double *C, const double *F, const double *A,
              const double *M, const double *NORM, const double *HALF, double *out) {
    for (long i = 0; i < n; i++) {
        double *row = out + i * m;
        for (long p = 0; p < m; p++) row[p] = 0.0;
        for (long l = 0; l < L; l++) {
            double c = C[i * L + l], f = F[i * L + l], mm = M[l];
            double inv_f = 1.0 / f, scale = A[i * L + l] / (NORM[l] * f);
            double ga = -A4LN2 * (1.0 - mm), la = 4.0 * mm;
            long lo, hi;
            window(key, m, sign, c, HALF[l], f, &lo, &hi);
#pragma omp simd
            for (long p = lo; p < hi; p++) {
                double u = (x[p] - c) * inv_f, u2 = u * u;
                row[p] += scale * exp(ga * u2) / (1.0 + la * u2);
            }
        }
    }
}

/* the derivatives of line l of spectrum i over its window into dc, dF, dA (times W), returns lo/hi.
 * Made in the Jacobian's precision T: the single-precision Jacobian of the solver's iterations is
 * computed in float (8 lanes, expf) from u = (x - c)/F formed in double (x - c cancels); its relative
 * error, ~1e-7, is that of storing it in float anyway. */
#define LINE_DERIVATIVES(T, SUFFIX, EXP)                                                                   \
    static void line_derivatives_##SUFFIX(long i, long l, long L, long m, const double *x, const double *key, \
                                          double sign, const double *C, const double *F, const double *A,   \
                                          const double *M, const double *NORM, const double *HALF,          \
                                          const double *W, T *dc, T *dF, T *dA, long *lo, long *hi) {       \
        double c = C[i * L + l], f = F[i * L + l], mm = M[l];                                              \
        double inv_f = 1.0 / f;                                                                            \
        T area = (T)A[i * L + l], tinv_f = (T)inv_f, unit = (T)(inv_f / NORM[l]);                          \
        T ga = (T)(-A4LN2 * (1.0 - mm)), la = (T)(4.0 * mm), g0 = (T)(2.0 * A4LN2 * (1.0 - mm));          \
        T g1 = (T)(8.0 * mm), one = (T)1;                                                                  \
        const double *w = W + i * m;                                                                       \
        window(key, m, sign, c, HALF[l], f, lo, hi);                                                       \
        _Pragma("omp simd") for (long p = *lo; p < *hi; p++) {                                             \
            T u = (T)((x[p] - c) * inv_f), u2 = u * u;                                                     \
            T lor = one / (one + la * u2);                                                                 \
            T dfda = EXP(ga * u2) * lor * unit;                                                            \
            T wp = (T)w[p];                                                                                \
            T fw = dfda * area * tinv_f * wp;                                                              \
            T g = g0 + g1 * lor;                                                                           \
            dc[p] = u * g * fw;                                                                            \
            dF[p] = (u2 * g - one) * fw;                                                                   \
            dA[p] = dfda * wp;                                                                             \
        }                                                                                                  \
    }

LINE_DERIVATIVES(double, f64, exp)
LINE_DERIVATIVES(float, f32, expf)

/* spectrum i's Jacobian rows (k, m) into base (zeroed): each line's derivatives, through the affine
 * chain rule PLAN_* into the free parameters; d0, d1, d2 are work rows of m doubles */
#define JACOBIAN_ROW(T, SUFFIX)                                                                            \
    static void jacobian_row_##SUFFIX(long i, long L, long m, long width, const double *x, const double *key, \
                                      double sign, const double *C, const double *F, const double *A,       \
                                      const double *M, const double *NORM, const double *HALF,              \
                                      const long *PLAN_J, const double *PLAN_C, const long *PLAN_N,         \
                                      const double *W, T *d0, T *d1, T *d2, T *base) {       \
        const T *d[3] = {d0, d1, d2};                                                                 \
        for (long l = 0; l < L; l++) {                                                                     \
            long lo, hi;                                                                                   \
            line_derivatives_##SUFFIX(i, l, L, m, x, key, sign, C, F, A, M, NORM, HALF, W, d0, d1, d2, &lo, &hi);   \
            for (int q = 0; q < 3; q++) {                                                                  \
                const T *dq = d[q];                                                                   \
                for (long t = 0; t < PLAN_N[l * 3 + q]; t++) {                                             \
                    long e = (l * 3 + q) * width + t;                                                      \
                    T *dst = base + PLAN_J[e] * m;                                                         \
                    T cj = (T)PLAN_C[e];                                                                 \
                    _Pragma("omp simd") for (long p = lo; p < hi; p++) dst[p] += cj * dq[p];           \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
    }

/*
 * Normal equations of the stack fitter (specfit/fitting/batch.py, _normal): for spectrum i,
 * A_i = Jt_i Jt_i^T (k x k, symmetric: the upper triangle is computed and mirrored) and g_i = Jt_i r_i,
 * from its transposed Jacobian J (k, m) and residuals ri (m). Why in C: numpy's einsum makes a
 * pass over the Jacobian per output element with no SIMD reduction across points (0.44 ms per
 * 100-spectrum chunk in single precision, 0.87 ms in double; matmul goes through one BLAS call per
 * spectrum), while one spectrum's Jacobian (7 x 600 floats) sits in L1 here. The single-precision
 * version accumulates A in float (as einsum's does: the solver asked for single-precision products)
 * and g in double.
 */
#define NORMAL_ROW(T, SUFFIX, ACC)                                                                         \
    static void normal_row_##SUFFIX(long k, long m, const T *J, const double *ri, double *Ai, double *gi) { \
        for (long a = 0; a < k; a++) {                                                                     \
            const T *ja = J + a * m;                                                                       \
            long b = a;                                                                                    \
            /* four columns per pass: four independent sums (one would wait on each add's latency) */     \
            for (; b + 4 <= k; b += 4) {                                                                   \
                const T *j0 = J + b * m, *j1 = j0 + m, *j2 = j1 + m, *j3 = j2 + m;                        \
                ACC s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                                        \
                _Pragma("omp simd reduction(+:s0,s1,s2,s3)") for (long p = 0; p < m; p++) {                \
                    T v = ja[p];                                                                           \
                    s0 += v * j0[p]; s1 += v * j1[p]; s2 += v * j2[p]; s3 += v * j3[p];                     \
                }                                                                                          \
                Ai[a * k + b] = Ai[b * k + a] = (double)s0;                                                \
                Ai[a * k + b + 1] = Ai[(b + 1) * k + a] = (double)s1;                                      \
                Ai[a * k + b + 2] = Ai[(b + 2) * k + a] = (double)s2;                                      \
                Ai[a * k + b + 3] = Ai[(b + 3) * k + a] = (double)s3;                                      \
            }                                                                                              \
            for (; b < k; b++) {                                                                           \
                const T *jb = J + b * m;                                                                   \
                ACC s = 0;                                                                                 \
                _Pragma("omp simd reduction(+:s)") for (long p = 0; p < m; p++) s += ja[p] * jb[p];        \
                Ai[a * k + b] = Ai[b * k + a] = (double)s;                                                 \
            }                                                                                              \
            double s = 0.0;                                                                                \
            _Pragma("omp simd reduction(+:s)") for (long p = 0; p < m; p++) s += (double)ja[p] * ri[p];   \
            gi[a] = s;                                                                                     \
        }                                                                                                  \
    }

JACOBIAN_ROW(double, f64)
JACOBIAN_ROW(float, f32)
NORMAL_ROW(double, f64, double)
NORMAL_ROW(float, f32, float)

#define KERNEL_ARGS                                                                                        \
    long n, long L, long m, long k, long width, const double *x, const double *key, double sign,          \
        const double *C, const double *F, const double *A, const double *M, const double *NORM,          \
        const double *HALF, const long *PLAN_J, const double *PLAN_C, const long *PLAN_N, const double *W
#define ROW_ARGS L, m, width, x, key, sign, C, F, A, M, NORM, HALF, PLAN_J, PLAN_C, PLAN_N, W

/* the Jacobian (n, k, m) into out, which must be zeroed; returns -1 if out of memory */
#define JACOBIAN_BODY(T, SUFFIX)                                                                           \
    T *d = (T *)malloc(3 * (size_t)m * sizeof(T));                                                         \
    if (!d) return -1;                                                                                     \
    for (long i = 0; i < n; i++) jacobian_row_##SUFFIX(i, ROW_ARGS, d, d + m, d + 2 * m, out + i * k * m); \
    free(d);                                                                                               \
    return 0;

int gl_jacobian_f64(KERNEL_ARGS, double *out) { JACOBIAN_BODY(double, f64) }
int gl_jacobian_f32(KERNEL_ARGS, float *out) { JACOBIAN_BODY(float, f32) }

void normal_f32(long n, long k, long m, const float *Jt, const double *r, double *A, double *g) {
    for (long i = 0; i < n; i++) normal_row_f32(k, m, Jt + i * k * m, r + i * m, A + i * k * k, g + i * k);
}

void normal_f64(long n, long k, long m, const double *Jt, const double *r, double *A, double *g) {
    for (long i = 0; i < n; i++) normal_row_f64(k, m, Jt + i * k * m, r + i * m, A + i * k * k, g + i * k);
}

/*
 * J^T J (n, k, k) and J^T r (n, k) straight from the line parameters: each spectrum's Jacobian is made
 * in a work block of k x m (in L1/L2) and reduced there, never stored (the (n, k, m) Jacobian of a
 * 200-spectrum chunk is 3.4 MB in single precision: writing, zeroing and re-reading it cost as much as
 * computing it). Same numbers as gl_jacobian_* followed by normal_*. Returns -1 if out of memory.
 */
#define JACOBIAN_NORMAL_BODY(T, SUFFIX)                                                                    \
    T *d = (T *)malloc(3 * (size_t)m * sizeof(T));                                                         \
    T *J = (T *)malloc((size_t)k * m * sizeof(T));                                                         \
    if (!d || !J) {                                                                                        \
        free(d);                                                                                           \
        free(J);                                                                                           \
        return -1;                                                                                         \
    }                                                                                                      \
    for (long i = 0; i < n; i++) {                                                                         \
        memset(J, 0, (size_t)k * m * sizeof(T));                                                           \
        jacobian_row_##SUFFIX(i, ROW_ARGS, d, d + m, d + 2 * m, J);                                        \
        normal_row_##SUFFIX(k, m, J, r + i * m, Aout + i * k * k, gout + i * k);                           \
    }                                                                                                      \
    free(d);                                                                                               \
    free(J);                                                                                               \
    return 0;

int gl_normal_f64(KERNEL_ARGS, const double *r, double *Aout, double *gout) { JACOBIAN_NORMAL_BODY(double, f64) }
int gl_normal_f32(KERNEL_ARGS, const double *r, double *Aout, double *gout) { JACOBIAN_NORMAL_BODY(float, f32) }

/*
 * Eigen-decomposition of a batch of small symmetric matrices (k <= SYM_EIG_MAX_K), for the stack
 * solver's normal matrices (specfit/fitting/batch.py: _decompose, _covariance): W (n, k) ascending,
 * V (n, k, k) with the eigenvectors in its columns, as numpy.linalg.eigh returns them.
 *
 * Why not LAPACK (numpy.linalg.eigh): for 7 x 7 matrices its per-matrix overhead dominates (3.6 us
 * per matrix); cyclic Jacobi on eight matrices at once, one per SIMD lane, takes 1.1 us, to the same
 * accuracy (Jacobi is accurate to a few ulps of the largest eigenvalue, in relative terms for
 * well-scaled matrices). Rotations with a zero off-diagonal element are the identity, so a row and
 * column that are zero off the diagonal stay an exact unit eigenvector (the solver relies on it).
 * Sweeps continue until, in every lane, the off-diagonal Frobenius norm is below 1e-17 of the
 * diagonal's (quadratic convergence: 5-8 sweeps); returns the number of matrices that did not get
 * there in 60 sweeps (their results are still the last iterate).
 */
#define SYM_EIG_MAX_K 16
#define EIG_LANES 8

long sym_eig(long n, long k, const double *Min, double *W, double *Vout) {
    double a[SYM_EIG_MAX_K * SYM_EIG_MAX_K][EIG_LANES], v[SYM_EIG_MAX_K * SYM_EIG_MAX_K][EIG_LANES];
    long failed = 0;
    if (k > SYM_EIG_MAX_K) return n;
    for (long i0 = 0; i0 < n; i0 += EIG_LANES) {
        for (long l = 0; l < EIG_LANES; l++) {
            long i = i0 + l < n ? i0 + l : n - 1; /* a short last group repeats the last matrix */
            for (long e = 0; e < k * k; e++) {
                a[e][l] = Min[i * k * k + e];
                v[e][l] = 0.0;
            }
            for (long p = 0; p < k; p++) v[p * k + p][l] = 1.0;
        }
        int converged = 0;
        for (int sweep = 0; sweep < 60 && !converged; sweep++) {
            double off[EIG_LANES] = {0}, diag[EIG_LANES] = {0};
            for (long p = 0; p < k; p++) {
                for (long l = 0; l < EIG_LANES; l++) diag[l] += a[p * k + p][l] * a[p * k + p][l];
                for (long q = p + 1; q < k; q++)
                    for (long l = 0; l < EIG_LANES; l++) off[l] += a[p * k + q][l] * a[p * k + q][l];
            }
            converged = 1;
            for (long l = 0; l < EIG_LANES; l++)
                if (!(off[l] <= 1e-34 * diag[l])) converged = 0;
            if (converged) break;
            for (long p = 0; p < k - 1; p++) {
                for (long q = p + 1; q < k; q++) {
                    double c[EIG_LANES], s[EIG_LANES];
                    for (long l = 0; l < EIG_LANES; l++) { /* the rotation zeroing a[p][q] (Rutishauser) */
                        double apq = a[p * k + q][l];
                        double theta = 0.5 * (a[q * k + q][l] - a[p * k + p][l]) / (apq == 0.0 ? 1.0 : apq);
                        /* for huge theta (a negligible a[p][q]) t -> 1/(2 theta), without squaring it
                         * (no overflow: the kernels are built with -ffinite-math-only) */
                        int big = fabs(theta) > 1e100;
                        double t = big ? 0.5 / fabs(theta) : 1.0 / (fabs(theta) + sqrt(big ? 1.0 : theta * theta + 1.0));
                        t = theta < 0.0 ? -t : t;
                        t = apq == 0.0 ? 0.0 : t;
                        c[l] = 1.0 / sqrt(t * t + 1.0);
                        s[l] = t * c[l];
                    }
                    for (long r = 0; r < k; r++)
                        for (long l = 0; l < EIG_LANES; l++) {
                            double arp = a[r * k + p][l], arq = a[r * k + q][l];
                            a[r * k + p][l] = c[l] * arp - s[l] * arq;
                            a[r * k + q][l] = s[l] * arp + c[l] * arq;
                        }
                    for (long r = 0; r < k; r++)
                        for (long l = 0; l < EIG_LANES; l++) {
                            double apr = a[p * k + r][l], aqr = a[q * k + r][l];
                            a[p * k + r][l] = c[l] * apr - s[l] * aqr;
                            a[q * k + r][l] = s[l] * apr + c[l] * aqr;
                        }
                    for (long l = 0; l < EIG_LANES; l++) a[p * k + q][l] = a[q * k + p][l] = 0.0;
                    for (long r = 0; r < k; r++)
                        for (long l = 0; l < EIG_LANES; l++) {
                            double vrp = v[r * k + p][l], vrq = v[r * k + q][l];
                            v[r * k + p][l] = c[l] * vrp - s[l] * vrq;
                            v[r * k + q][l] = s[l] * vrp + c[l] * vrq;
                        }
                }
            }
        }
        for (long l = 0; l < EIG_LANES && i0 + l < n; l++) {
            long idx[SYM_EIG_MAX_K];
            if (!converged) {
                double off = 0.0, diag = 0.0;
                for (long p = 0; p < k; p++) {
                    diag += a[p * k + p][l] * a[p * k + p][l];
                    for (long q = p + 1; q < k; q++) off += a[p * k + q][l] * a[p * k + q][l];
                }
                if (!(off <= 1e-34 * diag)) failed++;
            }
            for (long p = 0; p < k; p++) idx[p] = p;
            for (long p = 0; p < k; p++) { /* ascending eigenvalues, stable for ties */
                long b = p;
                for (long q = p + 1; q < k; q++)
                    if (a[idx[q] * k + idx[q]][l] < a[idx[b] * k + idx[b]][l]) b = q;
                long t = idx[b];
                for (long q = b; q > p; q--) idx[q] = idx[q - 1];
                idx[p] = t;
            }
            double *w = W + (i0 + l) * k, *V = Vout + (i0 + l) * k * k;
            for (long p = 0; p < k; p++) {
                w[p] = a[idx[p] * k + idx[p]][l];
                for (long r = 0; r < k; r++) V[r * k + p] = v[r * k + idx[p]][l];
            }
        }
    }
    return failed;
}

/*
 * Iterative Shirley background of each row of y (n, m), as specfit.backgrounds._shirley_iterate does
 * it (same fixed point, same per-row stopping rule): bg (n, m) is the output, started at each row's
 * no-loss-end level lo; xs (m) are distances from the no-loss end; uniform != 0 uses the uniform-grid
 * form. The caller passes finite data only (-ffinite-math-only).
 */
void shirley_rows(long n, long m, const double *y, const double *lo, const double *hi, const double *xs,
                  int uniform, double limit, long max_iter, double *bg) {
    double *cum = (double *)malloc((size_t)m * sizeof(double));
    if (!cum) return;
    for (long i = 0; i < n; i++) {
        const double *yr = y + i * m;
        double *b = bg + i * m;
        for (long p = 0; p < m; p++) b[p] = lo[i];
        for (long it = 0; it < max_iter; it++) {
            double total, factor, offset;
            if (uniform) {
                double s = 0.0, d0 = yr[0] - b[0];
                for (long p = 0; p < m; p++) {
                    double d = yr[p] - b[p];
                    s += d;
                    cum[p] = s - 0.5 * d;
                }
                total = cum[m - 1] - 0.5 * d0;
                offset = -0.5 * d0;
            } else {
                double s = 0.0;
                cum[0] = 0.0;
                for (long p = 1; p < m; p++) {
                    s += 0.5 * ((yr[p - 1] - b[p - 1]) + (yr[p] - b[p])) * (xs[p] - xs[p - 1]);
                    cum[p] = s;
                }
                total = cum[m - 1];
                offset = 0.0;
            }
            double change = 0.0;
            if (fabs(total) > 0.0) {
                factor = (hi[i] - lo[i]) / total;
                for (long p = 0; p < m; p++) {
                    double v = lo[i] + (cum[p] + offset) * factor;
                    double dv = fabs(b[p] - v);
                    if (dv > change) change = dv;
                    b[p] = v;
                }
            } else {
                for (long p = 0; p < m; p++) {
                    double dv = fabs(b[p] - lo[i]);
                    if (dv > change) change = dv;
                    b[p] = lo[i];
                }
            }
            if (!(change > limit)) break;
        }
    }
    free(cum);
}
