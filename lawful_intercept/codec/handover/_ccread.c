/* The LEMF's fast reads of iPCC PS-PDUs (TS 102 232-1 clauses 5.2 and 6.2.3, TS 102 232-3
 * clause 6.3): the fast paths of handover.ccreader.read_cc_items and read_header_fields.
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
 *
 * read_header(data) does the same for the pSHeader of the PS-PDU filling data: LIID, CIN,
 * sequence number, microSecondTimeStamp and where the GeneralizedTime timeStamp lies (the
 * Python path turns its text into a time, with its own checks), or None.
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

/* take() of whatever element is at *pos, its identifier octet in *tag; 0 for a high tag
 * number (several identifier octets: the Python path reads those). */
static int
take_next(const unsigned char *p, Py_ssize_t *pos, Py_ssize_t end, unsigned char *tag,
          Py_ssize_t *at, Py_ssize_t *stop)
{
    if (end - *pos < 2 || (p[*pos] & 0x1F) == 0x1F)
        return 0;
    *tag = p[*pos];
    return take(p, pos, end, *tag, at, stop);
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

/* An INTEGER's content as ccreader's read_unsigned(..., 32) reads it: 1..5 octets, a
 * non-negative value below 2^32. */
static int
u32_value(const unsigned char *p, Py_ssize_t at, Py_ssize_t stop, unsigned long long *value)
{
    return unsigned_value(p, at, stop, 5, value) && *value <= 0xFFFFFFFFULL;
}

/* A microSecondTimeStamp's content { seconds [0], microSeconds [1] } in the usual octets, as
 * POSIX ns; 0 when it is not so (the Python path reads it). */
static int
micro_stamp(const unsigned char *p, Py_ssize_t at, Py_ssize_t stop, unsigned long long *ns)
{
    Py_ssize_t cursor = at, s_at, s_stop, m_at, m_stop;
    unsigned long long seconds, micro;
    if (!take(p, &cursor, stop, 0x80, &s_at, &s_stop) || !take(p, &cursor, stop, 0x81, &m_at, &m_stop)
        || cursor != stop || !unsigned_value(p, s_at, s_stop, 8, &seconds)
        || !unsigned_value(p, m_at, m_stop, 8, &micro) || seconds >= (1ULL << 34) || micro > 999999)
        return 0;
    *ns = seconds * 1000000000ULL + micro * 1000ULL;
    return 1;
}

/* One CCPayload's content [pos, end): its item tuple, Py_None (not this shape) or NULL. */
static PyObject *
cc_payload(const unsigned char *p, Py_ssize_t pos, Py_ssize_t end, PyObject *directions)
{
    Py_ssize_t at, stop, ipcc, ipcc_end, inner, inner_end, packets, packets_end, cursor;
    PyObject *direction = Py_None, *packet, *stamp, *item;

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
        unsigned long long ns;
        if (!take(p, &pos, end, 0xA3, &at, &stop) || pos != end || !micro_stamp(p, at, stop, &ns))
            Py_RETURN_NONE;
        stamp = PyLong_FromUnsignedLongLong(ns);
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

PyDoc_STRVAR(read_header_doc,
"read_header(data) -> (liid, cin, sequence, micro_ns, time_start, time_end) | None\n\n"
"The pSHeader fields of the PS-PDU filling the bytes data: cin and micro_ns None when absent,\n"
"time_start and time_end the GeneralizedTime's content (-1, -1 when absent); None when the\n"
"Python path must decide (see the C source's doc).");

static PyObject *
read_header(PyObject *module, PyObject *data)
{
    const unsigned char *p;
    Py_ssize_t size, pos = 0, at, stop, header, header_end, payload, payload_end;
    Py_ssize_t liid_at = -1, liid_end = -1, time_at = -1, time_end = -1;
    unsigned long long sequence = 0, cin = 0, micro = 0;
    int seen[9] = {0}, has_cin = 0, has_micro = 0;

    (void)module;
    if (!PyBytes_Check(data))
        Py_RETURN_NONE;
    p = (const unsigned char *)PyBytes_AS_STRING(data);
    size = PyBytes_GET_SIZE(data);
    /* PS-PDU ::= SEQUENCE { pSHeader [1], payload [2] }, filling data */
    if (!take(p, &pos, size, 0x30, &at, &stop) || pos != size)
        Py_RETURN_NONE;
    pos = at;
    if (!take(p, &pos, stop, 0xA1, &header, &header_end)
        || !take(p, &pos, stop, 0xA2, &payload, &payload_end) || pos != stop)
        Py_RETURN_NONE;
    for (pos = header; pos < header_end;) {
        unsigned char tag;
        if (!take_next(p, &pos, header_end, &tag, &at, &stop))
            Py_RETURN_NONE;
        if (tag == 0x81 || tag == 0xA3 || tag == 0x84 || tag == 0x85 || tag == 0xA7) {
            if (seen[tag & 0x1F]++)
                Py_RETURN_NONE; /* a field twice: the Python path */
        }
        if (tag == 0x81)
            liid_at = at, liid_end = stop;
        else if (tag == 0xA3) { /* communicationIdentifier: CIN is its [1] */
            Py_ssize_t inner = at, item_at, item_stop;
            while (inner < stop) {
                unsigned char item;
                if (!take_next(p, &inner, stop, &item, &item_at, &item_stop))
                    Py_RETURN_NONE;
                if (item == 0x81) {
                    if (has_cin || !u32_value(p, item_at, item_stop, &cin))
                        Py_RETURN_NONE;
                    has_cin = 1;
                }
            }
        }
        else if (tag == 0x84) {
            if (!u32_value(p, at, stop, &sequence))
                Py_RETURN_NONE;
        }
        else if (tag == 0x85)
            time_at = at, time_end = stop;
        else if (tag == 0xA7) {
            if (!micro_stamp(p, at, stop, &micro))
                Py_RETURN_NONE;
            has_micro = 1;
        }
    }
    if (liid_at < 0 || !seen[4])
        Py_RETURN_NONE; /* no LIID or sequence number: the Python path reports it */
    return Py_BuildValue("(y#NKNnn)", (const char *)p + liid_at, liid_end - liid_at,
                         has_cin ? PyLong_FromUnsignedLongLong(cin) : Py_NewRef(Py_None),
                         sequence,
                         has_micro ? PyLong_FromUnsignedLongLong(micro) : Py_NewRef(Py_None),
                         time_at, time_end);
}

static PyMethodDef methods[] = {
    {"read_header", (PyCFunction)read_header, METH_O, read_header_doc},
    {"read_items", (PyCFunction)(void (*)(void))read_items, METH_FASTCALL, read_items_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef ccread_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "lawful_intercept.codec.handover._ccread",
    .m_doc = PyDoc_STR("Native iPCC cCPayloadSequence reading (see handover.ccreader)."),
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__ccread(void)
{
    return PyModule_Create(&ccread_module);
}
