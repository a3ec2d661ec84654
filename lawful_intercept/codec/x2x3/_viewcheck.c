/* The checks of an X2/X3 PDU's view in one call (ETSI TS 103 221-2 clause 5): the fast path
 * of x2x3.decoder.X2X3View.
 *
 * Checker.fields(data, versions, max_header_length, max_payload_length) checks what the
 * view's Python path checks - the fixed header (version, lengths, limits, total size), every
 * conditional attribute's bounds and fixed length, every Timestamp's nanoseconds, the UTF-8
 * of every text attribute (with CPython's own strict decoder) - and returns the view's fields:
 *
 *     ((version, type, header length, payload length, format, direction, xid, correlation),
 *      first Sequence Number's value offset or -1,
 *      ((text attribute type, value offset, value length), ...),
 *      first Timestamp in POSIX nanoseconds or None)
 *
 * It returns None for any PDU it does not pass, good or bad: the Python path then decides,
 * and raises the DecodeError with its offset. Checker.split(...) makes the views of the whole
 * PDUs of a received chunk in one call (the X2/X3 stream reader's fast path), stopping where
 * a PDU is incomplete or not passed; the reader takes it from there. So this file never has to agree with Python on
 * errors, only never to pass what Python refuses; the tests and a fuzz harness compare them.
 * Every read is bounded by the length of the bytes object (received octets: untrusted).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define HEADER_LENGTH 40
#define TYPES 65536
#define NANOSECONDS 1000000000ULL

typedef struct {
    PyObject_HEAD
    unsigned char fixed[TYPES]; /* attribute type -> required value length + 1 (0: any) */
    unsigned char other[TYPES]; /* attribute type -> another allowed length + 1 (0: none) */
    unsigned char text[TYPES];  /* attribute type -> 1 for a UTF-8 text attribute */
    long sequence_type, timestamp_type;
} Checker;

static uint32_t
u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static unsigned
u16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* table[type] = length + 1 for each type -> length of the dict; 0 elsewhere. */
static int
length_table(PyObject *dict, unsigned char *table)
{
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    memset(table, 0, TYPES);
    while (PyDict_Next(dict, &pos, &key, &value)) {
        long type = PyLong_AsLong(key), length = PyLong_AsLong(value);
        if (PyErr_Occurred())
            return -1;
        if (type < 0 || type >= TYPES || length < 0 || length > 254) {
            PyErr_SetString(PyExc_ValueError, "attribute type -> length (0..254)");
            return -1;
        }
        table[type] = (unsigned char)(length + 1);
    }
    return 0;
}

static int
Checker_init(Checker *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"fixed", "other", "texts", "sequence_type", "timestamp_type",
                             NULL};
    PyObject *fixed, *other, *texts, *iterator, *item;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!Oll", kwlist, &PyDict_Type, &fixed,
                                     &PyDict_Type, &other, &texts, &self->sequence_type,
                                     &self->timestamp_type))
        return -1;
    memset(self->text, 0, sizeof self->text);
    if (length_table(fixed, self->fixed) < 0 || length_table(other, self->other) < 0)
        return -1;
    iterator = PyObject_GetIter(texts);
    if (iterator == NULL)
        return -1;
    while ((item = PyIter_Next(iterator)) != NULL) {
        long type = PyLong_AsLong(item);
        Py_DECREF(item);
        if (type < 0 || type >= TYPES) {
            Py_DECREF(iterator);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "texts: attribute types");
            return -1;
        }
        self->text[type] = 1;
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred())
        return -1;
    if (self->sequence_type < 0 || self->sequence_type >= TYPES || self->timestamp_type < 0
        || self->timestamp_type >= TYPES) {
        PyErr_SetString(PyExc_ValueError, "attribute types are 0..65535");
        return -1;
    }
    return 0;
}

/* 1 if every text value decodes as strict UTF-8, 0 if one does not, -1 on another error. */
static int
utf8_ok(const unsigned char *p, Py_ssize_t length)
{
    Py_ssize_t i;
    PyObject *text;
    for (i = 0; i < length && p[i] < 0x80; i++)
        ;
    if (i == length)
        return 1; /* ASCII */
    text = PyUnicode_DecodeUTF8((const char *)p, length, "strict");
    if (text != NULL) {
        Py_DECREF(text);
        return 1;
    }
    if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        return 0;
    }
    return -1;
}

/* The view fields of the PDU that fills p[0:size), Py_None when the Python path must decide,
 * NULL with an exception on another error (memory). */
static PyObject *
check(Checker *self, const unsigned char *p, Py_ssize_t size, PyObject *versions,
      unsigned long max_header, unsigned long max_payload)
{
    Py_ssize_t pos, end, ntexts = 0, i;
    unsigned long header_length, payload_length;
    unsigned version;
    long seq_at = -1, ts_at = -1;
    int contained;
    PyObject *version_object, *texts, *header, *stamp;
    /* (type, offset, length) of the text attributes, up to 64 of them */
    Py_ssize_t found[3 * 64];

    if (size < HEADER_LENGTH)
        Py_RETURN_NONE;
    version = u16(p);
    header_length = u32(p + 4);
    payload_length = u32(p + 8);
    if (header_length < HEADER_LENGTH || header_length > max_header || payload_length > max_payload
        || (unsigned long long)size != (unsigned long long)header_length + payload_length)
        Py_RETURN_NONE;
    version_object = PyLong_FromUnsignedLong(version);
    if (version_object == NULL)
        return NULL;
    contained = PySet_Contains(versions, version_object);
    Py_DECREF(version_object);
    if (contained < 0)
        return NULL;
    if (!contained)
        Py_RETURN_NONE;
    end = (Py_ssize_t)header_length; /* <= size, checked above */
    for (pos = HEADER_LENGTH; pos < end;) {
        unsigned type, length;
        Py_ssize_t start;
        if (end - pos < 4)
            Py_RETURN_NONE;
        type = u16(p + pos);
        length = u16(p + pos + 2);
        start = pos + 4;
        if ((Py_ssize_t)length > end - start)
            Py_RETURN_NONE;
        if (self->fixed[type] && self->fixed[type] != length + 1 && self->other[type] != length + 1)
            Py_RETURN_NONE; /* the Python path: an error, or a value kept raw */
        if ((long)type == self->sequence_type && seq_at < 0)
            seq_at = (long)start;
        else if ((long)type == self->timestamp_type) {
            if (length != 8 || u32(p + start + 4) >= NANOSECONDS)
                Py_RETURN_NONE;
            if (ts_at < 0)
                ts_at = (long)start;
        }
        else if (self->text[type]) {
            int ok = utf8_ok(p + start, (Py_ssize_t)length);
            if (ok < 0)
                return NULL;
            if (!ok || ntexts == 64)
                Py_RETURN_NONE; /* the Python path: an error, or more texts than kept here */
            found[3 * ntexts] = (Py_ssize_t)type;
            found[3 * ntexts + 1] = start;
            found[3 * ntexts + 2] = (Py_ssize_t)length;
            ntexts++;
        }
        pos = start + (Py_ssize_t)length;
    }
    texts = PyTuple_New(ntexts);
    if (texts == NULL)
        return NULL;
    for (i = 0; i < ntexts; i++) {
        PyObject *text = Py_BuildValue("(nnn)", found[3 * i], found[3 * i + 1], found[3 * i + 2]);
        if (text == NULL) {
            Py_DECREF(texts);
            return NULL;
        }
        PyTuple_SET_ITEM(texts, i, text);
    }
    header = Py_BuildValue(
        "(IIkkIIy#K)", version, u16(p + 2), header_length, payload_length, u16(p + 12),
        u16(p + 14), (const char *)p + 16, (Py_ssize_t)16,
        (unsigned long long)u32(p + 32) << 32 | u32(p + 36));
    if (header == NULL) {
        Py_DECREF(texts);
        return NULL;
    }
    if (ts_at < 0) {
        Py_INCREF(Py_None);
        stamp = Py_None;
    }
    else {
        stamp = PyLong_FromUnsignedLongLong((unsigned long long)u32(p + ts_at) * NANOSECONDS
                                            + u32(p + ts_at + 4));
        if (stamp == NULL) {
            Py_DECREF(header);
            Py_DECREF(texts);
            return NULL;
        }
    }
    return Py_BuildValue("(NlNN)", header, seq_at, texts, stamp);
}

/* The limits arguments: 0 with an exception when they are not of the right kinds. */
static int
limits(PyObject *const *args, PyObject **versions, unsigned long *max_header,
       unsigned long *max_payload)
{
    if (!PyAnySet_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "versions must be a set");
        return 0;
    }
    *versions = args[0];
    *max_header = PyLong_AsUnsignedLong(args[1]);
    *max_payload = PyLong_AsUnsignedLong(args[2]);
    return !PyErr_Occurred();
}

PyDoc_STRVAR(fields_doc,
"fields(data, versions, max_header_length, max_payload_length) -> tuple | None\n\n"
"The checked view fields of the X2/X3 PDU that fills the bytes data, or None when the Python\n"
"path must decide (see the C source's doc).");

static PyObject *
Checker_fields(Checker *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *versions;
    unsigned long max_header, max_payload;

    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "fields(data, versions, max_header, max_payload)");
        return NULL;
    }
    if (!limits(args + 1, &versions, &max_header, &max_payload))
        return NULL;
    if (!PyBytes_Check(args[0]))
        Py_RETURN_NONE; /* a bytearray or a view: the Python path */
    return check(self, (const unsigned char *)PyBytes_AS_STRING(args[0]),
                 PyBytes_GET_SIZE(args[0]), versions, max_header, max_payload);
}

static PyObject *SLOTS[6]; /* the view's attribute names, interned at import */
static PyObject *EMPTY;     /* () for a view's _raw: nothing kept raw in a PDU passed here */

PyDoc_STRVAR(split_doc,
"split(data, start, versions, max_header_length, max_payload_length, view) -> (list, int)\n\n"
"Views (instances of the class view, its slots data, _header, _seq_at, _texts, _timestamp\n"
"set from fields(), and _raw to ()) of the whole PDUs of the bytes data from offset start on, up to the first\n"
"PDU that is incomplete or that fields() does not pass; and the offset where they end.");

static PyObject *
Checker_split(Checker *self, PyObject *const *args, Py_ssize_t nargs)
{
    const unsigned char *p;
    Py_ssize_t size, pos, k;
    PyObject *versions, *views, *result;
    PyTypeObject *view_type;
    unsigned long max_header, max_payload;

    if (nargs != 6 || !PyBytes_Check(args[0]) || !PyType_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError, "split(data: bytes, start, versions, max_header, "
                                         "max_payload, view: type)");
        return NULL;
    }
    pos = PyLong_AsSsize_t(args[1]);
    if ((pos == -1 && PyErr_Occurred()) || !limits(args + 2, &versions, &max_header, &max_payload))
        return NULL;
    p = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    size = PyBytes_GET_SIZE(args[0]);
    if (pos < 0 || pos > size) {
        PyErr_SetString(PyExc_ValueError, "start is outside data");
        return NULL;
    }
    view_type = (PyTypeObject *)args[5];
    views = PyList_New(0);
    if (views == NULL)
        return NULL;
    while (size - pos >= HEADER_LENGTH) {
        unsigned long long total = (unsigned long long)u32(p + pos + 4) + u32(p + pos + 8);
        PyObject *fields, *data, *view;
        int failed = 0;
        if (total > (unsigned long long)(size - pos))
            break; /* incomplete (or a bad header, which the Python path reports) */
        fields = check(self, p + pos, (Py_ssize_t)total, versions, max_header, max_payload);
        if (fields == NULL)
            goto error;
        if (fields == Py_None) {
            Py_DECREF(fields);
            break;
        }
        data = PyBytes_FromStringAndSize((const char *)p + pos, (Py_ssize_t)total);
        view = data == NULL ? NULL : view_type->tp_alloc(view_type, 0);
        if (view != NULL) {
            failed = PyObject_SetAttr(view, SLOTS[0], data) < 0;
            for (k = 0; k < 4 && !failed; k++)
                failed = PyObject_SetAttr(view, SLOTS[k + 1], PyTuple_GET_ITEM(fields, k)) < 0;
            failed = failed || PyObject_SetAttr(view, SLOTS[5], EMPTY) < 0;
            failed = failed || PyList_Append(views, view) < 0;
        }
        Py_XDECREF(data);
        Py_DECREF(fields);
        if (view == NULL || failed) {
            Py_XDECREF(view);
            goto error;
        }
        Py_DECREF(view);
        pos += (Py_ssize_t)total;
    }
    result = Py_BuildValue("(Nn)", views, pos);
    return result;
error:
    Py_DECREF(views);
    return NULL;
}

static PyMethodDef Checker_methods[] = {
    {"fields", (PyCFunction)(void (*)(void))Checker_fields, METH_FASTCALL, fields_doc},
    {"split", (PyCFunction)(void (*)(void))Checker_split, METH_FASTCALL, split_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CheckerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lawful_intercept.codec.x2x3._viewcheck.Checker",
    .tp_doc = PyDoc_STR("X2/X3 view checks with the attribute rules given at construction."),
    .tp_basicsize = sizeof(Checker),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Checker_init,
    .tp_methods = Checker_methods,
};

static struct PyModuleDef viewcheck_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "lawful_intercept.codec.x2x3._viewcheck",
    .m_doc = PyDoc_STR("Native X2/X3 view checks (see x2x3.decoder)."),
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__viewcheck(void)
{
    static const char *names[6] = {"data", "_header", "_seq_at", "_texts", "_timestamp", "_raw"};
    PyObject *module;
    int i;
    for (i = 0; i < 6; i++)
        if ((SLOTS[i] = PyUnicode_InternFromString(names[i])) == NULL)
            return NULL;
    if ((EMPTY = PyTuple_New(0)) == NULL)
        return NULL;
    if (PyType_Ready(&CheckerType) < 0)
        return NULL;
    module = PyModule_Create(&viewcheck_module);
    if (module == NULL)
        return NULL;
    Py_INCREF(&CheckerType);
    if (PyModule_AddObject(module, "Checker", (PyObject *)&CheckerType) < 0) {
        Py_DECREF(&CheckerType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
