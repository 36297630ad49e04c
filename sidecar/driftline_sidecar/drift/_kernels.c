/* driftline_sidecar.drift._kernels: the KS statistic and the Wasserstein-1 distance of two
 * sorted samples from one merge walk (optional; drift/_merge_walk.py falls back to numpy).
 *
 * ks_wasserstein(sample, window) -> (statistic, distance), two C-contiguous float64 buffers,
 * each sorted, finite and non-empty (checked: ValueError otherwise), and n1 * n2 < 2**50.
 *
 * The walk consumes the merged values in order, the sample's first on ties, keeping
 * k = i*n2 - j*n1 (i, j: values consumed from each side), so F_sample - F_window = k / (n1*n2).
 * Every value consumed closes the interval from the previous one:
 *
 *   distance  += |k| * (v - prev)       (scipy.stats.wasserstein_distance's terms, times n1*n2)
 *   statistic:  k is a candidate when v > prev (the previous value's last copy on both sides:
 *               one of the points where scipy.stats.ks_2samp evaluates its searchsorted counts)
 *
 * k is an integer below 2**53, so it is exact as a double, and two candidates of different k
 * differ by at least 1 / (n1*n2) > 2**-50, more than the rounding error of scipy's
 * i/n1 - j/n2 (under 2**-52). So scipy's extremes are at the points of largest and smallest k,
 * where its expression i/n1 - j/n2 is then evaluated as scipy does (different points of equal k
 * can round differently: the largest rounding is kept). The statistic is bit-equal to scipy's;
 * the distance sums the same terms in another order, each one rounded once.
 *
 * Speed: each step of a merge waits for the previous comparison (load, compare, advance: about
 * 10 cycles). The merge is cut into LANES stretches of equal length (binary searches on the
 * merge path) that are walked in lock-step, so the processor overlaps them. The extremes are
 * kept per BLOCK steps of each stretch; afterwards only the blocks holding the largest or
 * smallest k are walked again to evaluate scipy's expression. The GIL is released around it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define LANES 3
#if LANES != 3
#error "walk_both unrolls exactly three lanes (a, b, c): change it with LANES"
#endif
#define BLOCK 256
#define MAX_PRODUCT 1125899906842624.0 /* 2**50 */

typedef struct {
    Py_ssize_t i, j; /* state before the block's first step */
    Py_ssize_t steps;
    double prev;     /* the value consumed just before that step */
    double hi, lo;   /* largest and smallest candidate k in the block (0 included) */
} Block;

typedef struct {
    const double *x, *y;
    Py_ssize_t n1, n2;
} Pair;

typedef struct {
    const double *xp, *yp;
    double k, prev, sum, hi, lo;
} Lane;

/* Whether a[0..n) is finite and sorted: NaN anywhere fails a ">=". The walk trusts this for its
 * bounds, so it runs on every call; SSE2 (every x86-64) halves its cost, since compilers do not
 * vectorise the scalar loop. */
static int
sorted_finite(const double *a, Py_ssize_t n)
{
    int bad = !(a[0] > -HUGE_VAL) | !(a[n - 1] < HUGE_VAL);
    Py_ssize_t t = 1;
#if defined(__SSE2__)
    __m128d even = _mm_setzero_pd(), odd = _mm_setzero_pd();
    for (; t + 4 <= n; t += 4) {
        even = _mm_or_pd(even, _mm_cmpnge_pd(_mm_loadu_pd(a + t), _mm_loadu_pd(a + t - 1)));
        odd = _mm_or_pd(odd, _mm_cmpnge_pd(_mm_loadu_pd(a + t + 2), _mm_loadu_pd(a + t + 1)));
    }
    bad |= _mm_movemask_pd(_mm_or_pd(even, odd));
#endif
    for (; t < n; t++) {
        bad |= !(a[t] >= a[t - 1]);
    }
    return !bad;
}

/* Values of a[0..n) below v (or_equal: at most v). */
static Py_ssize_t
count_below(const double *a, Py_ssize_t n, double v, int or_equal)
{
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v || (or_equal && a[mid] == v)) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo;
}

/* How many sample values are among the first d merged values (sample first on ties). */
static Py_ssize_t
split(const Pair *p, Py_ssize_t d)
{
    Py_ssize_t lo = d > p->n2 ? d - p->n2 : 0, hi = d < p->n1 ? d : p->n1;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (p->x[mid] > p->y[d - 1 - mid]) {
            hi = mid;
        }
        else {
            lo = mid + 1;
        }
    }
    return lo;
}

/* The value consumed last when i sample and j window values are consumed (i + j > 0). */
static double
last_value(const Pair *p, Py_ssize_t i, Py_ssize_t j)
{
    if (i == 0) {
        return p->y[j - 1];
    }
    if (j == 0) {
        return p->x[i - 1];
    }
    return p->x[i - 1] > p->y[j - 1] ? p->x[i - 1] : p->y[j - 1];
}

/* One step; no bounds checks: the caller keeps both sides unexhausted. Branch-free on purpose
 * (the comparison is unpredictable), hence the increment table and the operand orders that
 * compile to minsd/maxsd. */
#define STEP(L)                                        \
    do {                                               \
        double a_ = *(L).xp, b_ = *(L).yp;             \
        Py_ssize_t take_ = a_ <= b_;                   \
        double v_ = b_ < a_ ? b_ : a_;                 \
        double gap_ = v_ - (L).prev;                   \
        (L).prev = v_;                                 \
        (L).sum += fabs((L).k) * gap_;                 \
        double cand_ = gap_ > 0.0 ? (L).k : 0.0;       \
        (L).hi = (L).hi > cand_ ? (L).hi : cand_;      \
        (L).lo = (L).lo < cand_ ? (L).lo : cand_;      \
        (L).k += increment[take_];                     \
        (L).xp += take_;                               \
        (L).yp += 1 - take_;                           \
    } while (0)

static Lane
lane_at(const Pair *p, Py_ssize_t d)
{
    Py_ssize_t i = split(p, d), j = d - i;
    Lane lane;
    lane.xp = p->x + i;
    lane.yp = p->y + j;
    lane.k = (double)i * (double)p->n2 - (double)j * (double)p->n1;
    lane.prev = d == 0 ? (p->x[0] < p->y[0] ? p->x[0] : p->y[0]) : last_value(p, i, j);
    lane.sum = lane.hi = lane.lo = 0.0;
    return lane;
}

static void
open_block(const Pair *p, Block *block, Lane *lane, Py_ssize_t steps)
{
    block->i = lane->xp - p->x;
    block->j = lane->yp - p->y;
    block->steps = steps;
    block->prev = lane->prev;
    lane->hi = lane->lo = 0.0;
}

static void
close_block(Block *block, const Lane *lane)
{
    block->hi = lane->hi;
    block->lo = lane->lo;
}

/* Walk both sides until the first is used up; return the number of blocks written. */
static Py_ssize_t
walk_both(const Pair *p, Py_ssize_t region, Block *blocks, double *sum)
{
    const double increment[2] = {-(double)p->n1, (double)p->n2};
    Lane lanes[LANES];
    Py_ssize_t length[LANES], shortest = region, used = 0;
    for (int q = 0; q < LANES; q++) {
        Py_ssize_t start = region * q / LANES, end = region * (q + 1) / LANES;
        lanes[q] = lane_at(p, start);
        length[q] = end - start;
        shortest = length[q] < shortest ? length[q] : shortest;
    }
    Py_ssize_t rounds = shortest / BLOCK;
    for (Py_ssize_t r = 0; r < rounds; r++) {
        Lane a = lanes[0], b = lanes[1], c = lanes[2];
        open_block(p, &blocks[used], &a, BLOCK);
        open_block(p, &blocks[used + 1], &b, BLOCK);
        open_block(p, &blocks[used + 2], &c, BLOCK);
        for (int t = 0; t < BLOCK; t++) {
            STEP(a);
            STEP(b);
            STEP(c);
        }
        close_block(&blocks[used], &a);
        close_block(&blocks[used + 1], &b);
        close_block(&blocks[used + 2], &c);
        lanes[0] = a, lanes[1] = b, lanes[2] = c;
        used += LANES;
    }
    for (int q = 0; q < LANES; q++) {
        Lane lane = lanes[q];
        Py_ssize_t left = length[q] - rounds * BLOCK;
        open_block(p, &blocks[used], &lane, left);
        for (Py_ssize_t t = 0; t < left; t++) {
            STEP(lane);
        }
        close_block(&blocks[used++], &lane);
        *sum += lane.sum;
    }
    return used;
}

/* Walk what is left of one side after the other is used up: one block. */
static void
walk_rest(const Pair *p, Py_ssize_t region, Block *block, double *sum)
{
    Py_ssize_t i = split(p, region), j = region - i;
    Lane lane = lane_at(p, region);
    int sample_left = i < p->n1;
    const double *value = sample_left ? p->x + i : p->y + j;
    Py_ssize_t left = sample_left ? p->n1 - i : p->n2 - j;
    double step = sample_left ? (double)p->n2 : -(double)p->n1;
    open_block(p, block, &lane, left);
    for (Py_ssize_t t = 0; t < left; t++) {
        double gap = value[t] - lane.prev;
        lane.prev = value[t];
        lane.sum += fabs(lane.k) * gap;
        double cand = gap > 0.0 ? lane.k : 0.0;
        lane.hi = lane.hi > cand ? lane.hi : cand;
        lane.lo = lane.lo < cand ? lane.lo : cand;
        lane.k += step;
    }
    close_block(block, &lane);
    *sum += lane.sum;
}

/* scipy's i/n1 - j/n2, largest (sign 1) or smallest (sign -1) over the block's candidates
 * whose k is target. */
static double
extreme_in(const Pair *p, const Block *block, double target, int sign)
{
    Py_ssize_t i = block->i, j = block->j;
    double prev = block->prev, best = sign > 0 ? -HUGE_VAL : HUGE_VAL;
    double k = (double)i * (double)p->n2 - (double)j * (double)p->n1;
    for (Py_ssize_t t = 0; t < block->steps; t++) {
        int take = j >= p->n2 || (i < p->n1 && p->x[i] <= p->y[j]);
        double v = take ? p->x[i] : p->y[j];
        if (v > prev && k == target) {
            double f = (double)i / (double)p->n1 - (double)j / (double)p->n2;
            best = sign > 0 ? (f > best ? f : best) : (f < best ? f : best);
        }
        prev = v;
        k += take ? (double)p->n2 : -(double)p->n1;
        i += take;
        j += !take;
    }
    return best;
}

/* scipy's extreme of i/n1 - j/n2 over all blocks: at the candidates of largest |k| on one side. */
static double
extreme(const Pair *p, const Block *blocks, Py_ssize_t count, int sign)
{
    double target = 0.0, best = 0.0;
    for (Py_ssize_t b = 0; b < count; b++) {
        double k = sign > 0 ? blocks[b].hi : blocks[b].lo;
        target = sign * k > sign * target ? k : target;
    }
    if (target == 0.0) {
        return 0.0; /* i/n1 == j/n2 exactly: scipy's difference is 0.0 */
    }
    best = sign > 0 ? -HUGE_VAL : HUGE_VAL;
    for (Py_ssize_t b = 0; b < count; b++) {
        if ((sign > 0 ? blocks[b].hi : blocks[b].lo) == target) {
            double f = extreme_in(p, &blocks[b], target, sign);
            best = sign > 0 ? (f > best ? f : best) : (f < best ? f : best);
        }
    }
    return best;
}

static int
walk(const Pair *p, Block *blocks, double *statistic, double *distance)
{
    if (!sorted_finite(p->x, p->n1) || !sorted_finite(p->y, p->n2)) {
        return -1;
    }
    const double *x = p->x, *y = p->y;
    Py_ssize_t region = x[p->n1 - 1] <= y[p->n2 - 1]
                            ? p->n1 + count_below(y, p->n2, x[p->n1 - 1], 0)
                            : p->n2 + count_below(x, p->n1, y[p->n2 - 1], 1);
    double sum = 0.0;
    Py_ssize_t count = walk_both(p, region, blocks, &sum);
    walk_rest(p, region, &blocks[count++], &sum);
    double high = extreme(p, blocks, count, 1);
    double low = -extreme(p, blocks, count, -1);
    low = low < 0.0 ? 0.0 : (low > 1.0 ? 1.0 : low); /* scipy: np.clip(-min, 0, 1) */
    *statistic = low > high ? low : high;
    *distance = sum / ((double)p->n1 * (double)p->n2);
    return 0;
}

static int
float64_vector(PyObject *obj, Py_buffer *view, const char *name)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        return -1;
    }
    const char *format = view->format == NULL ? "B" : view->format;
    if (format[0] == '@' || format[0] == '=' || format[0] == '<') {
        format++;
    }
    if (view->ndim != 1 || view->itemsize != 8 || strcmp(format, "d") != 0) {
        PyErr_Format(PyExc_TypeError, "%s must be a 1-d float64 array", name);
        PyBuffer_Release(view);
        return -1;
    }
    if (view->shape[0] == 0) {
        PyErr_Format(PyExc_ValueError, "%s is empty", name);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(ks_wasserstein_doc,
             "ks_wasserstein(sample, window, /)\n--\n\n"
             "Return (ks_2samp statistic, wasserstein_distance) of two sorted, finite, non-empty\n"
             "float64 arrays, from one merge walk.");

static PyObject *
ks_wasserstein(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "ks_wasserstein takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    Py_buffer sample, window;
    if (float64_vector(args[0], &sample, "sample") < 0) {
        return NULL;
    }
    if (float64_vector(args[1], &window, "window") < 0) {
        PyBuffer_Release(&sample);
        return NULL;
    }
    Pair pair = {sample.buf, window.buf, sample.shape[0], window.shape[0]};
    PyObject *result = NULL;
    Block *blocks = NULL;
    if ((double)pair.n1 * (double)pair.n2 >= MAX_PRODUCT) {
        PyErr_SetString(PyExc_ValueError, "sample size times window size must be below 2**50");
        goto done;
    }
    blocks = PyMem_Malloc(sizeof(Block) * (size_t)((pair.n1 + pair.n2) / BLOCK + LANES + 2));
    if (blocks == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    double statistic = 0.0, distance = 0.0;
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = walk(&pair, blocks, &statistic, &distance);
    Py_END_ALLOW_THREADS
    if (status < 0) {
        PyErr_SetString(PyExc_ValueError, "sample and window must be sorted and finite");
        goto done;
    }
    result = Py_BuildValue("(dd)", statistic, distance);
done:
    PyMem_Free(blocks);
    PyBuffer_Release(&window);
    PyBuffer_Release(&sample);
    return result;
}

static PyMethodDef methods[] = {
    {"ks_wasserstein", (PyCFunction)(void (*)(void))ks_wasserstein, METH_FASTCALL,
     ks_wasserstein_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "driftline_sidecar.drift._kernels",
    .m_doc = "The drift engine's optional C kernels (see drift/_merge_walk.py).",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__kernels(void)
{
    return PyModule_Create(&module);
}
