/* driftline._exchange: one HTTP request and the start of its answer with the GIL released once
 * (optional; see docs/reliability.md#latency-under-faults).
 *
 * The shipper thread gives up the GIL at every socket call. A model's thread that is busy
 * takes it each time, and the shipper then waits up to the interpreter's switch interval
 * (5 ms) to force it back, which stops the model's thread for as long as the shipper then
 * holds it. http.client sends the head and the body of a POST in two calls and reads the
 * answer with a poll and a recv per read: about three such hand-overs per POST. exchange()
 * does the sending, the waiting and the reading in one call without the GIL, so a POST
 * costs the model's thread one hand-over, when the answer is in.
 *
 * What it reads, and how: _http_io.h.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "_http_io.h"

static PyObject *
exchange(PyObject *module, PyObject *args)
{
    int fd;
    Py_buffer request;
    double timeout;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "iy*dn:exchange", &fd, &request, &timeout, &limit)) {
        return NULL;
    }
    if (fd < 0 || !(timeout > 0) || limit < 1) {
        PyBuffer_Release(&request);
        PyErr_SetString(PyExc_ValueError, "exchange: fd >= 0, timeout > 0 and limit >= 1");
        return NULL;
    }
    PyObject *answer = PyBytes_FromStringAndSize(NULL, limit);
    if (answer == NULL) {
        PyBuffer_Release(&request);
        return NULL;
    }
    char *buf = PyBytes_AS_STRING(answer);
    Py_ssize_t got = 0;
    int error;
    Py_BEGIN_ALLOW_THREADS
    error = send_and_read(fd, request.buf, request.len, buf, limit, monotonic() + timeout, &got);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&request);
    if (error) {
        Py_DECREF(answer);
        errno = error;
        return PyErr_SetFromErrno(PyExc_OSError); /* ETIMEDOUT makes a TimeoutError */
    }
    if (_PyBytes_Resize(&answer, got) < 0) {
        return NULL;
    }
    return answer;
}

static PyMethodDef exchange_functions[] = {
    {"exchange", exchange, METH_VARARGS,
     PyDoc_STR("exchange(fd, request, timeout, limit, /) -> bytes: send all of request on the "
               "connected socket fd, then read at most limit bytes of the answer, with the GIL "
               "released throughout; OSError on a socket error, TimeoutError after timeout "
               "seconds in all.")},
    {NULL},
};

static struct PyModuleDef exchange_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "driftline._exchange",
    .m_doc = "One HTTP request and the start of its answer with the GIL released once; see "
             "_transport. Optional: without it the transport uses the socket's own calls.",
    .m_size = -1,
    .m_methods = exchange_functions,
};

PyMODINIT_FUNC
PyInit__exchange(void)
{
    return PyModule_Create(&exchange_module);
}
