/* driftline._body: the shipper's common body, read under the GIL and written without it
 * (optional; see docs/reliability.md#latency-under-faults).
 *
 * A model's thread that never waits keeps the GIL, so whatever the shipper thread does
 * holding it comes out of some prediction's time: encoding a 500-record body with
 * _wire_fast and orjson holds it for about 1 ms in one piece. encode_batch() reads the same
 * body, plain call and row entries of one (model, version, role) with the same names
 * throughout, into C arrays while it holds the GIL (a fifth to a quarter of that time), then
 * writes the JSON with the GIL released, with yyjson (vendor/yyjson, MIT): the shortest
 * digits of every double that read back as the same double, as Python's repr and orjson
 * choose them (the exponent is spelt its own way: 1e22, 10000000000000000.0).
 *
 * encode_exchange() goes on, still without the GIL, to POST it on the kept-open connection
 * as _exchange.exchange() does (_http_io.h) and, after a whole 2xx answer, to wait for the
 * shipper's next wake-up on its eventfd (_wake.Wake). So the shipper takes the GIL back once
 * per body: when it wakes, to read the answer, count it and take and read the next body.
 *
 * Anything else returns None and takes the Python path, which gives the same document for
 * what this accepts: a columns entry, a name or a value of any type but the exact str,
 * int (within 64 bits), float (finite), bool and None, a column mixing floats with other
 * types, a record whose names differ from the first record's.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "_http_io.h"
#include "vendor/yyjson/yyjson.h"

#define FIELDS 9 /* _wire.Entry */
#define ROW 0
#define CALL (-1)

/* What a read returns: done, give the body to the Python path, or an exception is set. */
#define READ_OK 0
#define READ_OTHER 1
#define READ_ERROR (-1)

typedef struct {
    const char *p; /* NULL: JSON null */
    Py_ssize_t n;
} Text;

enum { CELL_NULL, CELL_FALSE, CELL_TRUE, CELL_INT, CELL_FLOAT, CELL_STR };

typedef struct {
    int kind;
    union {
        double f;
        long long i;
        Text s;
    } v;
} Cell;

/* One side of a record (features or predictions): its names and its cells, by column. */
typedef struct {
    Py_ssize_t width;
    PyObject **keys; /* the first record's names, held in Body.held */
    Text *names;
    Cell *cells; /* cells[column * rows + row] */
    int *floats; /* per column: 1 once a float is in it, 2 once anything else is, 3: both */
} Side;

typedef struct {
    Py_ssize_t rows;
    Text service, model, version, role;
    PyObject *key[3]; /* the first entry's model, version and role */
    double sent_at;
    Text *ids;
    double *timestamps;
    Text *traces;
    Side features, outputs;
    PyObject *held; /* a list of every object whose text is read without the GIL */
} Body;

static const Text VALUE = {"value", 5};

/* The UTF-8 of an exact str (kept alive by whoever holds it). */
static int
read_text(PyObject *object, Text *text)
{
    if (!PyUnicode_CheckExact(object)) {
        return READ_OTHER;
    }
    text->p = PyUnicode_AsUTF8AndSize(object, &text->n);
    if (text->p == NULL) { /* a lone surrogate: the Python path counts the record */
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            return READ_ERROR;
        }
        PyErr_Clear();
        return READ_OTHER;
    }
    return READ_OK;
}

/* read_text for an object that may be freed while the GIL is released: it is held too. */
static int
read_held_text(Body *body, PyObject *object, Text *text)
{
    int read = read_text(object, text);
    if (read == READ_OK && PyList_Append(body->held, object) < 0) {
        return READ_ERROR;
    }
    return read;
}

/* Two exact strs with the same text: what a dict lookup compares, without the calls. */
static inline int
same_text(PyObject *a, PyObject *b)
{
    if (a == b) {
        return 1;
    }
    if (!PyUnicode_CheckExact(a) || !PyUnicode_CheckExact(b)) {
        return 0;
    }
    Py_hash_t ha = ((PyASCIIObject *)a)->hash, hb = ((PyASCIIObject *)b)->hash;
    if (ha != -1 && hb != -1 && ha != hb) { /* a dict's keys have theirs computed */
        return 0;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(a);
    int kind = PyUnicode_KIND(a);
    return length == PyUnicode_GET_LENGTH(b) && kind == PyUnicode_KIND(b) &&
           memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)(length * kind)) == 0;
}

static int
read_cell(Body *body, PyObject *value, Cell *cell, int *seen)
{
    if (PyFloat_CheckExact(value)) {
        cell->kind = CELL_FLOAT;
        cell->v.f = PyFloat_AS_DOUBLE(value);
        *seen |= 1;
        return isfinite(cell->v.f) ? READ_OK : READ_OTHER;
    }
    *seen |= 2;
    if (value == Py_None) {
        cell->kind = CELL_NULL;
    }
    else if (value == Py_True || value == Py_False) {
        cell->kind = value == Py_True ? CELL_TRUE : CELL_FALSE;
    }
    else if (PyLong_CheckExact(value)) {
        int overflow;
        cell->kind = CELL_INT;
        cell->v.i = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow) { /* beyond 64 bits: the standard library's json writes it */
            return READ_OTHER;
        }
        if (cell->v.i == -1 && PyErr_Occurred()) {
            return READ_ERROR;
        }
    }
    else {
        cell->kind = CELL_STR;
        return read_held_text(body, value, &cell->v.s);
    }
    return READ_OK;
}

/* Room for `width` columns of the body's rows, no float seen in any yet. */
static int
new_side(Body *body, Side *side, Py_ssize_t width)
{
    Py_ssize_t room = width > 0 ? width : 1;
    side->width = width;
    if (room > PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(Cell) / body->rows) {
        PyErr_NoMemory();
        return READ_ERROR;
    }
    side->keys = PyMem_New(PyObject *, room);
    side->names = PyMem_New(Text, room);
    side->floats = PyMem_Calloc((size_t)room, sizeof(int));
    side->cells = PyMem_New(Cell, room * body->rows);
    if (!side->keys || !side->names || !side->floats || !side->cells) {
        PyErr_NoMemory();
        return READ_ERROR;
    }
    return READ_OK;
}

/* The first record's names: every key of the dict, held, in its order. */
static int
read_names(Body *body, Side *side, PyObject *record)
{
    if (!PyDict_CheckExact(record)) {
        return READ_OTHER;
    }
    if (new_side(body, side, PyDict_GET_SIZE(record)) != READ_OK) {
        return READ_ERROR;
    }
    Py_ssize_t position = 0, column = 0;
    PyObject *key, *value;
    while (PyDict_Next(record, &position, &key, &value)) {
        int read = read_held_text(body, key, &side->names[column]);
        if (read != READ_OK) {
            return read;
        }
        side->keys[column] = key;
        column++;
    }
    return READ_OK;
}

/* One record's values, by the first record's names, into row `row` of the side's columns. */
static int
read_record(Body *body, Side *side, PyObject *record, Py_ssize_t row)
{
    if (!PyDict_CheckExact(record) || PyDict_GET_SIZE(record) != side->width) {
        return READ_OTHER;
    }
    Py_ssize_t position = 0, column = 0;
    PyObject *key, *value;
    int read;
    /* Records built by the same code have their names in the same order: one pass, and a
     * lookup by name for the columns after the first name out of order. */
    while (PyDict_Next(record, &position, &key, &value) && same_text(key, side->keys[column])) {
        read = read_cell(body, value, &side->cells[column * body->rows + row],
                         &side->floats[column]);
        if (read != READ_OK) {
            return read;
        }
        column++;
    }
    for (; column < side->width; column++) {
        value = PyDict_GetItemWithError(record, side->keys[column]);
        if (value == NULL) { /* as many names as the first record, but not the same */
            return PyErr_Occurred() ? READ_ERROR : READ_OTHER;
        }
        read = read_cell(body, value, &side->cells[column * body->rows + row],
                         &side->floats[column]);
        if (read != READ_OK) {
            return read;
        }
    }
    return READ_OK;
}

static PyObject *VALUE_NAME; /* "value": a call's bare float prediction is {"value": x} */

/* A call's bare float prediction, as the one-name record {"value": x}. */
static int
read_bare_output(Body *body, PyObject *prediction, Py_ssize_t row)
{
    Side *side = &body->outputs;
    if (row == 0) {
        if (new_side(body, side, 1) != READ_OK) {
            return READ_ERROR;
        }
        side->keys[0] = VALUE_NAME;
        side->names[0] = VALUE;
    }
    else if (side->width != 1 || !same_text(side->keys[0], VALUE_NAME)) {
        return READ_OTHER;
    }
    return read_cell(body, prediction, &side->cells[row], &side->floats[0]);
}

static int
read_side(Body *body, Side *side, PyObject *record, Py_ssize_t row)
{
    if (row == 0) {
        int read = read_names(body, side, record);
        if (read != READ_OK) {
            return read;
        }
    }
    return read_record(body, side, record, row);
}

/* One entry, row `row` of the body: (kind, model, version, role, id or number, start or
 * timestamp, trace id, features, predictions), as _wire.Entry. */
static int
read_entry(Body *body, PyObject *entry, Py_ssize_t row, double wall, double perf,
           PyObject *format_id)
{
    if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != FIELDS) {
        return READ_OTHER;
    }
    PyObject **item = &PyTuple_GET_ITEM(entry, 0);
    if (!PyLong_CheckExact(item[0])) {
        return READ_OTHER;
    }
    int overflow;
    long kind = PyLong_AsLongAndOverflow(item[0], &overflow);
    if (kind == -1 && PyErr_Occurred()) {
        return READ_ERROR;
    }
    if (overflow || (kind != CALL && kind != ROW)) { /* a columns entry, or no entry at all */
        return READ_OTHER;
    }
    Text *names[3] = {&body->model, &body->version, &body->role};
    for (int i = 0; i < 3; i++) {
        if (row == 0) {
            int read = read_text(item[1 + i], names[i]);
            if (read != READ_OK) {
                return read;
            }
            body->key[i] = item[1 + i];
        }
        else if (!same_text(item[1 + i], body->key[i])) {
            return READ_OTHER;
        }
    }
    if (!PyFloat_CheckExact(item[5])) {
        return READ_OTHER;
    }
    double start = PyFloat_AS_DOUBLE(item[5]);
    int read;
    if (kind == CALL) { /* the id's number and the perf_counter reading at the call's start */
        if (!PyLong_CheckExact(item[4])) {
            return READ_OTHER;
        }
        PyObject *id = PyObject_Vectorcall(format_id, &item[4], 2, NULL);
        if (id == NULL) {
            return READ_ERROR;
        }
        read = read_held_text(body, id, &body->ids[row]);
        Py_DECREF(id);
        body->timestamps[row] = wall - (perf - start);
    }
    else {
        read = read_text(item[4], &body->ids[row]);
        body->timestamps[row] = start;
    }
    if (read != READ_OK) {
        return read;
    }
    if (!isfinite(body->timestamps[row])) {
        return READ_OTHER;
    }
    if (item[6] == Py_None) {
        body->traces[row].p = NULL;
    }
    else if ((read = read_text(item[6], &body->traces[row])) != READ_OK) {
        return read;
    }
    if ((read = read_side(body, &body->features, item[7], row)) != READ_OK) {
        return read;
    }
    if (kind == CALL && PyFloat_CheckExact(item[8])) {
        return read_bare_output(body, item[8], row);
    }
    return read_side(body, &body->outputs, item[8], row);
}

/* A column is all floats, or no floats: the Python path's rule (_wire_fast._column_ok). */
static int
columns_plain(const Side *side)
{
    for (Py_ssize_t column = 0; column < side->width; column++) {
        if (side->floats[column] == 3) {
            return 0;
        }
    }
    return 1;
}

/* ---- writing, without the GIL ---------------------------------------------------------- */

static yyjson_mut_val *
text_value(yyjson_mut_doc *doc, Text text)
{
    return text.p == NULL ? yyjson_mut_null(doc) : yyjson_mut_strn(doc, text.p, (size_t)text.n);
}

static yyjson_mut_val *
cell_value(yyjson_mut_doc *doc, const Cell *cell)
{
    switch (cell->kind) {
    case CELL_FALSE:
        return yyjson_mut_false(doc);
    case CELL_TRUE:
        return yyjson_mut_true(doc);
    case CELL_INT:
        return yyjson_mut_sint(doc, (int64_t)cell->v.i);
    case CELL_FLOAT:
        return yyjson_mut_real(doc, cell->v.f);
    case CELL_STR:
        return text_value(doc, cell->v.s);
    default:
        return yyjson_mut_null(doc);
    }
}

/* Every add is checked: yyjson leaves out what it cannot allocate and says so only there. */
static int
add_side(yyjson_mut_doc *doc, yyjson_mut_val *batch, const char *key, const Side *side,
         Py_ssize_t rows)
{
    yyjson_mut_val *object = yyjson_mut_obj_add_obj(doc, batch, key);
    if (object == NULL) {
        return 0;
    }
    for (Py_ssize_t column = 0; column < side->width; column++) {
        yyjson_mut_val *name = text_value(doc, side->names[column]);
        yyjson_mut_val *values = yyjson_mut_arr(doc);
        if (!yyjson_mut_obj_add(object, name, values)) {
            return 0;
        }
        const Cell *cells = &side->cells[column * rows];
        for (Py_ssize_t row = 0; row < rows; row++) {
            if (!yyjson_mut_arr_append(values, cell_value(doc, &cells[row]))) {
                return 0;
            }
        }
    }
    return 1;
}

static int
add_text(yyjson_mut_doc *doc, yyjson_mut_val *object, const char *key, Text text)
{
    return yyjson_mut_obj_add_strn(doc, object, key, text.p, (size_t)text.n);
}

/* The protocol-v1 document of `body`, as _wire.encode writes it; NULL when out of memory. */
static char *
write_body(const Body *body, size_t *length)
{
    yyjson_mut_doc *doc = yyjson_mut_doc_new(NULL);
    if (doc == NULL) {
        return NULL;
    }
    char *json = NULL;
    Py_ssize_t rows = body->rows;
    yyjson_mut_val *root = yyjson_mut_obj(doc);
    yyjson_mut_val *batches, *batch, *ids, *timestamps, *traces;
    if (root == NULL) {
        goto done;
    }
    yyjson_mut_doc_set_root(doc, root);
    if (!yyjson_mut_obj_add_int(doc, root, "v", 1) ||
        !yyjson_mut_obj_add_real(doc, root, "sent_at", body->sent_at) ||
        !add_text(doc, root, "service", body->service) ||
        (batches = yyjson_mut_obj_add_arr(doc, root, "batches")) == NULL ||
        (batch = yyjson_mut_arr_add_obj(doc, batches)) == NULL ||
        !add_text(doc, batch, "model", body->model) ||
        !add_text(doc, batch, "version", body->version) ||
        !add_text(doc, batch, "role", body->role) ||
        (ids = yyjson_mut_obj_add_arr(doc, batch, "ids")) == NULL ||
        (timestamps = yyjson_mut_obj_add_arr(doc, batch, "timestamps")) == NULL ||
        (traces = yyjson_mut_obj_add_arr(doc, batch, "trace_ids")) == NULL) {
        goto done;
    }
    for (Py_ssize_t row = 0; row < rows; row++) {
        if (!yyjson_mut_arr_append(ids, text_value(doc, body->ids[row])) ||
            !yyjson_mut_arr_add_real(doc, timestamps, body->timestamps[row]) ||
            !yyjson_mut_arr_append(traces, text_value(doc, body->traces[row]))) {
            goto done;
        }
    }
    if (add_side(doc, batch, "features", &body->features, rows) &&
        add_side(doc, batch, "predictions", &body->outputs, rows)) {
        json = yyjson_mut_write(doc, 0, length);
    }
done:
    yyjson_mut_doc_free(doc);
    return json;
}

/* ---- the functions --------------------------------------------------------------------- */

static void
free_side(Side *side)
{
    PyMem_Free(side->keys);
    PyMem_Free(side->names);
    PyMem_Free(side->cells);
    PyMem_Free(side->floats);
}

static void
free_body(Body *body)
{
    free_side(&body->features);
    free_side(&body->outputs);
    PyMem_Free(body->ids);
    PyMem_Free(body->timestamps);
    PyMem_Free(body->traces);
    Py_XDECREF(body->held);
}

/* Read `entries` (a list or tuple) into `body`, zeroed by the caller; free_body() after, in
 * every case. */
static int
read_body(Body *body, PyObject *service, double sent_at, PyObject *entries, double wall,
          double perf, PyObject *format_id)
{
    body->rows = PySequence_Fast_GET_SIZE(entries);
    body->sent_at = sent_at;
    body->held = PyList_New(0);
    body->ids = PyMem_New(Text, body->rows);
    body->timestamps = PyMem_New(double, body->rows);
    body->traces = PyMem_New(Text, body->rows);
    if (body->held == NULL || !body->ids || !body->timestamps || !body->traces) {
        PyErr_NoMemory();
        return READ_ERROR;
    }
    if (body->rows == 0 || !isfinite(sent_at)) {
        return READ_OTHER;
    }
    int read = read_text(service, &body->service);
    PyObject **items = PySequence_Fast_ITEMS(entries);
    for (Py_ssize_t row = 0; row < body->rows && read == READ_OK; row++) {
        read = read_entry(body, items[row], row, wall, perf, format_id);
    }
    if (read == READ_OK && !(columns_plain(&body->features) && columns_plain(&body->outputs))) {
        return READ_OTHER;
    }
    return read;
}

static PyObject *
encode_batch(PyObject *module, PyObject *args)
{
    PyObject *service, *sequence, *format_id;
    double sent_at, wall, perf;
    if (!PyArg_ParseTuple(args, "UdOddO:encode_batch", &service, &sent_at, &sequence, &wall,
                          &perf, &format_id)) {
        return NULL;
    }
    PyObject *entries = PySequence_Fast(sequence, "encode_batch: entries must be a sequence");
    if (entries == NULL) {
        return NULL;
    }
    Body body = {0};
    PyObject *result = NULL;
    int read = read_body(&body, service, sent_at, entries, wall, perf, format_id);
    if (read == READ_OK) {
        char *json;
        size_t length = 0;
        Py_BEGIN_ALLOW_THREADS
        json = write_body(&body, &length);
        Py_END_ALLOW_THREADS
        if (json == NULL) {
            PyErr_NoMemory();
        }
        else {
            result = PyBytes_FromStringAndSize(json, (Py_ssize_t)length);
            free(json); /* yyjson's default allocator is malloc */
        }
    }
    free_body(&body);
    Py_DECREF(entries);
    if (read == READ_OTHER) {
        Py_RETURN_NONE;
    }
    return result;
}

/* The request: `head` (every line but the Content-Length), that line, and the JSON of `body`;
 * NULL when out of memory. *json_at is where the JSON starts. */
static char *
write_request(const Body *body, const char *head, size_t head_size, size_t *size,
              size_t *json_at)
{
    size_t length = 0;
    char *json = write_body(body, &length);
    if (json == NULL) {
        return NULL;
    }
    char line[64];
    int line_size = snprintf(line, sizeof line, "Content-Length: %zu\r\n\r\n", length);
    char *request = malloc(head_size + (size_t)line_size + length);
    if (request != NULL) {
        memcpy(request, head, head_size);
        memcpy(request + head_size, line, (size_t)line_size);
        memcpy(request + head_size + (size_t)line_size, json, length);
        *json_at = head_size + (size_t)line_size;
        *size = *json_at + length;
    }
    free(json);
    return request;
}

/* True when the `got` bytes of `buf` are one whole 2xx answer, its end known from its head:
 * nothing is left to read or to retry. */
static int
whole_success(const char *buf, Py_ssize_t got)
{
    int framed;
    const char *end = memmem(buf, (size_t)got, "\r\n\r\n", 4);
    if (end == NULL || answer_length(buf, got, &framed) != got || !framed) {
        return 0;
    }
    int status = answer_status(buf, end);
    return status >= 200 && status < 300;
}

static PyObject *
encode_exchange(PyObject *module, PyObject *args)
{
    PyObject *service, *sequence, *format_id;
    double sent_at, wall, perf, timeout;
    int fd;
    Py_buffer head;
    Py_ssize_t limit;
    int wake = -1;
    double linger = 0.0;
    if (!PyArg_ParseTuple(args, "UdOddOiy*dn|id:encode_exchange", &service, &sent_at,
                          &sequence, &wall, &perf, &format_id, &fd, &head, &timeout, &limit,
                          &wake, &linger)) {
        return NULL;
    }
    if (fd < 0 || !(timeout > 0) || limit < 1) {
        PyBuffer_Release(&head);
        PyErr_SetString(PyExc_ValueError, "encode_exchange: fd >= 0, timeout > 0, limit >= 1");
        return NULL;
    }
    double called = monotonic();
    PyObject *entries = PySequence_Fast(sequence, "encode_exchange: entries must be a sequence");
    if (entries == NULL) {
        PyBuffer_Release(&head);
        return NULL;
    }
    Body body = {0};
    PyObject *result = NULL, *answer = NULL, *payload = NULL;
    int read = read_body(&body, service, sent_at, entries, wall, perf, format_id);
    if (read == READ_OK && (answer = PyBytes_FromStringAndSize(NULL, limit)) == NULL) {
        read = READ_ERROR;
    }
    if (read == READ_OK) {
        char *request;
        size_t size = 0, json_at = 0;
        Py_ssize_t got = 0;
        int error = 0;
        double ready = 0.0; /* seconds from the call to the first byte sent */
        double lingered = -1.0;
        char *buf = PyBytes_AS_STRING(answer);
        Py_BEGIN_ALLOW_THREADS
        request = write_request(&body, head.buf, (size_t)head.len, &size, &json_at);
        if (request != NULL) {
            double sending = monotonic();
            ready = sending - called;
            error = send_and_read(fd, request, (Py_ssize_t)size, buf, limit, sending + timeout,
                                  &got);
            if (error == 0 && wake >= 0 && linger > 0 && whole_success(buf, got)) {
                double answered = monotonic();
                (void)wait_for(wake, POLLIN, answered + linger); /* woken, or the time is up */
                lingered = monotonic() - answered;
            }
        }
        Py_END_ALLOW_THREADS
        if (request == NULL) {
            PyErr_NoMemory();
        }
        else {
            payload = PyBytes_FromStringAndSize(request + json_at, (Py_ssize_t)(size - json_at));
            free(request);
            if (payload != NULL && _PyBytes_Resize(&answer, got) == 0) {
                result = Py_BuildValue("(NOidd)", payload, answer, error, ready, lingered);
                payload = NULL; /* Py_BuildValue took it, or freed it on failure */
            }
        }
    }
    Py_XDECREF(payload);
    Py_XDECREF(answer);
    free_body(&body);
    Py_DECREF(entries);
    PyBuffer_Release(&head);
    if (read == READ_OTHER) {
        Py_RETURN_NONE;
    }
    return result;
}

static PyMethodDef body_functions[] = {
    {"encode_batch", encode_batch, METH_VARARGS,
     PyDoc_STR("encode_batch(service, sent_at, entries, wall, perf, format_id, /) -> bytes | "
               "None: the protocol-v1 JSON document of entries, one batch, or None when the "
               "Python path must encode them (_wire.encode); the JSON is written with the GIL "
               "released. wall and perf are time.time() and time.perf_counter() read "
               "together; format_id(number, start) formats a call entry's id.")},
    {"encode_exchange", encode_exchange, METH_VARARGS,
     PyDoc_STR("encode_exchange(service, sent_at, entries, wall, perf, format_id, fd, head, "
               "timeout, limit, wake=-1, linger=0.0, /) -> (bytes, bytes, int, float, float) | "
               "None: encode_batch's document, sent as the body of the request head + "
               "Content-Length on the connected socket fd, and at most limit bytes of the "
               "answer read, all in one release of the GIL, as _exchange.exchange does. When "
               "the answer is a whole 2xx one and wake is a file descriptor, it then waits, "
               "still without the GIL, until wake is readable or linger seconds pass. Returns "
               "(the JSON, the answer's start, 0 or the errno of a socket error or ETIMEDOUT, "
               "the seconds from the call to the sending, the seconds waited on wake or -1.0 "
               "when it did not wait), or None as encode_batch.")},
    {NULL},
};

static struct PyModuleDef body_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "driftline._body",
    .m_doc = "The shipper's common body, read under the GIL and written without it; see "
             "_wire.encode. Optional: without it the body is encoded in Python.",
    .m_size = -1,
    .m_methods = body_functions,
};

PyMODINIT_FUNC
PyInit__body(void)
{
    VALUE_NAME = PyUnicode_InternFromString("value");
    if (VALUE_NAME == NULL) {
        return NULL;
    }
    return PyModule_Create(&body_module);
}
