/* The LEMF's per-packet read of an iPCC cCPayloadSequence in one call (TS 102 232-1 clause
 * 6.2.3, TS 102 232-3 clause 6.3): the fast path of handover.ccreader.read_cc_items.
 *
 * read_items(data, start, end, directions) reads data[start:end] when it is exactly
 *
 *     a1 L { 30 L { [80 01 dir] a2 L { a2 L { 80 L <oid> a1 L { 80 L <packets> } } }
 *                   [a3 L { 80 n <seconds> 81 m <microSeconds> }] } ... }
 *
 * (definite lengths of up to three octets, at least one CCPayload) and returns
 * ((directions[dir] or None, packets, POSIX ns or None), ...). For anything else - another
 * shape, a field out of range, malformed or truncated octets - it returns None and the
 * Python path decides (it reads other shapes and raises DecodeError with the offset). So
 * this file never has to agree with Python on errors, only never to read what Python reads
 * otherwise; tests and a fuzz harness compare the two. The octets are received ones
 * (untrusted): every read is bounded by end, itself bounded by the bytes object.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* The element at *pos, which must end by end and have the identifier octet tag: its content
 * in [*at, *stop); *pos moves past it. 0 when it is not such an element. */
static int
take(const unsigned char *p, Py_ssize_t *pos, Py_ssize_t end, unsigned char tag, Py_ssize_t *at,
     Py_ssize_t *stop)
{
    Py_ssize_t i = *pos, length, octets, k;
    if (end - i < 2 || p[i] != tag)
        return 0;
    length = p[i + 1];
    i += 2;
    if (length >= 0x80) {
        octets = length & 0x7F;
        if (octets < 1 || octets > 3 || end - i < octets)
            return 0;
        for (length = 0, k = 0; k < octets; k++)
            length = length << 8 | p[i + k];
        i += octets;
    }
    if (length > end - i)
        return 0;
    *at = i;
    *stop = i + length;
    *pos = *stop;
    return 1;
}

/* A non-negative INTEGER of 1..size_max content octets whose first octet is below 0x80. */
static int
unsigned_value(const unsigned char *p, Py_ssize_t at, Py_ssize_t stop, Py_ssize_t size_max,
               unsigned long long *value)
{
    Py_ssize_t k;
    if (stop - at < 1 || stop - at > size_max || p[at] >= 0x80)
        return 0;
    for (*value = 0, k = at; k < stop; k++)
        *value = *value << 8 | p[k];
    return 1;
}

/* One CCPayload's content [pos, end): its item tuple, Py_None (not this shape) or NULL. */
static PyObject *
cc_payload(const unsigned char *p, Py_ssize_t pos, Py_ssize_t end, PyObject *directions)
{
    Py_ssize_t at, stop, ipcc, ipcc_end, inner, inner_end, packets, packets_end, cursor;
    PyObject *direction = Py_None, *packet, *stamp, *item;
    unsigned long long seconds, micro;

    if (end - pos >= 3 && p[pos] == 0x80) { /* payloadDirection */
        if (p[pos + 1] != 1 || p[pos + 2] >= PyTuple_GET_SIZE(directions))
            Py_RETURN_NONE;
        direction = PyTuple_GET_ITEM(directions, p[pos + 2]);
        pos += 3;
    }
    /* cCContents [2] holding exactly iPCC [2] { iPCCObjId, iPCCContents [1] { iPPackets } } */
    if (!take(p, &pos, end, 0xA2, &at, &stop))
        Py_RETURN_NONE;
    cursor = at;
    if (!take(p, &cursor, stop, 0xA2, &ipcc, &ipcc_end) || cursor != stop)
        Py_RETURN_NONE;
    cursor = ipcc;
    if (!take(p, &cursor, ipcc_end, 0x80, &inner, &inner_end)
        || !take(p, &cursor, ipcc_end, 0xA1, &inner, &inner_end) || cursor != ipcc_end)
        Py_RETURN_NONE;
    cursor = inner;
    if (!take(p, &cursor, inner_end, 0x80, &packets, &packets_end) || cursor != inner_end)
        Py_RETURN_NONE;
    stamp = Py_None;
    if (pos < end) { /* microSecondTimeStamp [3] { seconds [0], microSeconds [1] } */
        Py_ssize_t s_at, s_stop, m_at, m_stop;
        if (!take(p, &pos, end, 0xA3, &at, &stop) || pos != end)
            Py_RETURN_NONE;
        cursor = at;
        if (!take(p, &cursor, stop, 0x80, &s_at, &s_stop)
            || !take(p, &cursor, stop, 0x81, &m_at, &m_stop) || cursor != stop
            || !unsigned_value(p, s_at, s_stop, 8, &seconds)
            || !unsigned_value(p, m_at, m_stop, 8, &micro) || seconds >= (1ULL << 34)
            || micro > 999999)
            Py_RETURN_NONE;
        stamp = PyLong_FromUnsignedLongLong(seconds * 1000000000ULL + micro * 1000ULL);
        if (stamp == NULL)
            return NULL;
    }
    else
        Py_INCREF(stamp);
    packet = PyBytes_FromStringAndSize((const char *)p + packets, packets_end - packets);
    if (packet == NULL) {
        Py_DECREF(stamp);
        return NULL;
    }
    Py_INCREF(direction);
    item = PyTuple_New(3);
    if (item == NULL) {
        Py_DECREF(direction);
        Py_DECREF(packet);
        Py_DECREF(stamp);
        return NULL;
    }
    PyTuple_SET_ITEM(item, 0, direction);
    PyTuple_SET_ITEM(item, 1, packet);
    PyTuple_SET_ITEM(item, 2, stamp);
    return item;
}

PyDoc_STRVAR(read_items_doc,
"read_items(data, start, end, directions) -> tuple | None\n\n"
"The (direction, packets, ns) of each CCPayload of the cCPayloadSequence filling\n"
"data[start:end], or None when the Python path must decide (see the C source's doc).");

static PyObject *
read_items(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    const unsigned char *p;
    Py_ssize_t start, end, pos, at, stop, count = 0;
    PyObject *data, *directions, *items, *item;

    (void)module;
    if (nargs != 4 || !PyTuple_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "read_items(data, start, end, directions: tuple)");
        return NULL;
    }
    if (!PyBytes_Check(args[0]))
        Py_RETURN_NONE; /* a bytearray or a view: the Python path */
    data = args[0], directions = args[3];
    start = PyLong_AsSsize_t(args[1]);
    end = start == -1 && PyErr_Occurred() ? -1 : PyLong_AsSsize_t(args[2]);
    if (PyErr_Occurred())
        return NULL;
    if (start < 0 || end < start || end > PyBytes_GET_SIZE(data))
        Py_RETURN_NONE;
    p = (const unsigned char *)PyBytes_AS_STRING(data);
    pos = start;
    if (!take(p, &pos, end, 0xA1, &at, &stop) || pos != end || at == stop)
        Py_RETURN_NONE;
    items = PyList_New(0);
    if (items == NULL)
        return NULL;
    for (pos = at; pos < stop; count++) {
        Py_ssize_t item_at, item_stop;
        if (!take(p, &pos, stop, 0x30, &item_at, &item_stop)) {
            Py_DECREF(items);
            Py_RETURN_NONE;
        }
        item = cc_payload(p, item_at, item_stop, directions);
        if (item == NULL || item == Py_None || PyList_Append(items, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(items);
            if (item == Py_None)
                Py_RETURN_NONE;
            return NULL;
        }
        Py_DECREF(item);
    }
    item = PyList_AsTuple(items);
    Py_DECREF(items);
    return item;
}

static PyMethodDef methods[] = {
    {"read_items", (PyCFunction)(void (*)(void))read_items, METH_FASTCALL, read_items_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef ccread_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "lawful_intercept.handover._ccread",
    .m_doc = PyDoc_STR("Native iPCC cCPayloadSequence reading (see handover.ccreader)."),
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__ccread(void)
{
    return PyModule_Create(&ccread_module);
}
