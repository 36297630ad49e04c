/* driftline._speedups: the commonest decorated call in C (optional; see docs/sdk.md#speed).
 *
 * Wrapper is what @monitor returns for a sync, non-batch function when this
 * extension is built. A call whose binding has a Plan (built by
 * _call.plan_for when the calls can take the short path: no tracer, no
 * prediction or features function, no privacy policy, no challenger) runs
 * here; any other call goes to the Python sync_call, the fallback. The steps,
 * their order and the objects they touch are those of _wrappers.sync_call and
 * _call.success_finisher, which stay the reference (keep them in step):
 *
 *   number = next(_ids.numbers); start = perf_counter(); next(started)
 *   prev = STATE.get(); cell = [number, start, prev, False]; STATE.set(cell)
 *   result = fn(*args, **kwargs)     (raised: fail(exc, args, kwargs, cell, start), re-raise)
 *   cell[3] = True; forget done cells    (as _context.leave)
 *   a float result whose features, if captured, are a dict argument: append
 *   the duration and the value to the Pending buffers (fold at fold_at), queue
 *   the record (CALL, model, version, role, number, start, None, features,
 *   result) as CaptureQueue._put_one does, write the log line at log_rate;
 *   anything else: finish(...), the Python finisher, does it all.
 *
 * Telemetry never raises into the caller: an error after the model returned
 * is cleared and counted with telemetry_error("metric") (or "capture" for the
 * record), as in Python. Pending, the buffer of doubles ModelStats appends to,
 * is here too: appending a float to an array('d') costs more than the rest.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Pending: a growable buffer of doubles, for ModelStats' pending durations and values.
 *
 * append(x) takes a float (or anything float() of which PyFloat_AsDouble takes) in one C call;
 * take(n) removes the first n values and returns them as bytes, for numpy.frombuffer. Each is
 * one C call under the GIL, so appends from many threads and a fold are safe without a lock:
 * values appended after take(n) read the length stay for the next take. */
typedef struct {
    PyObject_HEAD
    double *data;
    Py_ssize_t size;
    Py_ssize_t capacity;
} Pending;

static PyTypeObject PendingType;

static int
pending_push(Pending *self, double value)
{
    if (self->size == self->capacity) {
        Py_ssize_t capacity = self->capacity < 64 ? 64 : self->capacity * 2;
        double *data = PyMem_Realloc(self->data, (size_t)capacity * sizeof(double));
        if (data == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->data = data;
        self->capacity = capacity;
    }
    self->data[self->size++] = value;
    return 0;
}

static PyObject *
pending_append(Pending *self, PyObject *item)
{
    double value = PyFloat_AsDouble(item);
    if (value == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    if (pending_push(self, value) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
pending_take(Pending *self, PyObject *arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (n < 0 || n > self->size) {
        PyErr_Format(PyExc_ValueError, "take(n): n must be in 0..%zd, got %zd", self->size, n);
        return NULL;
    }
    PyObject *taken = PyBytes_FromStringAndSize((const char *)self->data,
                                                n * (Py_ssize_t)sizeof(double));
    if (taken == NULL) {
        return NULL;
    }
    memmove(self->data, self->data + n, (size_t)(self->size - n) * sizeof(double));
    self->size -= n;
    if (self->size == 0 && self->capacity > 4096) { /* give back a burst's memory */
        PyMem_Free(self->data);
        self->data = NULL;
        self->capacity = 0;
    }
    return taken;
}

static Py_ssize_t
pending_length(Pending *self)
{
    return self->size;
}

static PyObject *
pending_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) != 0)) {
        PyErr_SetString(PyExc_TypeError, "Pending() takes no arguments");
        return NULL;
    }
    return type->tp_alloc(type, 0);
}

static void
pending_dealloc(Pending *self)
{
    PyMem_Free(self->data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef pending_methods[] = {
    {"append", (PyCFunction)pending_append, METH_O,
     PyDoc_STR("append(x): add float(x) at the end.")},
    {"take", (PyCFunction)pending_take, METH_O,
     PyDoc_STR("take(n) -> bytes: remove the first n values and return them as C doubles.")},
    {NULL},
};

static PySequenceMethods pending_as_sequence = {
    .sq_length = (lenfunc)pending_length,
};

static PyTypeObject PendingType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "driftline._speedups.Pending",
    .tp_doc = PyDoc_STR("Pending(): doubles appended one at a time, taken in bulk; see "
                        "_metrics.ModelStats."),
    .tp_basicsize = sizeof(Pending),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = pending_new,
    .tp_dealloc = (destructor)pending_dealloc,
    .tp_methods = pending_methods,
    .tp_as_sequence = &pending_as_sequence,
};

/* IdFormat: _ids.format_id in C. The Python function stays, for installs without this extension,
 * and the tests compare the two. format(number, start) is the UUIDv7 string of sequence number
 * `number` taken just before perf_counter() read `start`; reset(anchor_ms, anchor_perf, middle)
 * sets this process's anchors and random bits, as _ids._reset does at import and in a forked
 * child. The first 24 characters are cached for the last millisecond, as _ids._prefix does. */
#define ID_SEQUENCE_MASK 0xFFFFFFFFFFFFULL
#define ID_MIDDLE_MAX 15

typedef struct {
    PyObject_HEAD
    long long anchor_ms;
    double anchor_perf;
    char middle[ID_MIDDLE_MAX + 1];
    long long head_ms; /* -1: nothing cached */
    char head[64];
    Py_ssize_t head_length;
} IdFormat;

static const char hex_digits[] = "0123456789abcdef";

static PyObject *
idformat_format(IdFormat *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "format(number, start) takes exactly 2 arguments");
        return NULL;
    }
    unsigned long long number = PyLong_AsUnsignedLongLong(args[0]);
    if (number == (unsigned long long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    double start = PyFloat_AsDouble(args[1]);
    if (start == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    /* int() in Python truncates toward zero, as this cast does; the range keeps it defined. */
    double offset = (start - self->anchor_perf) * 1000.0;
    if (!(offset > -1e15 && offset < 1e15)) {
        PyErr_SetString(PyExc_OverflowError, "start is too far from the anchor");
        return NULL;
    }
    long long ms = self->anchor_ms + (long long)offset + (long long)(number >> 48);
    if (ms < 0) { /* before the cache: head_ms is -1 when nothing is cached */
        PyErr_SetString(PyExc_OverflowError, "the id's milliseconds are negative");
        return NULL;
    }
    if (ms != self->head_ms) {
        int length = snprintf(self->head, sizeof self->head, "%08llx-%04llx-7%s",
                              (unsigned long long)ms >> 16, (unsigned long long)ms & 0xFFFF,
                              self->middle);
        if (length < 0 || length >= (int)sizeof self->head) {
            PyErr_SetString(PyExc_OverflowError, "the id's head does not fit");
            return NULL;
        }
        self->head_length = length;
        self->head_ms = ms;
    }
    PyObject *id = PyUnicode_New(self->head_length + 12, 127);
    if (id == NULL) {
        return NULL;
    }
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(id);
    memcpy(out, self->head, (size_t)self->head_length);
    unsigned long long sequence = number & ID_SEQUENCE_MASK;
    for (Py_ssize_t i = self->head_length + 11; i >= self->head_length; i--) {
        out[i] = (Py_UCS1)hex_digits[sequence & 15];
        sequence >>= 4;
    }
    return id;
}

static PyObject *
idformat_reset(IdFormat *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError,
                        "reset(anchor_ms, anchor_perf, middle) takes exactly 3 arguments");
        return NULL;
    }
    long long anchor_ms = PyLong_AsLongLong(args[0]);
    if (anchor_ms == -1 && PyErr_Occurred()) {
        return NULL;
    }
    double anchor_perf = PyFloat_AsDouble(args[1]);
    if (anchor_perf == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t length;
    const char *middle = PyUnicode_Check(args[2]) ? PyUnicode_AsUTF8AndSize(args[2], &length) : NULL;
    if (middle == NULL || length > ID_MIDDLE_MAX || !PyUnicode_IS_ASCII(args[2])) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "middle must be an ASCII str of at most 15 characters");
        return NULL;
    }
    self->anchor_ms = anchor_ms;
    self->anchor_perf = anchor_perf;
    memcpy(self->middle, middle, (size_t)length + 1);
    self->head_ms = -1;
    Py_RETURN_NONE;
}

static PyObject *
idformat_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) != 0)) {
        PyErr_SetString(PyExc_TypeError, "IdFormat() takes no arguments");
        return NULL;
    }
    IdFormat *self = (IdFormat *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->head_ms = -1;
    }
    return (PyObject *)self;
}

static PyMethodDef idformat_methods[] = {
    {"format", (PyCFunction)(void (*)(void))idformat_format, METH_FASTCALL,
     PyDoc_STR("format(number, start) -> str: as _ids.format_id.")},
    {"reset", (PyCFunction)(void (*)(void))idformat_reset, METH_FASTCALL,
     PyDoc_STR("reset(anchor_ms, anchor_perf, middle): set the anchors, as _ids._reset.")},
    {NULL},
};

static PyTypeObject IdFormatType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "driftline._speedups.IdFormat",
    .tp_doc = PyDoc_STR("IdFormat(): prediction ids formatted in C; see _ids.format_id."),
    .tp_basicsize = sizeof(IdFormat),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = idformat_new,
    .tp_methods = idformat_methods,
};

typedef struct {
    PyObject_HEAD
    PyObject *ids;             /* the dict of driftline._ids: "numbers" is replaced in a forked child */
    PyObject *started;         /* ModelStats.started, an itertools.count */
    PyObject *state;           /* _context.STATE */
    PyObject *perf_counter;
    PyObject *random;
    PyObject *durations;       /* ModelStats.pending_durations, a Pending */
    PyObject *values;          /* ModelStats.pending_values, a Pending */
    Py_ssize_t fold_at;
    PyObject *fold;            /* ModelStats.fold */
    PyObject *queue;           /* the CaptureQueue, or None: submit_call is the sink's */
    PyObject *submit_call;     /* the sink's submit_call, or None: no capture */
    PyObject *call_tag;        /* _wire.CALL */
    PyObject *model;
    PyObject *version;
    PyObject *role;
    double capture_rate;
    Py_ssize_t index;          /* the argument the features are */
    double log_rate;
    PyObject *log;             /* log(cell, duration) */
    PyObject *finish;          /* Binding.finish_success */
    PyObject *fail;            /* fail(exc, args, kwargs, cell, start) */
    PyObject *running_from;    /* _context.running_from */
    PyObject *telemetry_error; /* Binding.telemetry_error */
    /* The queue's attributes that CaptureQueue._reset_state sets together, read again
     * whenever its _slots is another object (a forked child's queue is reset). */
    PyObject *slots;
    PyObject *reserve;
    PyObject *append;
    PyObject *full;
    PyObject *wake;
    Py_ssize_t wake_at;
} Plan;

static PyObject *str_numbers;
static PyObject *str_metric;
static PyObject *str_capture;
static PyObject *str_append;
static PyObject *str_reserve;
static PyObject *str_append_entry;
static PyObject *str_set;
static PyObject *str_detour;
static PyObject *str_slots;
static PyObject *str_wake_at;
static PyObject *str_wake;
static PyObject *str_full;
static PyObject *str_put_one;

static int
plan_traverse(Plan *self, visitproc visit, void *arg)
{
    Py_VISIT(self->ids);
    Py_VISIT(self->started);
    Py_VISIT(self->state);
    Py_VISIT(self->perf_counter);
    Py_VISIT(self->random);
    Py_VISIT(self->durations);
    Py_VISIT(self->values);
    Py_VISIT(self->fold);
    Py_VISIT(self->queue);
    Py_VISIT(self->submit_call);
    Py_VISIT(self->call_tag);
    Py_VISIT(self->model);
    Py_VISIT(self->version);
    Py_VISIT(self->role);
    Py_VISIT(self->log);
    Py_VISIT(self->finish);
    Py_VISIT(self->fail);
    Py_VISIT(self->running_from);
    Py_VISIT(self->telemetry_error);
    Py_VISIT(self->slots);
    Py_VISIT(self->reserve);
    Py_VISIT(self->append);
    Py_VISIT(self->full);
    Py_VISIT(self->wake);
    return 0;
}

static int
plan_clear(Plan *self)
{
    Py_CLEAR(self->ids);
    Py_CLEAR(self->started);
    Py_CLEAR(self->state);
    Py_CLEAR(self->perf_counter);
    Py_CLEAR(self->random);
    Py_CLEAR(self->durations);
    Py_CLEAR(self->values);
    Py_CLEAR(self->fold);
    Py_CLEAR(self->queue);
    Py_CLEAR(self->submit_call);
    Py_CLEAR(self->call_tag);
    Py_CLEAR(self->model);
    Py_CLEAR(self->version);
    Py_CLEAR(self->role);
    Py_CLEAR(self->log);
    Py_CLEAR(self->finish);
    Py_CLEAR(self->fail);
    Py_CLEAR(self->running_from);
    Py_CLEAR(self->telemetry_error);
    Py_CLEAR(self->slots);
    Py_CLEAR(self->reserve);
    Py_CLEAR(self->append);
    Py_CLEAR(self->full);
    Py_CLEAR(self->wake);
    return 0;
}

static void
plan_dealloc(Plan *self)
{
    PyObject_GC_UnTrack(self);
    plan_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* time.perf_counter() as a double. On Linux it is CLOCK_MONOTONIC read here, converted as
 * CPython converts it (_PyTime_AsSecondsDouble); elsewhere, or if that read fails, the Python
 * function is called. On failure *failed is set and an error may be set. */
static inline double
clock_now(Plan *self, int *failed)
{
#if defined(__linux__)
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0) {
        int64_t ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        volatile double seconds; /* as CPython: no change to how the division rounds */
        if (ns % 1000000000 == 0) {
            seconds = (double)(ns / 1000000000);
        }
        else {
            seconds = (double)ns;
            seconds /= 1e9;
        }
        return seconds;
    }
#endif
    PyObject *now = PyObject_CallNoArgs(self->perf_counter);
    if (now == NULL) {
        *failed = 1;
        return 0.0;
    }
    double value = PyFloat_AsDouble(now);
    Py_DECREF(now);
    if (value == -1.0 && PyErr_Occurred()) {
        *failed = 1;
    }
    return value;
}

/* Whether the error set is no Exception (KeyboardInterrupt, SystemExit): the Python path's
 * `except Exception` lets those reach the caller, so the C path keeps them set and stops. */
static inline int
fatal(void)
{
    return PyErr_Occurred() != NULL && !PyErr_ExceptionMatches(PyExc_Exception);
}

/* random() as a C double; 1.0 (never sampled) when it fails. */
static inline double
draw(Plan *self)
{
    PyObject *value = PyObject_CallNoArgs(self->random);
    double drawn = value != NULL ? PyFloat_AsDouble(value) : -1.0;
    Py_XDECREF(value);
    if (drawn == -1.0 && PyErr_Occurred()) {
        if (!fatal()) {
            PyErr_Clear();
        }
        return 1.0; /* not sampled; a fatal error stays set for the caller to see */
    }
    return drawn;
}

static inline int
append_to(PyObject *pending, PyObject *item)
{
    if (Py_TYPE(pending) == &PendingType) {
        return pending_push((Pending *)pending, PyFloat_AS_DOUBLE(item));
    }
    PyObject *done = PyObject_CallMethodOneArg(pending, str_append, item);
    if (done == NULL) {
        return -1;
    }
    Py_DECREF(done);
    return 0;
}

/* Count a failure of driftline's own `signal` with Binding.telemetry_error and clear it; a
 * fatal error (see fatal) stays set, uncounted. */
static void
telemetry_failed(Plan *self, PyObject *signal)
{
    if (fatal()) {
        return;
    }
    PyErr_Clear();
    PyObject *done = PyObject_CallOneArg(self->telemetry_error, signal);
    if (done == NULL && !fatal()) {
        PyErr_Clear();
    }
    Py_XDECREF(done);
}

/* next(iterator) as the builtin does it: a TypeError, not a crash, for what is no iterator. */
static inline PyObject *
next_of(PyObject *iterator)
{
    if (!PyIter_Check(iterator)) {
        PyErr_Format(PyExc_TypeError, "'%.200s' object is not an iterator",
                     Py_TYPE(iterator)->tp_name);
        return NULL;
    }
    return PyIter_Next(iterator);
}

/* next(counter), its result dropped; 0, or -1 with an error. */
static int
advance(PyObject *counter)
{
    PyObject *value = next_of(counter);
    if (value == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    Py_DECREF(value);
    return 0;
}

/* Borrowed: the queue attribute `name`, read from its instance dict; NULL (no error) if absent. */
static inline PyObject *
field(PyObject *fields, PyObject *name)
{
    return PyDict_GetItemWithError(fields, name);
}

/* Read the queue's _reset_state attributes for `slots` into the plan; 0, 1 if one is missing
 * (the caller then takes the Python method), or -1 with an error. */
static int
cache_queue(Plan *self, PyObject *fields, PyObject *slots)
{
    PyObject *reserve = field(fields, str_reserve);
    PyObject *append = field(fields, str_append_entry);
    PyObject *full = field(fields, str_full);
    PyObject *wake = field(fields, str_wake);
    PyObject *wake_at = field(fields, str_wake_at);
    if (PyErr_Occurred()) {
        return -1;
    }
    if (reserve == NULL || append == NULL || full == NULL || wake == NULL || wake_at == NULL) {
        return 1;
    }
    Py_ssize_t when = PyLong_AsSsize_t(wake_at);
    if (when == -1 && PyErr_Occurred()) {
        return -1;
    }
    Py_XSETREF(self->slots, Py_NewRef(slots));
    Py_XSETREF(self->reserve, Py_NewRef(reserve));
    Py_XSETREF(self->append, Py_NewRef(append));
    Py_XSETREF(self->full, Py_NewRef(full));
    Py_XSETREF(self->wake, Py_NewRef(wake));
    self->wake_at = when;
    return 0;
}

/* CaptureQueue._put_one, step for step (keep the two in step): queue one entry, or count it
 * dropped as queue_full. It uses the attributes the method uses: _detour and _slots read from
 * the queue's __dict__ on every call, the others (set with _slots by _reset_state) cached in
 * the plan. A closed or forked queue (_detour), or one without any of them, takes the method. */
static int
put_one(Plan *self, PyObject *queue, PyObject *entry)
{
    PyObject *fields = PyObject_GenericGetDict(queue, NULL);
    if (fields == NULL) {
        return -1;
    }
    int status = -1;
    PyObject *token = NULL;
    PyObject *detour = field(fields, str_detour);
    PyObject *slots = field(fields, str_slots);
    int missing = PyErr_Occurred() ? -1 : (detour != Py_False || slots == NULL);
    if (!missing && slots != self->slots) {
        missing = cache_queue(self, fields, slots);
    }
    if (missing) {
        if (missing > 0) {
            PyObject *done = PyObject_CallMethodOneArg(queue, str_put_one, entry);
            Py_XDECREF(done);
            status = done == NULL ? -1 : 0;
        }
        goto end;
    }
    int has_slots = PyObject_IsTrue(slots);
    if (has_slots < 0) {
        goto end;
    }
    if (has_slots) {
        token = PyObject_CallNoArgs(self->reserve);
        if (token == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_IndexError)) {
                goto end;
            }
            PyErr_Clear(); /* another thread took the last slot */
        }
    }
    if (token == NULL) {
        status = advance(self->full);
        goto end;
    }
    PyObject *appended = PyObject_CallOneArg(self->append, entry);
    if (appended == NULL) {
        goto end;
    }
    Py_DECREF(appended);
    Py_ssize_t free_slots = PyObject_Size(slots);
    if (free_slots < 0) {
        goto end;
    }
    if (free_slots == self->wake_at) {
        PyObject *done = PyObject_CallMethodNoArgs(self->wake, str_set);
        if (done == NULL) {
            goto end;
        }
        Py_DECREF(done);
    }
    status = 0;
end:
    Py_DECREF(fields);
    Py_XDECREF(token);
    return status;
}

/* The metrics, record and log line of a successful call with a float result; 0, or -1 with an error. */
static int
finish_float(Plan *self, PyObject *result, PyObject *features, PyObject *number, PyObject *start,
             PyObject *cell, double duration)
{
    PyObject *seconds = PyFloat_FromDouble(duration);
    if (seconds == NULL) {
        return -1;
    }
    int failed = append_to(self->durations, seconds) < 0 || append_to(self->values, result) < 0;
    if (failed) {
        Py_DECREF(seconds);
        return -1;
    }
    Py_ssize_t pending = PyObject_Size(self->durations);
    if (pending >= self->fold_at) {
        PyObject *done = PyObject_CallNoArgs(self->fold);
        if (done == NULL) {
            Py_DECREF(seconds);
            return -1;
        }
        Py_DECREF(done);
    }
    else if (pending < 0) {
        Py_DECREF(seconds);
        return -1;
    }
    if (features != NULL) {
        PyObject *done;
        if (self->queue != Py_None) {
            PyObject *entry = PyTuple_Pack(9, self->call_tag, self->model, self->version, self->role,
                                           number, start, Py_None, features, result);
            if (entry != NULL && !PyObject_GC_IsTracked(features)) {
                /* What the collector would find at its next pass: no item is tracked, so the
                 * tuple can be in no cycle. Untracked now, it is never walked. */
                PyObject_GC_UnTrack(entry);
            }
            int queued = entry != NULL ? put_one(self, self->queue, entry) : -1;
            Py_XDECREF(entry);
            done = queued < 0 ? NULL : Py_NewRef(Py_None);
        }
        else {
            PyObject *call_args[8] = {self->model, self->version, self->role, number,
                                      start,       Py_None,       features,   result};
            done = PyObject_Vectorcall(self->submit_call, call_args, 8, NULL);
        }
        if (done == NULL) {
            telemetry_failed(self, str_capture); /* as Python: counted, then the log line */
        }
        Py_XDECREF(done);
    }
    if (!PyErr_Occurred() && self->log_rate > 0.0 && draw(self) < self->log_rate) {
        PyObject *log_args[2] = {cell, seconds};
        PyObject *done = PyObject_Vectorcall(self->log, log_args, 2, NULL);
        if (done == NULL && !fatal()) {
            PyErr_Clear(); /* Binding.log never raises; nothing else to undo */
        }
        Py_XDECREF(done);
    }
    Py_DECREF(seconds);
    return PyErr_Occurred() ? -1 : 0;
}

/* After the call returned: mark the cell done, forget done cells (_context.leave). */
static int
leave(Plan *self, PyObject *cell)
{
    if (PyList_GET_SIZE(cell) != 4) { /* only code reaching into _context.STATE can do this */
        PyErr_SetString(PyExc_IndexError, "driftline: the call's context cell changed size");
        return -1;
    }
    PyObject *prev = PyList_GET_ITEM(cell, 2);
    PyObject *was = PyList_GET_ITEM(cell, 3);
    PyList_SET_ITEM(cell, 3, Py_NewRef(Py_True));
    Py_DECREF(was);
    if (prev == Py_None || !PyList_CheckExact(prev) || PyList_GET_SIZE(prev) != 4 ||
        PyList_GET_ITEM(prev, 3) != Py_True) {
        return 0;
    }
    /* The previous call is done: link to the first call still running before it. */
    PyObject *outer = PyList_GET_ITEM(prev, 2);
    PyObject *running;
    if (outer == Py_None || !PyList_CheckExact(outer) || PyList_GET_SIZE(outer) != 4 ||
        PyList_GET_ITEM(outer, 3) != Py_True) {
        running = Py_NewRef(outer);
    }
    else {
        running = PyObject_CallOneArg(self->running_from, outer);
        if (running == NULL) {
            return -1;
        }
    }
    PyObject *old = PyList_GET_ITEM(cell, 2);
    PyList_SET_ITEM(cell, 2, running);
    Py_DECREF(old);
    return 0;
}

/* The call's positional and keyword arguments as a tuple and a dict, for the Python paths. */
static int
pack(PyObject *const *argv, Py_ssize_t nargs, PyObject *kwnames, PyObject **args, PyObject **kwargs)
{
    *kwargs = NULL;
    *args = PyTuple_New(nargs);
    if (*args == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyTuple_SET_ITEM(*args, i, Py_NewRef(argv[i]));
    }
    *kwargs = PyDict_New();
    if (*kwargs == NULL) {
        Py_CLEAR(*args);
        return -1;
    }
    Py_ssize_t nkw = kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        if (PyDict_SetItem(*kwargs, PyTuple_GET_ITEM(kwnames, i), argv[nargs + i]) < 0) {
            Py_CLEAR(*args);
            Py_CLEAR(*kwargs);
            return -1;
        }
    }
    return 0;
}

/* callback(result_or_exc, args, kwargs, cell, start, *extra): the Python finisher or fail. */
static void
hand_over(Plan *self, PyObject *callback, PyObject *first, PyObject *const *argv,
          Py_ssize_t nargs, PyObject *kwnames, PyObject *cell, PyObject *start, int with_span)
{
    PyObject *args, *kwargs;
    if (pack(argv, nargs, kwnames, &args, &kwargs) < 0) {
        telemetry_failed(self, str_metric);
        return;
    }
    PyObject *call_args[7] = {first, args, kwargs, cell, start, Py_None, Py_None};
    PyObject *done = PyObject_Vectorcall(callback, call_args, with_span ? 7 : 5, NULL);
    Py_DECREF(args);
    Py_DECREF(kwargs);
    if (done == NULL) {
        telemetry_failed(self, str_metric);
    }
    Py_XDECREF(done);
}

/* One whole call of fn with the arguments of a vectorcall, recorded (see the top of this file). */
static PyObject *
run(Plan *self, PyObject *fn, PyObject *const *argv, Py_ssize_t nargs, PyObject *kwnames)
{
    /* Before the call: a failure here leaves the call untouched by telemetry. */
    PyObject *numbers = PyDict_GetItemWithError(self->ids, str_numbers); /* borrowed */
    PyObject *number = numbers != NULL ? next_of(numbers) : NULL;
    if (number == NULL) {
        telemetry_failed(self, str_metric);
        return PyObject_Vectorcall(fn, argv, nargs, kwnames);
    }
    int failed = 0;
    double start_value = clock_now(self, &failed);
    PyObject *started = failed ? NULL : next_of(self->started);
    PyObject *start = started != NULL ? PyFloat_FromDouble(start_value) : NULL;
    PyObject *prev = NULL;
    if (start != NULL && PyContextVar_Get(self->state, Py_None, &prev) < 0) {
        prev = NULL;
    }
    PyObject *cell = prev != NULL ? PyList_New(4) : NULL;
    if (cell == NULL) {
        Py_DECREF(number);
        Py_XDECREF(started);
        Py_XDECREF(start);
        Py_XDECREF(prev);
        telemetry_failed(self, str_metric);
        return PyObject_Vectorcall(fn, argv, nargs, kwnames);
    }
    Py_DECREF(started);
    PyList_SET_ITEM(cell, 0, Py_NewRef(number));
    PyList_SET_ITEM(cell, 1, Py_NewRef(start));
    PyList_SET_ITEM(cell, 2, prev); /* the list takes this reference */
    PyList_SET_ITEM(cell, 3, Py_NewRef(Py_False));
    PyObject *token = PyContextVar_Set(self->state, cell);
    if (token == NULL) {
        PyErr_Clear(); /* the call still runs; its id is not current */
    }
    Py_XDECREF(token);

    PyObject *result = PyObject_Vectorcall(fn, argv, nargs, kwnames);

    if (result == NULL) {
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        PyErr_NormalizeException(&type, &value, &traceback);
        if (traceback != NULL && value != NULL) {
            PyException_SetTraceback(value, traceback);
        }
        hand_over(self, self->fail, value != NULL ? value : Py_None, argv, nargs, kwnames, cell,
                  start, 0);
        PyErr_Restore(type, value, traceback);
    }
    else if (leave(self, cell) < 0) {
        telemetry_failed(self, str_metric);
    }
    else {
        PyObject *features = NULL;
        /* A call that read its own id (cell[0] is then its string) is recorded under that
         * string, as the caller saw it: the Python finisher does that (submit_row). */
        int fast = PyFloat_CheckExact(result) && PyLong_CheckExact(PyList_GET_ITEM(cell, 0));
        if (fast && self->submit_call != Py_None) {
            /* Features elsewhere (a keyword, an object): the Python finisher reads them. */
            fast = self->index < nargs && PyDict_CheckExact(argv[self->index]);
            if (fast && (self->capture_rate >= 1.0 || draw(self) < self->capture_rate)) {
                features = PyDict_Copy(argv[self->index]);
                if (features == NULL && !fatal()) {
                    PyErr_Clear();
                    fast = 0;
                }
            }
        }
        if (PyErr_Occurred()) {
            /* fatal (see fatal), from the draw or the copy: it reaches the caller */
        }
        else if (!fast) {
            hand_over(self, self->finish, result, argv, nargs, kwnames, cell, start, 1);
        }
        else {
            failed = 0;
            double end = clock_now(self, &failed);
            if (failed || finish_float(self, result, features, number, start, cell,
                                       end - start_value) < 0) {
                telemetry_failed(self, str_metric);
            }
        }
        Py_XDECREF(features);
    }
    Py_DECREF(cell);
    Py_DECREF(number);
    Py_DECREF(start);
    if (result != NULL && PyErr_Occurred()) {
        Py_CLEAR(result); /* a fatal error (see fatal) raised by telemetry, as in Python */
    }
    return result;
}

static PyObject *
plan_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {
        "ids",    "started",      "state",        "perf_counter", "random",
        "durations", "values",    "fold_at",      "fold",         "queue",
        "submit_call", "call_tag", "model",       "version",      "role",
        "capture_rate", "index",  "log_rate",     "log",          "finish",
        "fail",   "running_from", "telemetry_error", NULL};
    PyObject *ids, *started, *state, *perf_counter, *random, *durations, *values, *fold, *queue,
        *submit_call, *call_tag, *model, *version, *role, *log, *finish, *fail, *running_from,
        *telemetry_error;
    Py_ssize_t fold_at, index;
    double capture_rate, log_rate;
    if (!PyArg_ParseTupleAndKeywords(
            args, kwds, "|$O!OOOOOOnOOOOOOOdndOOOOO:Plan", keywords, &PyDict_Type, &ids, &started,
            &state, &perf_counter, &random, &durations, &values, &fold_at, &fold, &queue,
            &submit_call, &call_tag, &model, &version, &role, &capture_rate, &index, &log_rate,
            &log, &finish, &fail, &running_from, &telemetry_error)) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(args) != 0 || kwds == NULL || PyDict_GET_SIZE(kwds) != 23) {
        PyErr_SetString(PyExc_TypeError, "Plan takes every one of its 23 keyword arguments");
        return NULL;
    }
    if (!PyContextVar_CheckExact(state)) {
        PyErr_SetString(PyExc_TypeError, "Plan: state must be a ContextVar");
        return NULL;
    }
    if (fold_at < 1 || index < 0) {
        PyErr_SetString(PyExc_ValueError, "Plan: fold_at must be >= 1 and index >= 0");
        return NULL;
    }
    Plan *self = (Plan *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->ids = Py_NewRef(ids);
    self->started = Py_NewRef(started);
    self->state = Py_NewRef(state);
    self->perf_counter = Py_NewRef(perf_counter);
    self->random = Py_NewRef(random);
    self->durations = Py_NewRef(durations);
    self->values = Py_NewRef(values);
    self->fold_at = fold_at;
    self->fold = Py_NewRef(fold);
    self->queue = Py_NewRef(queue);
    self->submit_call = Py_NewRef(submit_call);
    self->call_tag = Py_NewRef(call_tag);
    self->model = Py_NewRef(model);
    self->version = Py_NewRef(version);
    self->role = Py_NewRef(role);
    self->capture_rate = capture_rate;
    self->index = index;
    self->log_rate = log_rate;
    self->log = Py_NewRef(log);
    self->finish = Py_NewRef(finish);
    self->fail = Py_NewRef(fail);
    self->running_from = Py_NewRef(running_from);
    self->telemetry_error = Py_NewRef(telemetry_error);
    return (PyObject *)self;
}

static PyTypeObject PlanType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "driftline._speedups.Plan",
    .tp_doc = PyDoc_STR("Plan(**parts): what a Wrapper needs to run one binding's calls in C; "
                        "see _call.plan_for."),
    .tp_basicsize = sizeof(Plan),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = plan_new,
    .tp_dealloc = (destructor)plan_dealloc,
    .tp_traverse = (traverseproc)plan_traverse,
    .tp_clear = (inquiry)plan_clear,
};

/* Wrapper(fn, monitor, fallback, runtime): the decorated sync function.
 *
 * A call takes the plan of monitor._bound when that binding belongs to the
 * current runtime (runtime is the dict of driftline._runtime) and has one;
 * otherwise it calls fallback, the Python sync_call, with the same arguments.
 * It has a __dict__ (functools.wraps fills it), binds as a method does, and
 * pickles by its qualified name, as a function does.
 */
typedef struct {
    PyObject_HEAD
    PyObject *fn;
    PyObject *monitor;
    PyObject *fallback;
    PyObject *runtime;
    PyObject *dict;
    PyObject *weakrefs;
    vectorcallfunc vectorcall;
} Wrapper;

static PyObject *str_bound;
static PyObject *str_runtime;
static PyObject *str_plan;
static PyObject *str_current;
static PyObject *str_qualname;

static PyObject *
wrapper_vectorcall(PyObject *callable, PyObject *const *argv, size_t nargsf, PyObject *kwnames)
{
    Wrapper *self = (Wrapper *)callable;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *plan = NULL;
    PyObject *bound = PyObject_GetAttr(self->monitor, str_bound);
    if (bound == NULL) {
        PyErr_Clear();
    }
    else {
        if (bound != Py_None) {
            PyObject *current = PyDict_GetItemWithError(self->runtime, str_current); /* borrowed */
            PyObject *runtime = current != NULL ? PyObject_GetAttr(bound, str_runtime) : NULL;
            if (runtime != NULL && runtime == current && current != Py_None) {
                plan = PyObject_GetAttr(bound, str_plan);
            }
            Py_XDECREF(runtime);
            PyErr_Clear();
        }
        Py_DECREF(bound);
    }
    if (plan == NULL || Py_TYPE(plan) != &PlanType) {
        Py_XDECREF(plan);
        return PyObject_Vectorcall(self->fallback, argv, nargs, kwnames);
    }
    PyObject *result = run((Plan *)plan, self->fn, argv, nargs, kwnames);
    Py_DECREF(plan);
    return result;
}

static PyObject *
wrapper_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"fn", "monitor", "fallback", "runtime", NULL};
    PyObject *fn, *monitor, *fallback, *runtime;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOO!:Wrapper", keywords, &fn, &monitor,
                                     &fallback, &PyDict_Type, &runtime)) {
        return NULL;
    }
    Wrapper *self = (Wrapper *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->fn = Py_NewRef(fn);
    self->monitor = Py_NewRef(monitor);
    self->fallback = Py_NewRef(fallback);
    self->runtime = Py_NewRef(runtime);
    self->vectorcall = wrapper_vectorcall;
    return (PyObject *)self;
}

static int
wrapper_traverse(Wrapper *self, visitproc visit, void *arg)
{
    Py_VISIT(self->fn);
    Py_VISIT(self->monitor);
    Py_VISIT(self->fallback);
    Py_VISIT(self->runtime);
    Py_VISIT(self->dict);
    return 0;
}

static int
wrapper_clear(Wrapper *self)
{
    Py_CLEAR(self->fn);
    Py_CLEAR(self->monitor);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->runtime);
    Py_CLEAR(self->dict);
    return 0;
}

static void
wrapper_dealloc(Wrapper *self)
{
    PyObject_GC_UnTrack(self);
    if (self->weakrefs != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    wrapper_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* As a class attribute it binds to the instance, as a function does. */
static PyObject *
wrapper_get(PyObject *self, PyObject *obj, PyObject *type)
{
    if (obj == NULL || obj == Py_None) {
        return Py_NewRef(self);
    }
    return PyMethod_New(self, obj);
}

/* Pickled by reference, as a function is: its module and qualified name. */
static PyObject *
wrapper_reduce(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyObject_GetAttr(self, str_qualname);
}

static PyObject *
wrapper_repr(Wrapper *self)
{
    return PyUnicode_FromFormat("<driftline monitored %R>", self->fn);
}

static PyMethodDef wrapper_methods[] = {
    {"__reduce__", wrapper_reduce, METH_NOARGS, NULL},
    {NULL},
};

static PyGetSetDef wrapper_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL},
};

static PyTypeObject WrapperType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "driftline._speedups.Wrapper",
    .tp_doc = PyDoc_STR("Wrapper(fn, monitor, fallback, runtime): a decorated sync function; see "
                        "_wrappers.wrap."),
    .tp_basicsize = sizeof(Wrapper),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
                Py_TPFLAGS_METHOD_DESCRIPTOR,
    .tp_new = wrapper_new,
    .tp_dealloc = (destructor)wrapper_dealloc,
    .tp_traverse = (traverseproc)wrapper_traverse,
    .tp_clear = (inquiry)wrapper_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Wrapper, vectorcall),
    .tp_descr_get = wrapper_get,
    .tp_dictoffset = offsetof(Wrapper, dict),
    .tp_weaklistoffset = offsetof(Wrapper, weakrefs),
    .tp_methods = wrapper_methods,
    .tp_getset = wrapper_getset,
    .tp_repr = (reprfunc)wrapper_repr,
};

/* The clock the C path reads, for the tests: it must be time.perf_counter's. */
static PyObject *
speedups_perf_counter(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    Plan fallback = {.perf_counter = NULL}; /* clock_now falls back to calling it */
    int failed = 0;
    PyObject *time = PyImport_ImportModule("time");
    if (time == NULL) {
        return NULL;
    }
    fallback.perf_counter = PyObject_GetAttrString(time, "perf_counter");
    Py_DECREF(time);
    if (fallback.perf_counter == NULL) {
        return NULL;
    }
    double now = clock_now(&fallback, &failed);
    Py_XDECREF(fallback.perf_counter);
    if (failed) {
        return NULL;
    }
    return PyFloat_FromDouble(now);
}

static PyMethodDef speedups_functions[] = {
    {"perf_counter", speedups_perf_counter, METH_NOARGS,
     PyDoc_STR("perf_counter() -> float: the clock the C path reads (time.perf_counter's).")},
    {NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_methods = speedups_functions,
    .m_name = "driftline._speedups",
    .m_doc = "The commonest decorated call in C; see _call.plan_for. Optional: without it the "
             "same steps run as Python.",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    str_numbers = PyUnicode_InternFromString("numbers");
    str_metric = PyUnicode_InternFromString("metric");
    str_capture = PyUnicode_InternFromString("capture");
    str_append = PyUnicode_InternFromString("append");
    str_reserve = PyUnicode_InternFromString("_reserve");
    str_append_entry = PyUnicode_InternFromString("_append");
    str_set = PyUnicode_InternFromString("set");
    str_detour = PyUnicode_InternFromString("_detour");
    str_slots = PyUnicode_InternFromString("_slots");
    str_wake_at = PyUnicode_InternFromString("_wake_at");
    str_wake = PyUnicode_InternFromString("_wake");
    str_full = PyUnicode_InternFromString("_full");
    str_put_one = PyUnicode_InternFromString("_put_one");
    str_bound = PyUnicode_InternFromString("_bound");
    str_runtime = PyUnicode_InternFromString("runtime");
    str_plan = PyUnicode_InternFromString("plan");
    str_current = PyUnicode_InternFromString("_current");
    str_qualname = PyUnicode_InternFromString("__qualname__");
    if (str_numbers == NULL || str_metric == NULL || str_capture == NULL || str_append == NULL || str_bound == NULL ||
        str_runtime == NULL || str_plan == NULL || str_current == NULL || str_qualname == NULL ||
        str_reserve == NULL || str_append_entry == NULL || str_set == NULL || str_detour == NULL || str_slots == NULL ||
        str_wake_at == NULL || str_wake == NULL || str_full == NULL ||
        str_put_one == NULL) {
        return NULL;
    }
    if (PyType_Ready(&PendingType) < 0 || PyType_Ready(&PlanType) < 0 ||
        PyType_Ready(&WrapperType) < 0 || PyType_Ready(&IdFormatType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&speedups_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Pending", (PyObject *)&PendingType) < 0 ||
        PyModule_AddObjectRef(module, "Plan", (PyObject *)&PlanType) < 0 ||
        PyModule_AddObjectRef(module, "Wrapper", (PyObject *)&WrapperType) < 0 ||
        PyModule_AddObjectRef(module, "IdFormat", (PyObject *)&IdFormatType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
