/* The cCPayloadSequence of an aggregated iPCC PS-PDU in one call (TS 102 232-1 clause 6.2.3,
 * TS 102 232-3 clause 6.3): the per-packet part of handover.template.CCTemplate's encoder.
 *
 * For items (direction, IP packets, POSIX ns) it writes
 *
 *     a1 L { 30 L { [80 01 dir] a2 L { a2 L { 80 04 <iPCC OID> a1 L { 80 L <packets> } } }
 *                   a3 L { 80 L <seconds> 81 L <microSeconds> } } ... }
 *
 * with definite, minimal lengths and minimal INTEGERs: the octets of CCTemplate's Python
 * path (a property test compares the two). The input is the MF's own items, not received
 * octets. Anything outside the common case (a time stamp of 2^64 ns or more, a packet that is
 * not bytes, a direction that is not one of the given members) raises TypeError or
 * OverflowError, and the caller takes the Python path, which defines the behaviour there.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static const unsigned char IPCC_OID[6] = {0x80, 0x04, 0x05, 0x03, 0x12, 0x02};

/* Octets of the BER definite length of n (X.690 8.1.3, fewest octets). */
static Py_ssize_t
length_size(Py_ssize_t n)
{
    Py_ssize_t size = 1;
    if (n < 0x80)
        return 1;
    for (; n; n >>= 8)
        size++;
    return size;
}

static unsigned char *
put_length(unsigned char *out, Py_ssize_t n)
{
    Py_ssize_t size = length_size(n) - 1, i;
    if (size == 0) {
        *out = (unsigned char)n;
        return out + 1;
    }
    *out++ = (unsigned char)(0x80 | size);
    for (i = size - 1; i >= 0; i--)
        *out++ = (unsigned char)(n >> (8 * i));
    return out;
}

/* Content octets of a non-negative INTEGER (X.690 8.3.2: minimal two's complement). */
static int
integer_size(unsigned long long value)
{
    int bits = 0;
    for (; value; value >>= 1)
        bits++;
    return bits / 8 + 1;
}

static unsigned char *
put_integer(unsigned char *out, unsigned char tag, unsigned long long value)
{
    int size = integer_size(value), i;
    *out++ = tag;
    *out++ = (unsigned char)size;
    for (i = size - 1; i >= 0; i--)
        *out++ = (unsigned char)(i >= 8 ? 0 : value >> (8 * i));
    return out;
}

typedef struct {
    const char *packet;
    Py_ssize_t size;
    int direction; /* -1: none */
    unsigned long long seconds, micro;
    Py_ssize_t x1, ipcc, x3, content;
} Item;

PyDoc_STRVAR(encode_doc,
"encode(items, directions) -> bytes\n\n"
"The cCPayloadSequence [1] element for items, a sequence of (direction, packets, ns) tuples:\n"
"direction None or directions[i] (written as payloadDirection i), packets bytes, ns the\n"
"packet's POSIX time in nanoseconds, 0 <= ns < 2**64. TypeError or OverflowError otherwise.");

static PyObject *
encode(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *seq, *directions, *result = NULL;
    Py_ssize_t n, i, body = 0, ndirections;
    Item *items = NULL;
    unsigned char *out;

    (void)module;
    if (nargs != 2 || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "encode(items, directions: tuple)");
        return NULL;
    }
    directions = args[1];
    ndirections = PyTuple_GET_SIZE(directions);
    seq = PySequence_Fast(args[0], "items must be a sequence");
    if (seq == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(seq);
    if (n == 0 || ndirections > 128) {
        PyErr_SetString(PyExc_ValueError, n ? "at most 128 directions" : "no items");
        goto done;
    }
    items = PyMem_Malloc(sizeof(Item) * (size_t)n);
    if (items == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < n; i++) {
        PyObject *tuple = PySequence_Fast_GET_ITEM(seq, i), *direction, *packet;
        unsigned long long stamp;
        Item *it = &items[i];
        Py_ssize_t chain, stamp_len, d;

        if (!PyTuple_Check(tuple) || PyTuple_GET_SIZE(tuple) != 3) {
            PyErr_SetString(PyExc_TypeError, "an item is a (direction, packets, ns) tuple");
            goto done;
        }
        direction = PyTuple_GET_ITEM(tuple, 0);
        packet = PyTuple_GET_ITEM(tuple, 1);
        if (!PyBytes_Check(packet) || !PyLong_Check(PyTuple_GET_ITEM(tuple, 2))) {
            PyErr_SetString(PyExc_TypeError, "an item's packets are bytes, its time an int");
            goto done;
        }
        stamp = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(tuple, 2));
        if (stamp == (unsigned long long)-1 && PyErr_Occurred())
            goto done; /* negative or >= 2**64: OverflowError */
        it->direction = -1;
        if (direction != Py_None) {
            for (d = 0; d < ndirections; d++)
                if (PyTuple_GET_ITEM(directions, d) == direction)
                    break;
            if (d == ndirections) {
                PyErr_SetString(PyExc_TypeError, "an item's direction is not one of directions");
                goto done;
            }
            it->direction = (int)d;
        }
        it->packet = PyBytes_AS_STRING(packet);
        it->size = PyBytes_GET_SIZE(packet);
        it->seconds = stamp / 1000000000ULL;
        it->micro = stamp % 1000000000ULL / 1000ULL;
        it->x1 = 1 + length_size(it->size) + it->size;      /* iPPackets [0] */
        it->ipcc = 6 + 1 + length_size(it->x1) + it->x1;     /* iPCC: OID, iPCCContents [1] */
        it->x3 = 1 + length_size(it->ipcc) + it->ipcc;       /* iPCC [2] */
        chain = (it->direction < 0 ? 0 : 3) + 1 + length_size(it->x3) + it->x3 - it->size;
        stamp_len = 4 + integer_size(it->seconds) + integer_size(it->micro);
        it->content = chain + it->size + 2 + stamp_len;
        body += 1 + length_size(it->content) + it->content;
        if (body > PY_SSIZE_T_MAX / 2) {
            PyErr_SetString(PyExc_OverflowError, "items too large");
            goto done;
        }
    }
    result = PyBytes_FromStringAndSize(NULL, 1 + length_size(body) + body);
    if (result == NULL)
        goto done;
    out = (unsigned char *)PyBytes_AS_STRING(result);
    *out++ = 0xA1;
    out = put_length(out, body);
    for (i = 0; i < n; i++) {
        Item *it = &items[i];
        *out++ = 0x30;
        out = put_length(out, it->content);
        if (it->direction >= 0) {
            *out++ = 0x80, *out++ = 0x01, *out++ = (unsigned char)it->direction;
        }
        *out++ = 0xA2;
        out = put_length(out, it->x3);
        *out++ = 0xA2;
        out = put_length(out, it->ipcc);
        memcpy(out, IPCC_OID, sizeof IPCC_OID);
        out += sizeof IPCC_OID;
        *out++ = 0xA1;
        out = put_length(out, it->x1);
        *out++ = 0x80;
        out = put_length(out, it->size);
        memcpy(out, it->packet, (size_t)it->size);
        out += it->size;
        *out++ = 0xA3;
        *out++ = (unsigned char)(4 + integer_size(it->seconds) + integer_size(it->micro));
        out = put_integer(out, 0x80, it->seconds);
        out = put_integer(out, 0x81, it->micro);
    }
done:
    PyMem_Free(items);
    Py_DECREF(seq);
    return result;
}

static PyMethodDef methods[] = {
    {"encode", (PyCFunction)(void (*)(void))encode, METH_FASTCALL, encode_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef ccitems_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "lawful_intercept.codec.handover._ccitems",
    .m_doc = PyDoc_STR("Native cCPayloadSequence encoding (see handover.template)."),
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__ccitems(void)
{
    return PyModule_Create(&ccitems_module);
}
